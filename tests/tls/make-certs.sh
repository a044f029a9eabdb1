#!/usr/bin/env bash
# Regenerates the test PKI of tests/test_tls.c (and, given a directory, a
# throwaway one for the integration tests and benchmarks):
#   ca.pem                        test CA (EC P-256), valid 50 years
#   server.pem server.key         for DNS:localhost and DNS:esme.test,
#                                 signed by ca, valid 50 years
#   other-ca.pem                  an unrelated CA (the "unknown CA" case)
#   expired.pem                   server.key's certificate for localhost,
#                                 signed by ca, valid 2000-01-01..2001-01-01
#   wrong-name.pem                server.key's certificate for DNS:esme.example
#                                 only, signed by ca, valid 50 years
# 50 years so the checked-in copies do not rot; the expired one has a fixed
# window in the past. The CA keys are thrown away. Needs openssl.
#   tests/tls/make-certs.sh [DIR]     (default: this script's directory)
set -euo pipefail
dir=${1:-$(dirname "$0")}
mkdir -p "$dir"
cd "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
days=18263 # 50 years

ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() {  # name subject
	ec_key "$1.key"
	openssl req -x509 -new -key "$1.key" -sha256 -days $days -subj "$2" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" -out "$1.pem"
}

ca ca "/CN=esmeload test CA"
ca other-ca "/CN=esmeload other CA"

ec_key server.key
openssl req -new -key server.key -subj "/CN=localhost" -out "$work/server.csr"
cat > "$work/ext.cnf" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,DNS:esme.test
EXT
openssl x509 -req -in "$work/server.csr" -CA ca.pem -CAkey ca.key \
	-set_serial 0x$(openssl rand -hex 8) -days $days -sha256 \
	-extfile "$work/ext.cnf" -out server.pem 2>/dev/null

# The same key, signed by the same CA, for another name only.
sed 's/^subjectAltName=.*/subjectAltName=DNS:esme.example/' "$work/ext.cnf" > "$work/ext2.cnf"
openssl x509 -req -in "$work/server.csr" -CA ca.pem -CAkey ca.key \
	-set_serial 0x$(openssl rand -hex 8) -days $days -sha256 \
	-extfile "$work/ext2.cnf" -out wrong-name.pem 2>/dev/null

# A validity window in the past needs `openssl ca` (x509 -req starts now).
mkdir -p "$work/db"
: > "$work/db/index.txt"
cat > "$work/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
database = $work/db/index.txt
new_certs_dir = $work/db
serial = $work/db/serial
default_md = sha256
policy = any
copy_extensions = none
x509_extensions = ext
unique_subject = no
[any]
commonName = supplied
[ext]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,DNS:esme.test
CNF
openssl rand -hex 8 > "$work/db/serial"
openssl ca -batch -config "$work/ca.cnf" -cert ca.pem -keyfile ca.key \
	-startdate 20000101000000Z -enddate 20010101000000Z -notext \
	-in "$work/server.csr" -out expired.pem 2>/dev/null
# The CA keys served their purpose; nothing signs with them again.
rm -f ca.key other-ca.key
echo "make-certs.sh: wrote ca, other-ca, server, expired, wrong-name into $dir" >&2
