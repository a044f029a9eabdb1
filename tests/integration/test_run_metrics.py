#!/usr/bin/python3
"""esmeload run --metrics-listen: the run's live figures for Prometheus.

scraped_during_and_after: a run against serve with --metrics-listen
  127.0.0.1:0 and --metrics-linger: scrapes while it runs say running 1,
  in the text format (another path is 404; each family HELP then TYPE,
  counters and only counters end in _total, every sample of a declared
  family), counters
  never go back; once the summary is written, a scrape says running 0 and
  every figure equals the summary's: participants, chats, sent,
  delivered, organizer copies, each error kind, the latency and time to
  chat quantiles and their counts and sums, and messages_unechoed is the
  summary's in flight + lost; a signal ends the linger, exit 0.
unechoed_moves: against a serve that holds every user_message 2 s,
  messages_unechoed rises above 0 while the run goes.
off_by_default: without the flag the run holds no listening socket (and
  with it, one: the check can fire); nothing about metrics on stderr.
bad_listen: a value that is not HOST:PORT, and a port in use: exit 2, one
  line naming --metrics-listen, no files.
"""

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.dont_write_bytecode = True   # keep the tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esme  # noqa: E402
from esme import check, check_eq  # noqa: E402

SAMPLE = re.compile(r"^([a-z_:][a-z0-9_:]*)(\{[^}]*\})? (\S+)$")


def start(srv, extra, d):
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(srv.config, f)
    return subprocess.Popen([esme.ESMELOAD, "run", "--quiet", "--threads", "1", "-sci", "10",
                             "-cpi", "20", "-smi", "50", "--max-participants", "8",
                             "--duration", "3s"] + list(extra),
                            cwd=d, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def metrics_url(p, timeout=30):
    """The address the run prints on stderr."""
    buf, end = b"", time.monotonic() + timeout
    while time.monotonic() < end:
        r, _, _ = select.select([p.stderr], [], [], 0.5)
        if r:
            chunk = os.read(p.stderr.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            m = re.search(rb"esmeload: metrics (http://\S+/metrics)\n", buf)
            if m:
                return m.group(1).decode()
    raise esme.Fail("no metrics address on stderr: %r" % buf)


def scrape(url):
    with urllib.request.urlopen(url, timeout=20) as r:
        check_eq(r.status, 200, "GET /metrics status")
        check(r.headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"),
              "Content-Type %r" % r.headers.get("Content-Type"))
        return r.read().decode()


def parse(text):
    """{(name, labels): value}; checks the format on the way."""
    fams, out, declared = {}, {}, None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("# HELP "):
            name = line.split()[2]
            check(i + 1 < len(lines) and lines[i + 1].startswith("# TYPE %s " % name),
                  "HELP %s without its TYPE next" % name)
            declared = name
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split()
            check(name == declared, "TYPE %s without HELP" % name)
            check(typ in ("counter", "gauge", "summary"), "type %s" % typ)
            check(name.endswith("_total") == (typ == "counter"),
                  "%s is a %s: _total is for counters and only them" % (name, typ))
            fams[name] = typ
            continue
        m = SAMPLE.match(line)
        check(m, "not a sample line: %r" % line)
        name = m.group(1)
        base = re.sub(r"_(sum|count)$", "", name) if name not in fams else name
        check(base in fams, "sample %s of no declared family" % name)
        out[(name, m.group(2) or "")] = float(m.group(3))
    return out


def quantiles(v, name):
    return [v[(name, '{quantile="%s"}' % q)] for q in ("0.5", "0.9", "0.99", "0.999", "1")]


async def run(r):
    srv = esme.Server("--quiet").start()
    try:
        def during_and_after():
            d = tempfile.mkdtemp(prefix="esme-metrics-")
            p = start(srv, ["--metrics-listen", "127.0.0.1:0", "--metrics-linger", "60s"], d)
            try:
                url = metrics_url(p)
                check(url.startswith("http://127.0.0.1:"), "bound address %s" % url)
                try:
                    urllib.request.urlopen(url.replace("/metrics", "/nope"), timeout=20)
                    raise esme.Fail("GET /nope answered 200")
                except urllib.error.HTTPError as e:
                    check_eq(e.code, 404, "GET /nope")
                names = lambda: [n for n in os.listdir(d) if n.endswith("_performance_test_summary.json")]
                seen, prev = [], None
                while not names():
                    v = parse(scrape(url))
                    if v[("esmeload_run_running", "")] == 1:
                        seen.append(v)
                    if prev:
                        for k in prev:
                            if k[0].endswith("_total"):
                                check(v[k] >= prev[k], "%s went back: %s then %s" % (k, prev[k], v[k]))
                    prev = v
                    check(p.poll() is None, "the run exited during its linger")
                    time.sleep(0.2)
                check(seen, "no scrape while the run went")
                check(any(s[("esmeload_run_messages_sent_total", "")] > 0 for s in seen),
                      "no messages counted while the run went")
                s = esme.load_summary(os.path.join(d, names()[0]))
                e = s["esmeload"]
                v = parse(scrape(url))
                check_eq(v[("esmeload_run_running", "")], 0, "running after the run")
                for metric, want in (("participants_created_total", s["created_participants_count"]),
                                     ("chats_total", s["chats_count"]),
                                     ("participants_connected_total", e["connected"]),
                                     ("participants_failed_total", e["participants_failed"]),
                                     ("messages_sent_total", e["sent"]),
                                     ("messages_delivered_total", e["delivered"]),
                                     ("messages_organizer_received_total", e["organizer_received"])):
                    check_eq(v[("esmeload_run_" + metric, "")], want, metric)
                check_eq(v[("esmeload_run_messages_unechoed", "")], e["in_flight"] + e["lost"],
                         "unechoed against in flight + lost")
                for kind, n in e["errors"].items():
                    check_eq(v[("esmeload_run_errors_total", '{kind="%s"}' % kind)], n, "errors %s" % kind)
                for metric, key, hist in (("latency_seconds", "latency_ms", "latency"),
                                          ("latency_actual_seconds", "latency_actual_ms", "latency_actual"),
                                          ("time_to_chat_seconds", "time_to_chat_ms", "time_to_chat"),
                                          ("arrival_lag_seconds", "arrival_lag_ms", "arrival_lag")):
                    got = quantiles(v, "esmeload_run_" + metric)
                    want = [e[key][q] for q in ("p50", "p90", "p99", "p99_9", "max")]
                    check(all(abs(g * 1000 - w) < 1e-6 for g, w in zip(got, want)),
                          "%s %s against the summary's %s %s" % (metric, got, key, want))
                    check_eq(v[("esmeload_run_%s_count" % metric, "")], e["histograms"][hist]["count"],
                             metric + " count")
                    check(abs(v[("esmeload_run_%s_sum" % metric, "")] * 1e6 - e["histograms"][hist]["sum"]) < 1,
                          metric + " sum")
                check(e["sent"] > 0, "the run sent nothing")
                p.send_signal(signal.SIGTERM)
                check_eq(p.wait(timeout=20), 0, "exit status after a signal in the linger")
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()

        await r.case("scraped_during_and_after", during_and_after, timeout=120)

        def listening(pid):
            inodes = set()
            for f in ("/proc/net/tcp", "/proc/net/tcp6"):
                with open(f) as fh:
                    for line in list(fh)[1:]:
                        cols = line.split()
                        if cols[3] == "0A":
                            inodes.add(cols[9])
            mine = set()
            for fd in os.listdir("/proc/%d/fd" % pid):
                try:
                    t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
                except OSError:
                    continue
                m = re.match(r"socket:\[(\d+)\]", t)
                if m:
                    mine.add(m.group(1))
            return len(inodes & mine)

        def off():
            for extra, want in (([], 0), (["--metrics-listen", "127.0.0.1:0"], 1)):
                d = tempfile.mkdtemp(prefix="esme-metrics-off-")
                base = srv.stats()["participants"]
                p = start(srv, extra, d)
                try:
                    if want:
                        metrics_url(p)
                    # the run is under way: its participants are arriving
                    esme.wait_until(lambda: srv.stats()["participants"] > base,
                                    what="the run's first participant")
                    n = listening(p.pid)
                    check_eq(n, want, "listening sockets with %s" % (extra or "no flag"))
                    _, err = p.communicate(timeout=60)
                    check_eq(p.returncode, 0, "exit status with %s" % extra)
                    if not want:
                        check(b"metrics" not in err, "stderr without the flag: %r" % err)
                finally:
                    if p.poll() is None:
                        p.kill()
                        p.wait()

        await r.case("off_by_default", off, timeout=120)

        def unechoed_moves():
            # a serve that holds every user_message 2 s: while the run
            # goes, the messages sent wait unechoed
            slow = esme.Server("--quiet", "--delay", "2s").start()
            d = tempfile.mkdtemp(prefix="esme-metrics-slow-")
            p = start(slow, ["--metrics-listen", "127.0.0.1:0"], d)
            try:
                url = metrics_url(p)
                esme.wait_until(lambda: parse(scrape(url))[("esmeload_run_messages_unechoed", "")] > 0,
                                what="messages_unechoed above 0 against a serve that holds them")
                p.communicate(timeout=60)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                slow.stop()

        await r.case("unechoed_moves", unechoed_moves, timeout=120)

        def bad():
            taken = socket.socket()
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            try:
                for value, want in (("nonsense", "not HOST:PORT"),
                                    ("127.0.0.1:99999", "not HOST:PORT"),
                                    ("127.0.0.1:%d" % taken.getsockname()[1], "Address already in use")):
                    d = tempfile.mkdtemp(prefix="esme-metrics-bad-")
                    p = start(srv, ["--metrics-listen", value], d)
                    _, err = p.communicate(timeout=30)
                    err = err.decode()
                    check_eq(p.returncode, 2, "exit status for %s (stderr %r)" % (value, err))
                    check("--metrics-listen" in err and want in err and err.count("\n") == 1,
                          "%s: %r" % (value, err))
                    check_eq([n for n in os.listdir(d) if n != "config.json"], [], "files for %s" % value)
            finally:
                taken.close()

        await r.case("bad_listen", bad)
    finally:
        srv.stop()


if __name__ == "__main__":
    esme.main("test_run_metrics", run, limit=240)
