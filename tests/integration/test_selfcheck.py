"""The tester's self-check, thresholds on empty data and the cross-check.

Each self-check signal is made to fire against `esmeload serve` on
loopback, and one gentle run shows them all quiet:
  - cq_overflows: a completion queue of 8 entries under a flood;
  - enobufs: 16 receive buffers under a flood;
  - lag, and a tester that did not run: the tester stopped (SIGSTOP) for
    about a second while it sends, then continued;
  - CPU: the tester pinned to core 0 at nice 19, next to a busy loop
    pinned to the same core;
  - no data: a run that stops at its first REST call (fault_server.py
    answers the sign-up with 500) gets a verdict that says so, and a
    latency threshold on it fails for want of samples.
The cross-check counts what serve received during the run only: a second
run against the same serve passes, another client sending to that serve
during a run makes it fail.

Debian's /usr/bin/python3; ESMELOAD names the binary (default build/esmeload).
"""

import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True   # keep the tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esme  # noqa: E402
from esme import check, check_eq, Fail, short  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FAULT_SERVER = os.path.join(HERE, "fault_server.py")
HANG = 60               # subprocess bound: a run past it is a hang

TMP = tempfile.mkdtemp(prefix="esme-selfcheck-")
if not os.environ.get("ESME_IT_KEEP"):
    atexit.register(shutil.rmtree, TMP, True)

_procs = []
_last_start = [0]   # Unix second in the name of the last run's files


def _kill_procs():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass


atexit.register(_kill_procs)


def out_dir():
    return tempfile.mkdtemp(prefix="run-", dir=TMP)


def summary(d):
    names = [n for n in os.listdir(d) if re.match(r"^\d{10}_performance_test_summary\.json$", n)]
    check_eq(len(names), 1, "one summary file in %s (%s)" % (d, os.listdir(d)))
    _last_start[0] = max(_last_start[0], int(names[0].split("_")[0]))
    return esme.load_summary(os.path.join(d, names[0]))


def series_lines(d):
    names = [n for n in os.listdir(d) if n.endswith("_performance_test_timeseries.jsonl")]
    if not names:
        return []
    with open(os.path.join(d, names[0])) as f:
        text = f.read()
    # The last line may be half written while the run goes on.
    return [json.loads(l) for l in text.split("\n")[:-1] if l.strip()]


def write_config(cfg):
    d = out_dir()
    path = os.path.join(d, "config.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def start_run(cfg_path, args, preexec=None):
    # Participants' e-mails carry the Unix second of the start (as the Go
    # tool's do): two runs against one serve must not share a second. The
    # runs here are one after the other; finish() notes the last one's.
    while int(time.time()) <= _last_start[0]:
        time.sleep(0.05)
    d = out_dir()
    p = subprocess.Popen([esme.ESMELOAD, "run", "--config", cfg_path, "--out-dir", d,
                          "--quiet"] + args, cwd=d, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=preexec)
    _procs.append(p)
    return p, d


def finish(p, d, want_rc=0):
    try:
        out, err = p.communicate(timeout=HANG)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise Fail("esmeload did not exit within %d s" % HANG)
    err = err.decode(errors="replace")
    check_eq(p.returncode, want_rc, "exit status (stderr %r)" % short(err, 400))
    return summary(d), err


def run(cfg_path, args, want_rc=0, preexec=None):
    p, d = start_run(cfg_path, args, preexec)
    return finish(p, d, want_rc)


# A flood: every 10 ms a participant, each sending every 20 ms. A
# participant looks for its chat for 10 x smi: on a busy machine some may
# not find it in time, which is counted and does not stop the run.
FLOOD = ["-sci", "1", "-cpi", "10", "-smi", "20", "--duration", "2s",
         "--max-errors", "1000"]
# A gentle run: about 60 participants, a message a second each (the Go
# tool's default smi), so late is above 100 ms: a machine busy with other
# work delays a wakeup by less.
GENTLE = ["-sci", "10", "-cpi", "50", "-smi", "1000", "--duration", "3s"]


def check_quiet(sc, what):
    for k in ("cq_overflows", "cq_dropped", "enobufs"):
        check_eq(sc[k], 0, "%s: self_check.%s" % (what, k))
    check(sc["lag_p99_ms"] <= sc["lag_bound_ms"], "%s: lag p99 %r within %r ms" % (
        what, sc["lag_p99_ms"], sc["lag_bound_ms"]))
    check_eq(sc["stalled_s"], 0, "%s: stalled_s" % what)
    check_eq(sc["tester_limited"], False, "%s: tester_limited (%s)" % (what, sc["verdict"]))
    check(sc["verdict"].startswith("the tester kept up"), "%s: verdict %r" % (what, sc["verdict"]))


def check_lossless(s, what):
    e = s["esmeload"]
    cc = e["cross_check"]
    check(cc is not None and cc["passed"] is True, "%s: cross_check passed: %r" % (what, cc))
    check_eq(e["delivered"], e["sent"], "%s: delivered == sent" % what)


async def main(r):
    srv = esme.Server("--quiet", name="selfcheck").start()
    cfg = write_config(srv.config)
    state = {}

    def quiet():
        # Other load on the machine would rightly make the tester wait for
        # a CPU (the self-check says so): given priority over it (when
        # allowed), a gentle run must show every signal quiet.
        def ahead():
            try:
                os.nice(-10)
            except OSError:
                pass
        s, err = run(cfg, GENTLE + ["--threshold", "p99<10s", "--threshold",
                                    "delivered_ratio>0.9", "--threshold", "lag_p99<10s"],
                     preexec=ahead)
        e = s["esmeload"]
        sc = e["self_check"]
        check(e["sent"] > 20, "messages sent: %d" % e["sent"])
        check_quiet(sc, "gentle run")
        check(sc["seconds"] >= 1, "seconds judged: %r" % sc)
        check(1 <= sc["cores"] <= os.cpu_count(), "cores from affinity: %r" % sc["cores"])
        check_eq(sc["cpu_limit_percent"], 100.0 * min(sc["threads"], sc["cores"]),
                 "cpu_limit_percent: one core per worker thread at most")
        check_lossless(s, "gentle run")
        check_eq(e["cross_check"]["server_received_start"], 0, "a fresh serve counts from 0")
        check(all(t["passed"] for t in e["thresholds"]), "thresholds on data pass: %r" % e["thresholds"])
        check(all("why" not in t for t in e["thresholds"]), "no reason on a measured one")
        state["sent1"] = e["sent"]

    def reused_serve():
        before = srv.stats()["messages"]["received"]
        check(before >= state["sent1"], "serve counted the first run: %d" % before)
        s, err = run(cfg, GENTLE)
        cc = s["esmeload"]["cross_check"]
        check(cc is not None, "cross_check present")
        check_eq(cc["server_received_start"], before, "serve's counter at the start")
        check_eq(cc["server_received"], cc["sent"], "received during the run == sent")
        check_eq(cc["server_received_end"], before + cc["sent"], "serve's counter at the end")
        check(cc["passed"] is True, "cross_check passes on a serve that served a run: %r" % cc)

    async def other_client():
        # Ended by SIGINT once the other client was counted; the duration
        # is a safety net only.
        p, d = start_run(cfg, ["-sci", "10", "-cpi", "200", "-smi", "50",
                               "--duration", "40s"])
        try:
            base = srv.stats()
            bad0 = base["errors"]["invalid_message_payload"]
            # Wait until the run sends (its start was read before that).
            deadline = time.monotonic() + 20
            while srv.stats()["messages"]["received"] <= base["messages"]["received"]:
                check(p.poll() is None, "the run ended early")
                check(time.monotonic() < deadline, "the run sent nothing within 20 s")
                time.sleep(0.05)
            _, token, _ = srv.new_participant("other")
            ws = await esme.WS.open(srv, token, name="other")
            for _ in range(5):
                await ws.send_msg("send_message", "not an object")
            deadline = time.monotonic() + 10
            while srv.stats()["errors"]["invalid_message_payload"] < bad0 + 5:
                check(time.monotonic() < deadline, "serve did not count the 5 frames")
                time.sleep(0.05)
            await ws.close()
            check(p.poll() is None, "the run still goes on")
            p.send_signal(signal.SIGINT)
        except BaseException:
            p.kill()
            raise
        s, err = finish(p, d)
        cc = s["esmeload"]["cross_check"]
        check(cc is not None, "cross_check present")
        check(cc["passed"] is False, "another client's messages fail the cross-check: %r" % cc)
        extra = cc["server_received"] - cc["sent"]
        check(1 <= extra <= 5, "serve received the other client's frames on top: %r" % cc)

    def cq_overflow():
        s, err = run(cfg, FLOOD + ["--ring-entries", "8", "--cq-entries", "8"])
        sc = s["esmeload"]["self_check"]
        check(sc["cq_overflows"] > 0, "a CQ of 8 under a flood overflows: %r" % sc)
        check_eq(sc["cq_dropped"], 0, "nothing dropped (the kernel keeps overflowed completions)")
        check(sc["tester_limited"] is True, "tester_limited: %r" % sc)
        check("completion queue overflowed" in sc["verdict"], "verdict: %r" % sc["verdict"])
        check_lossless(s, "tiny CQ")

    def bad_cq_entries():
        p = subprocess.run([esme.ESMELOAD, "run", "--config", cfg, "--cq-entries", "8"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
        err = p.stderr.decode(errors="replace")
        check_eq(p.returncode, 2, "exit status of --cq-entries below --ring-entries")
        lines = [l for l in err.splitlines() if l.strip()]
        check(len(lines) == 1 and "--cq-entries" in lines[0] and "--ring-entries" in lines[0],
              "one line naming both flags: %r" % err)

    def enobufs():
        # Whole 4 KiB buffers (buf_inc refused): each receive takes one,
        # however little it carries. Incremental buffers pack receives
        # into the same memory and would not run out under this flood.
        s, err = run(cfg, FLOOD + ["--recv-buffers", "16", "--uring-off", "buf_inc"])
        sc = s["esmeload"]["self_check"]
        check(sc["enobufs"] > 0, "16 receive buffers under a flood run out: %r" % sc)
        check(sc["tester_limited"] is True, "tester_limited: %r" % sc)
        check("receive buffers ran out" in sc["verdict"], "verdict: %r" % sc["verdict"])
        check_lossless(s, "16 receive buffers")

    def stopped_tester():
        # A stop of S seconds makes the next one-second window end at least
        # S - 1 s late, whenever it starts: 2 s is a stall of >= 1 s, which
        # the self-check (>= 0.5 s) cannot miss. The window must end before
        # the duration does, or it is not judged. A participant on another
        # thread than the organizer may use up its ten get_chats (20 ms
        # apart) while the organizer's thread catches up after the stop:
        # --max-errors lets such an error pass, it is not what is judged.
        p, d = start_run(cfg, ["-sci", "10", "-cpi", "100", "-smi", "20",
                               "--duration", "9s", "--max-errors", "1000"])
        try:
            deadline = time.monotonic() + 20
            while not any(l["sent"] > 0 for l in series_lines(d)):
                check(p.poll() is None, "the run ended before it sent")
                check(time.monotonic() < deadline, "no second with messages within 20 s")
                time.sleep(0.05)
            p.send_signal(signal.SIGSTOP)
            time.sleep(2.0)     # the stimulus: the tester does not run
            p.send_signal(signal.SIGCONT)
        except BaseException:
            p.send_signal(signal.SIGCONT)
            p.kill()
            raise
        s, err = finish(p, d)
        sc = s["esmeload"]["self_check"]
        check(sc["tester_limited"] is True, "tester_limited: %r" % sc)
        check(sc["lag_p99_ms"] > sc["lag_bound_ms"], "lag p99 above its bound: %r" % sc)
        check(sc["stalled_s"] >= 0.9, "the stop is seen: %r" % sc)
        check("sends left late" in sc["verdict"] and "did not run" in sc["verdict"],
              "verdict: %r" % sc["verdict"])

    def starved_cpu():
        if os.cpu_count() < 2 or 0 not in os.sched_getaffinity(0):
            raise esme.Skip("needs core 0 and another one")
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"],
                               preexec_fn=lambda: os.sched_setaffinity(0, {0}))
        _procs.append(hog)
        try:
            def pinned():
                os.sched_setaffinity(0, {0})
                os.nice(19)
            s, err = run(cfg, ["-sci", "1", "-cpi", "50", "-smi", "10",
                               "--duration", "3s"], preexec=pinned)
        finally:
            hog.kill()
            hog.wait(5)
        sc = s["esmeload"]["self_check"]
        check(sc["tester_limited"] is True, "tester_limited: %r" % sc)
        check_eq(sc["cores"], 1, "affinity: one core")
        check_eq(sc["cpu_limit_percent"], 100, "one core's worth")
        check(sc["seconds_at_cpu_limit"] >= 1, "seconds at the CPU limit: %r" % sc)
        check(re.search(r"waited for a CPU|CPU was at the limit|did not run", sc["verdict"]),
              "the verdict names the CPU: %r" % sc["verdict"])

    def no_data():
        fs_dir = out_dir()
        fs_cfg = os.path.join(fs_dir, "config.json")
        fs = subprocess.Popen([sys.executable, FAULT_SERVER, "--fault", "http500",
                               "--write-config", fs_cfg], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _procs.append(fs)
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(fs_cfg):
                check(fs.poll() is None, "fault_server exited")
                check(time.monotonic() < deadline, "fault_server wrote no config")
                time.sleep(0.02)
            s, err = run(fs_cfg, ["-sci", "10", "-cpi", "50", "-smi", "20", "--duration", "10s",
                                  "--threshold", "p99<50ms", "--threshold", "lag_p99<5ms",
                                  "--threshold", "delivered_ratio>=0", "--threshold",
                                  "errors>=1", "--threshold", "sent==0"], want_rc=99)
        finally:
            fs.kill()
            fs.wait(5)
        e = s["esmeload"]
        check_eq(e["stop_reason"], "error", "stopped at the first REST call")
        check_eq(e["sent"], 0, "nothing sent")
        sc = e["self_check"]
        check(sc["tester_limited"] is None, "no verdict on no data: %r" % sc)
        check(sc["verdict"].startswith("no data"), "verdict says there was none: %r" % sc["verdict"])
        t = {x["expr"]: x for x in e["thresholds"]}
        for expr, why in (("p99<50ms", "no samples (nothing delivered)"),
                          ("lag_p99<5ms", "no samples (nothing sent)"),
                          ("delivered_ratio>=0", "no samples (nothing sent)")):
            check(t[expr]["passed"] is False and t[expr]["measured"] is None,
                  "%s fails with nothing measured: %r" % (expr, t[expr]))
            check_eq(t[expr].get("why"), why, "%s: why" % expr)
            check(("%s: %s" % (expr, why)) in err, "stderr names %s and why: %r" % (expr, err))
        for expr in ("errors>=1", "sent==0"):
            check(t[expr]["passed"] is True, "a count is measured with no messages: %r" % t[expr])

    await r.case("selfcheck_quiet_run_kept_up", quiet, timeout=60)
    await r.case("cross_check_second_run_on_same_serve_passes", reused_serve,
                 needs=["selfcheck_quiet_run_kept_up"], timeout=60)
    await r.case("cross_check_other_client_during_run_fails", other_client, timeout=60)
    await r.case("selfcheck_cq_overflow_fires", cq_overflow, timeout=60)
    await r.case("selfcheck_cq_entries_below_ring_entries_refused", bad_cq_entries, timeout=15)
    await r.case("selfcheck_enobufs_fires", enobufs, timeout=60)
    await r.case("selfcheck_stopped_tester_lag_fires", stopped_tester, timeout=60)
    await r.case("selfcheck_starved_cpu_tester_limited", starved_cpu, timeout=60)
    await r.case("selfcheck_no_data_verdict_and_thresholds_fail", no_data, timeout=60)
    srv.kill()


if __name__ == "__main__":
    esme.main("test_selfcheck", main, limit=280)
