#!/usr/bin/env bash
# esmeload run over https:// and wss:// through a real TLS terminator
# (nginx in front of `esmeload serve`, tests/integration/tls_env.sh), with a
# throwaway CA from tests/tls/make-certs.sh:
#   - the scenario over TLS: messages delivered, no errors, handshakes
#     counted and resumed, the cross-check (serve's /stats fetched over the
#     messenger's wss URL, so over TLS) passes
#   - unknown CA, wrong host name, expired certificate, a plain-HTTP port, a
#     server that never answers the handshake: each stops the run at once
#     (long before its --duration) with one line on stderr naming the cause
#   - --insecure connects to the unknown CA anyway; the summary says so
# Prints one PASS/FAIL/SKIP line per case; SKIPs when nginx is missing
# (Debian package nginx-light).
set -u
cd "$(dirname "$0")/../.."
ESMELOAD=${ESMELOAD:-$PWD/build/esmeload}
. tests/integration/tls_env.sh

if [ -z "$(tls_nginx)" ] || ! command -v openssl >/dev/null; then
	echo "SKIP test_tls.sh (needs nginx and openssl: apt-get install nginx-light openssl)"
	exit 0
fi
dir=$(mktemp -d /tmp/esme-tls.XXXXXX)
SILENT_PID=
cleanup() {
	tls_env_down
	[ -n "$SILENT_PID" ] && kill "$SILENT_PID" 2>/dev/null && wait "$SILENT_PID" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
if ! tls_env_up "$dir" "$ESMELOAD"; then
	echo "FAIL test_tls.sh.setup (nginx or serve did not start)"
	exit 1
fi

pass() { echo "PASS test_tls.sh.$1"; }
fail() { echo "FAIL test_tls.sh.$1: $2"; }

# run NAME CONFIG ARGS...: runs esmeload into $dir/NAME; sets RC, ERR
# (stderr), MS (wall time in ms) and SUMMARY (the summary file).
run() {
	local name=$1 cfg=$2 t0 t1
	shift 2
	mkdir -p "$dir/$name"
	t0=$(date +%s%N)
	timeout 120 "$ESMELOAD" run --config "$cfg" --out-dir "$dir/$name" --quiet \
		"$@" >"$dir/$name/stdout" 2>"$dir/$name/stderr" </dev/null
	RC=$?
	t1=$(date +%s%N)
	MS=$(( (t1 - t0) / 1000000 ))
	ERR=$(cat "$dir/$name/stderr")
	SUMMARY=$(ls "$dir/$name"/*_performance_test_summary.json 2>/dev/null | head -n 1)
}

# jq-less: a Python expression over the summary's "esmeload" object `e`;
# the summary is first checked against docs/summary.schema.json (a summary
# that breaks it prints the reason instead of the value).
summary() {
	/usr/bin/python3 -c 'import sys; sys.dont_write_bytecode = True; sys.path.insert(0, "tests/integration"); import esme
try:
    e = esme.load_summary(sys.argv[1])["esmeload"]
except esme.Fail as x:
    sys.exit(str(x))
print(eval(sys.argv[2]))' "$SUMMARY" "$1" 2>&1
}

# --- the scenario over TLS ---
run ok "$TLS_CFG" --cacert "$dir/ca.pem" -sci 50 -cpi 50 -smi 100 --duration 3s
if [ $RC -ne 0 ] || [ -z "$SUMMARY" ]; then
	fail scenario "exit $RC: $ERR"
else
	got=$(summary '"%d %d %d %d %d %s %s" % (e["sent"], e["delivered"], sum(e["errors"].values()), e["tls"]["handshakes"], e["tls"]["resumed"], e["tls"]["insecure"], (e["cross_check"] or {}).get("passed"))')
	read -r sent delivered errors hs resumed insecure cross <<<"$got"
	# Messages sent in the last moments are still in flight at the stop;
	# the cross-check (serve's own count of what it received) is exact.
	if [ "$sent" -gt 50 ] && [ $((delivered * 100)) -ge $((sent * 95)) ] &&
	   [ "$delivered" -le "$sent" ] && [ "$errors" -eq 0 ] &&
	   [ "$hs" -ge 3 ] && [ "$resumed" -ge 1 ] && [ "$insecure" = False ] &&
	   [ "$cross" = True ]; then
		pass scenario
	else
		fail scenario "sent $sent delivered $delivered errors $errors handshakes $hs resumed $resumed insecure $insecure cross_check $cross"
	fi
fi

# --- failures: one line naming the cause, the run stopped by it ---
# (its --duration, 60 s, is a safety net; 50 s leaves a busy machine room)
expect_fail() {  # name words config args...
	local name=$1 words=$2 cfg=$3
	shift 3
	run "$name" "$cfg" --cacert "$dir/ca.pem" -sci 100 -cpi 100 -smi 100 --duration 60s "$@"
	local lines
	lines=$(grep -c '^esmeload: ' <<<"$ERR")
	if [ $RC -ne 1 ]; then
		fail "$name" "exit $RC (want 1): $ERR"
	elif ! grep -q -- "$words" <<<"$ERR"; then
		fail "$name" "stderr lacks \"$words\": $ERR"
	elif [ "$lines" -ne 1 ]; then
		fail "$name" "want one error line, got $lines: $ERR"
	elif [ "$MS" -gt 50000 ]; then
		fail "$name" "took ${MS} ms: not stopped by the failure (--duration 60s): $ERR"
	else
		echo "# $name (${MS} ms): $ERR"
		pass "$name"
	fi
}

tls_config "$dir/unknown-ca.json" localhost "$T_ORG" "$T_PART" "$T_MSG"
expect_fail unknown_ca "unknown CA" "$dir/unknown-ca.json" --cacert "$dir/other-ca.pem"

tls_config "$dir/wrong-name.json" localhost "$T_WRONGNAME" "$T_WRONGNAME" "$T_MSG"
expect_fail wrong_host "host name mismatch" "$dir/wrong-name.json"

tls_config "$dir/expired.json" localhost "$T_EXPIRED" "$T_EXPIRED" "$T_MSG"
expect_fail expired "certificate expired" "$dir/expired.json"

# https:// at serve's own plain-HTTP port.
tls_config "$dir/plain.json" localhost "$P_ORG" "$P_PART" "$T_MSG"
expect_fail plain_tcp "not TLS" "$dir/plain.json"

# A server that accepts and never says a word: the handshake deadline.
read -r silent_port < <(_free_ports 1)
/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
held = []
while True:
    c, _ = s.accept(); held.append(c)
' "$silent_port" &
SILENT_PID=$!
for i in $(seq 600); do   # until it listens (30 s at most)
	(exec 3<>"/dev/tcp/127.0.0.1/$silent_port") 2>/dev/null && break
	sleep 0.05
done
tls_config "$dir/silent.json" localhost "$silent_port" "$silent_port" "$T_MSG"
expect_fail silent "TLS handshake: no answer within 1s" "$dir/silent.json" --connect-timeout 1s

# An IP address cannot be verified: refused at start, with the way out.
tls_config "$dir/ip.json" 127.0.0.1 "$T_ORG" "$T_PART" "$T_MSG"
run ip_host "$dir/ip.json" --cacert "$dir/ca.pem" --duration 2s
if [ $RC -eq 2 ] && grep -q "IP address" <<<"$ERR" && grep -q -- "--insecure" <<<"$ERR"; then
	pass ip_host_refused
else
	fail ip_host_refused "exit $RC: $ERR"
fi

# A --cacert that holds no certificate.
echo "not a certificate" >"$dir/junk.pem"
run junk_ca "$TLS_CFG" --cacert "$dir/junk.pem" --duration 2s
if [ $RC -eq 2 ] && grep -q "junk.pem" <<<"$ERR" && grep -q "no certificate" <<<"$ERR"; then
	pass cacert_without_certificates
else
	fail cacert_without_certificates "exit $RC: $ERR"
fi

# --- --insecure: the unknown CA (and an IP address) connect anyway ---
tls_config "$dir/insecure.json" 127.0.0.1 "$T_ORG" "$T_PART" "$T_MSG"
run insecure "$dir/insecure.json" --insecure --cacert "$dir/other-ca.pem" \
	-sci 50 -cpi 50 -smi 100 --duration 2s
if [ $RC -ne 0 ] || [ -z "$SUMMARY" ]; then
	fail insecure "exit $RC: $ERR"
else
	# serve's counters include the runs before: the cross-check is not
	# expected to pass, only to have fetched /stats over TLS.
	got=$(summary '"%d %d %s %s" % (e["delivered"], sum(e["errors"].values()), e["tls"]["insecure"], e["server"] is not None)')
	read -r delivered errors insecure cross <<<"$got"
	if [ "$delivered" -gt 0 ] && [ "$errors" -eq 0 ] && [ "$insecure" = True ] &&
	   [ "$cross" = True ]; then
		pass insecure
	else
		fail insecure "delivered $delivered errors $errors insecure $insecure stats over TLS $cross"
	fi
fi

# Plain targets say "tls": null.
run plain "$SERVE_CFG" -sci 50 -cpi 50 -smi 100 --duration 1s
if [ $RC -eq 0 ] && [ "$(summary 'e["tls"]')" = None ]; then
	pass plain_has_no_tls_object
else
	fail plain_has_no_tls_object "exit $RC: $ERR"
fi
