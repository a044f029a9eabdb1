# Sourced by tests/integration/test_tls.sh and bench/tls.sh: a throwaway PKI
# (tests/tls/make-certs.sh), `esmeload serve` on free loopback ports, and
# nginx in front of it terminating TLS for all three ports (WebSocket
# upgrade proxied, session-ID cache on), plus extra TLS ports that present
# a wrong-name and an expired certificate.
#
#   tls_env_up DIR ESMELOAD     sets SERVE_CFG (plain config.json),
#                               TLS_CFG (https/wss config.json),
#                               P_ORG P_PART P_MSG (serve's plain ports),
#                               T_ORG T_PART T_MSG T_WRONGNAME T_EXPIRED
#                               (nginx's TLS ports), U_ORG U_PART U_MSG (the
#                               same without a session cache: no resumption),
#                               N_ORG N_PART N_MSG (nginx's plain-HTTP ports,
#                               for runs through the proxy without TLS);
#                               returns non-zero with a line on stderr when
#                               something did not start
#   tls_env_down                stops what tls_env_up started
#   tls_nginx                   the nginx binary, or empty when not installed
#
# Needs nginx (Debian package nginx-light, or nginx) and openssl.

tls_nginx() {
	command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true
}

_free_ports() {  # n: n free TCP ports on 127.0.0.1, one per line
	/usr/bin/python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
PY
}

_json_port() {  # key file: the port of a URL in config.json
	/usr/bin/python3 -c 'import json,sys,re; print(re.search(r":(\d+)", json.load(open(sys.argv[2]))[sys.argv[1]].split("//",1)[1]).group(1))' "$1" "$2"
}

tls_env_up() {
	local dir=$1 bin=$2 nginx i
	nginx=$(tls_nginx)
	TLS_DIR=$dir
	SERVE_PID= NGINX_PID=
	"$(dirname "${BASH_SOURCE[0]}")/../tls/make-certs.sh" "$dir" 2>/dev/null || {
		echo "tls_env: make-certs.sh failed" >&2; return 1; }
	${SERVE_PREFIX:-} "$bin" serve --host 127.0.0.1 --organizer-port 0 --participant-port 0 \
		--messenger-port 0 --write-config "$dir/serve.json" --quiet \
		${SERVE_ARGS:-} >"$dir/serve.out" 2>&1 &
	SERVE_PID=$!
	# Polled, 30 s at most: a busy machine may be slow to start them.
	for i in $(seq 600); do [ -s "$dir/serve.json" ] && break; sleep 0.05; done
	[ -s "$dir/serve.json" ] || { echo "tls_env: serve did not start" >&2; return 1; }
	SERVE_CFG=$dir/serve.json
	P_ORG=$(_json_port organizer_api_url "$SERVE_CFG")
	P_PART=$(_json_port participant_api_url "$SERVE_CFG")
	P_MSG=$(_json_port messenger_ws_url "$SERVE_CFG")
	read -r T_ORG T_PART T_MSG T_WRONGNAME T_EXPIRED U_ORG U_PART U_MSG \
		N_ORG N_PART N_MSG < <(_free_ports 11 | tr '\n' ' '; echo)
	mkdir -p "$dir/nginx"
	local blocks="" name port up cert tls
	for name in org:$T_ORG:$P_ORG:server part:$T_PART:$P_PART:server \
		    msg:$T_MSG:$P_MSG:server wrongname:$T_WRONGNAME:$P_PART:wrong-name \
		    expired:$T_EXPIRED:$P_PART:expired nocache:$U_ORG:$P_ORG:server \
		    nocache:$U_PART:$P_PART:server nocache:$U_MSG:$P_MSG:server \
		    plain:$N_ORG:$P_ORG: plain:$N_PART:$P_PART: plain:$N_MSG:$P_MSG:; do
		IFS=: read -r kind port up cert <<<"$name"
		case $kind in
		plain) tls="listen 127.0.0.1:$port;" ;;
		nocache) tls="listen 127.0.0.1:$port ssl;
		ssl_certificate $dir/$cert.pem;
		ssl_certificate_key $dir/server.key;
		ssl_session_cache off;
		ssl_session_tickets off;" ;;
		*) tls="listen 127.0.0.1:$port ssl;
		ssl_certificate $dir/$cert.pem;
		ssl_certificate_key $dir/server.key;" ;;
		esac
		blocks+="
	server {
		$tls
		location / {
			proxy_pass http://127.0.0.1:$up;
			proxy_http_version 1.1;
			proxy_set_header Host \$host;
			proxy_set_header Upgrade \$http_upgrade;
			proxy_set_header Connection \$connection_upgrade;
			proxy_read_timeout 1h;
			proxy_send_timeout 1h;
		}
	}"
	done
	cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 16384; }
http {
	access_log off;
	client_body_temp_path $dir/nginx/body;
	proxy_temp_path $dir/nginx/proxy;
	fastcgi_temp_path $dir/nginx/fastcgi;
	uwsgi_temp_path $dir/nginx/uwsgi;
	scgi_temp_path $dir/nginx/scgi;
	keepalive_requests 100000;
	# Session IDs, the resumption BearSSL speaks (it has no tickets).
	ssl_session_cache shared:tls_env:4m;
	ssl_protocols TLSv1.2 TLSv1.3;
	map \$http_upgrade \$connection_upgrade {
		default upgrade;
		'' '';
	}
$blocks
}
CONF
	${NGINX_PREFIX:-} "$nginx" -e "$dir/nginx/error.log" -c "$dir/nginx.conf" \
		-p "$dir/nginx" >"$dir/nginx.out" 2>&1 &
	NGINX_PID=$!
	for i in $(seq 600); do
		(exec 3<>"/dev/tcp/127.0.0.1/$T_EXPIRED") 2>/dev/null && break
		sleep 0.05
	done
	(exec 3<>"/dev/tcp/127.0.0.1/$T_EXPIRED") 2>/dev/null || {
		echo "tls_env: nginx did not start: $(tail -n 3 "$dir/nginx.out" "$dir/nginx/error.log" 2>/dev/null | tr '\n' ' ')" >&2
		return 1; }
	TLS_CFG=$dir/tls.json
	tls_config "$TLS_CFG" localhost "$T_ORG" "$T_PART" "$T_MSG"
}

tls_config() {  # file host org-port part-port msg-port [scheme-http scheme-ws]
	cat >"$1" <<JSON
{"event_id": 1, "organizer_email": "jan@kowalski.com", "organizer_password": "&Y+sFaS{&d>8ycO)FLhF41qiQk{IYEb?",
 "organizer_api_url": "${6:-https}://$2:$3", "participant_api_url": "${6:-https}://$2:$4",
 "messenger_ws_url": "${7:-wss}://$2:$5"}
JSON
}

tls_env_down() {
	[ -n "${NGINX_PID:-}" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
	[ -n "${SERVE_PID:-}" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
	NGINX_PID= SERVE_PID=
	return 0
}
