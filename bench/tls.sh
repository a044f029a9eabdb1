#!/usr/bin/env bash
# What TLS costs the tester: the same load through nginx (in front of
# `esmeload serve`, tests/integration/tls_env.sh) once over plain HTTP/ws,
# once over https/wss with session resumption (nginx's session-ID cache),
# once over https/wss without it (full handshakes only).
#
#   bench/tls.sh                    3 repetitions, results to stdout
#   REPS=5 OUT=bench/TLS_RESULTS.md bench/tls.sh
#
# Two loads, each repeated REPS times, the three transports alternating
# within a repetition (drift on a shared machine hits all three):
#   handshakes  -cpi 2 (500 new participants/s), 1500 participants: each
#               opens its own wss connection, so one TLS handshake each;
#               reports handshakes/s reached and tester CPU per handshake
#               (the TLS run's CPU per participant minus the plain one's)
#   messages    100 participants at -smi 50 (2,000 messages/s) for 10 s;
#               reports tester CPU per message sent, and nginx's
# Tester CPU is the child's rusage (utime + stime); nginx's is read from
# /proc before and after. serve and nginx share CPU 0, the tester runs on
# CPU 1 (taskset), when there are two CPUs. Before the loads,
# bench/tls_handshake.c measures the client's CPU per handshake in process
# (full, resumed, full without verification), REPS times.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
REPS=${REPS:-3}
ESMELOAD=${ESMELOAD:-$top/build/esmeload}
[ -x "$ESMELOAD" ] || make -s build/esmeload
. tests/integration/tls_env.sh
[ -n "$(tls_nginx)" ] || { echo "tls.sh: needs nginx (apt-get install nginx-light)" >&2; exit 1; }
if [ "$(nproc)" -ge 2 ]; then
	SERVE_PREFIX="taskset -c 0" NGINX_PREFIX="taskset -c 0" TESTER="taskset -c 1"
else
	SERVE_PREFIX= NGINX_PREFIX= TESTER=
fi
export SERVE_PREFIX NGINX_PREFIX
tmp=$(mktemp -d /tmp/esme-tlsbench.XXXXXX)
trap 'tls_env_down; rm -rf "$tmp"' EXIT
SERVE_ARGS="--max-conns 20000" tls_env_up "$tmp" "$ESMELOAD"

tls_config "$tmp/plain.json" localhost "$N_ORG" "$N_PART" "$N_MSG" http ws
tls_config "$tmp/tls.json" localhost "$T_ORG" "$T_PART" "$T_MSG"
tls_config "$tmp/full.json" localhost "$U_ORG" "$U_PART" "$U_MSG"

# One run: prints "tester_cpu_s nginx_cpu_s sent handshakes resumed
# participants errors wall_s".
one() {  # config args...
	local cfg=$1
	shift
	local out
	out=$(mktemp -d "$tmp/run.XXXX")
	/usr/bin/python3 - "$NGINX_PID" "$out" "$cfg" "$ESMELOAD" ${TESTER:+$TESTER} -- "$@" <<'PY'
import glob, json, os, subprocess, sys, time
nginx, out, cfg, esmeload = sys.argv[1:5]
rest = sys.argv[5:]
sep = rest.index("--")
prefix, args = rest[:sep], rest[sep + 1:]
tck = os.sysconf("SC_CLK_TCK")
def ncpu():
    f = open("/proc/%s/stat" % nginx).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tck
n0, t0 = ncpu(), time.monotonic()
p = subprocess.Popen(prefix + [esmeload, "run", "--config", cfg, "--out-dir", out,
                      "--quiet", "--cacert", os.path.join(os.path.dirname(cfg), "ca.pem")]
                     + args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=open(os.path.join(out, "stderr"), "w"))
_, status, ru = os.wait4(p.pid, 0)
wall = time.monotonic() - t0
n1 = ncpu()
s = json.load(open(glob.glob(out + "/*_summary.json")[0]))
e = s["esmeload"]
tls = e["tls"] or {"handshakes": 0, "resumed": 0}
print("%.4f %.4f %d %d %d %d %d %.3f" % (ru.ru_utime + ru.ru_stime, n1 - n0, e["sent"],
      tls["handshakes"], tls["resumed"], s["created_participants_count"],
      sum(e["errors"].values()), wall))
PY
}

results=$tmp/results
: >"$results"
make -s build/obj/tls.o
mkdir -p build/bench
cc -Iinclude -I/usr/include/bearssl -D_GNU_SOURCE -std=gnu11 -Wall -Wextra \
	-Werror -O2 -o build/bench/tls_handshake bench/tls_handshake.c \
	build/obj/tls.o -lbearssl
for rep in $(seq "$REPS"); do
	${TESTER:-} build/bench/tls_handshake 300 | tee -a "$tmp/micro" >&2
done
for rep in $(seq "$REPS"); do
	for mode in plain tls full; do
		echo "handshakes $mode $(one "$tmp/$mode.json" -sci 1 -cpi 2 -smi 1000 \
			--max-participants 1500 --duration 5s --max-conns 4000)" >>"$results"
		echo "messages $mode $(one "$tmp/$mode.json" -sci 1 -cpi 10 -smi 50 \
			--max-participants 100 --duration 10s)" >>"$results"
		tail -n 2 "$results" >&2
	done
done

/usr/bin/python3 - "$results" "$REPS" "$tmp/micro" <<'PY' | tee "$tmp/report.md"
import statistics, sys, subprocess, platform, datetime
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
def pick(load, mode):
    return [list(map(float, r[2:])) for r in rows if r[0] == load and r[1] == mode]
med = statistics.median
def fmt(vals, f="%.1f"):
    return f % med(vals) + " (" + ", ".join(f % v for v in vals) + ")"
cpu = open("/proc/cpuinfo").read()
model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("model name")), "?")
print("## TLS: what it costs the tester (bench/tls.sh)\n")
print("- date: %s" % datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"))
print("- machine: %s, %d CPUs, Linux %s; nginx %s; BearSSL 0.6 (Debian)" % (model,
      __import__("os").cpu_count(), platform.release(),
      subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip().split("/")[-1]))
print("- command: `bench/tls.sh` (REPS=%s); values: median (each run)" % sys.argv[2])
print("- certificate: EC P-256 (ECDHE-ECDSA-AES128-GCM-SHA256); nginx 1 worker, serve and nginx on CPU 0, esmeload on CPU 1\n")
print("### One handshake, in process (bench/tls_handshake.c, 300 each, client side only)\n")
print("| kind | tester CPU µs per handshake | of which tls_init | handshakes per CPU-second |")
print("|---|---|---|---|")
micro = [l.split() for l in open(sys.argv[3]) if "us per handshake" in l]
for kind in ("full, verified", "resumed", "full, --insecure"):
    v = [l for l in open(sys.argv[3]) if l.startswith(kind)]
    us = [float(l.split(kind)[1].split()[0]) for l in v]
    ini = [float(l.split("tls_init")[1].split()[0]) for l in v]
    print("| %s | %s | %s | %s |" % (kind, fmt(us, "%.0f"), fmt(ini, "%.0f"),
          fmt([1e6 / u for u in us], "%.0f")))
print("\n### Handshakes: 1,500 participants offered at 500/s, one wss connection each\n")
print("| transport | participants | handshakes | resumed | participants (= wss handshakes)/s reached | tester CPU s | extra tester CPU µs per participant (over plain) |")
print("|---|---|---|---|---|---|---|")
plain = pick("handshakes", "plain")
pp = [r[0] / max(r[5], 1) for r in plain]  # CPU s per participant, plain
for mode, name in (("plain", "plain http/ws via nginx"), ("tls", "https/wss, resumption"), ("full", "https/wss, full handshakes")):
    v = pick("handshakes", mode)
    hs = [r[3] for r in v]; res = [r[4] for r in v]
    # Arrivals span 3 s when all 1,500 came at the offered 500/s, else
    # the whole 5 s run: the rate the tester reached.
    rate = [r[5] / (3.0 if r[5] >= 1500 else 5.0) for r in v]
    cpus = [r[0] for r in v]
    per = [((r[0] / max(r[5], 1)) - med(pp)) * 1e6 for r in v] if mode != "plain" else None
    print("| %s | %s | %s | %s | %s | %s | %s |" % (name, fmt([r[5] for r in v], "%.0f"), fmt(hs, "%.0f"), fmt(res, "%.0f"),
          fmt(rate, "%.0f"), fmt(cpus, "%.3f"), fmt(per, "%.0f") if per else "-"))
print("\n### Messages: 100 participants at -smi 50 (2,000 messages/s), 10 s\n")
print("| transport | sent | tester CPU µs per message | nginx CPU µs per message | errors |")
print("|---|---|---|---|---|")
for mode, name in (("plain", "plain http/ws via nginx"), ("tls", "https/wss, resumption"), ("full", "https/wss, full handshakes")):
    v = pick("messages", mode)
    print("| %s | %s | %s | %s | %s |" % (name, fmt([r[2] for r in v], "%.0f"),
          fmt([r[0] / max(r[2], 1) * 1e6 for r in v]),
          fmt([r[1] / max(r[2], 1) * 1e6 for r in v]),
          fmt([r[6] for r in v], "%.0f")))
PY
if [ -n "${OUT:-}" ]; then
	cp "$tmp/report.md" "$OUT"
	echo "tls.sh: wrote $OUT" >&2
fi
