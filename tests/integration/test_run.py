"""Integration tests of `esmeload run` against `esmeload serve`.

The drop-in contract (docs/protocol.md section 5): flags, config.json, the two output
files with their names, keys and value formats; the cross-check that what
esmeload counts as sent is what serve counts as received; how it fails.
"""

import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

import esme
from esme import check, check_eq, Fail

GO_DURATION = re.compile(r"^(0s|(\d+h)?(\d+m)?(\d+(\.\d+)?(s|ms|µs|ns)))$")
RFC3339_NANO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
SUMMARY_KEYS = ["constants", "description", "organizer_time_started",
                "organizer_duration", "participants_time_started",
                "participants_duration", "messages_sent", "chats_count",
                "created_participants_count"]
CONST_KEYS = ["start_chat_interval", "create_participant_interval",
              "send_message_interval", "log_ws"]


# Bounds for a busy machine: a run that takes this long has hung.
HANG = 120


def run_tool(args, cwd, timeout=HANG):
    t0 = time.monotonic()
    try:
        p = subprocess.run([esme.ESMELOAD] + args, cwd=cwd, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Fail("esmeload %s did not exit by itself within %d s (killed)" % (" ".join(args), timeout))
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace"), time.monotonic() - t0


def outputs(d):
    names = sorted(os.listdir(d))
    summ = [n for n in names if re.match(r"^\d{10}_performance_test_summary\.json$", n)]
    rates = [n for n in names if re.match(r"^\d{10}_performance_test_message_rates\.json$", n)]
    check_eq(len(summ), 1, "summary files in %s (%s)" % (d, names))
    check_eq(len(rates), 1, "message-rate files in %s (%s)" % (d, names))
    check_eq(summ[0].split("_")[0], rates[0].split("_")[0], "the two files' unix prefix")
    series = [n for n in names if re.match(r"^\d{10}_performance_test_timeseries\.jsonl$", n)]
    check_eq(series, [summ[0].split("_")[0] + "_performance_test_timeseries.jsonl"],
             "the time series under the same prefix (%s)" % names)
    leftovers = [n for n in names if ".tmp" in n]
    check(not leftovers, "temporary files left: %s" % leftovers)
    s = esme.load_summary(os.path.join(d, summ[0]))
    with open(os.path.join(d, rates[0])) as f:
        r = json.load(f)
    return s, r


def check_summary(s, sci, cpi, smi):
    check_eq(list(s.keys())[:len(SUMMARY_KEYS)], SUMMARY_KEYS, "summary key order")
    check_eq(list(s["constants"].keys()), CONST_KEYS, "constants keys")
    check_eq(s["constants"]["start_chat_interval"], sci, "start_chat_interval")
    check_eq(s["constants"]["create_participant_interval"], cpi, "create_participant_interval")
    check_eq(s["constants"]["send_message_interval"], smi, "send_message_interval")
    check(s["constants"]["log_ws"] is False, "log_ws is the boolean false")
    check_eq(s["description"], "performance test summary", "description")
    for k in ("organizer_time_started", "participants_time_started"):
        check(isinstance(s[k], str) and RFC3339_NANO.match(s[k]), "%s: %r" % (k, s[k]))
    for k in ("organizer_duration", "participants_duration"):
        check(isinstance(s[k], str) and GO_DURATION.match(s[k]), "%s: %r" % (k, s[k]))
    for k in ("messages_sent", "chats_count", "created_participants_count"):
        check(isinstance(s[k], int) and not isinstance(s[k], bool) and s[k] >= 0,
              "%s is a count: %r" % (k, s[k]))


def check_rates(r, sent):
    check(isinstance(r, dict), "rates is an object")
    for k, v in r.items():
        check(re.match(r"^\d{10}$", k), "rate key %r is a unix second" % k)
        check(isinstance(v, int) and v > 0, "rate %s=%r is a positive count" % (k, v))
    check_eq(sum(r.values()), sent, "sum of message rates == messages_sent")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_config(d, cfg):
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f)


async def run(r):
    srv = esme.Server("--quiet").start()
    state = {}

    def drop_in():
        d = tempfile.mkdtemp(prefix="esme-run-")
        write_config(d, srv.config)
        rc, out, err, dt = run_tool(["-sci", "10", "-cpi", "20", "-smi", "100",
                                     "--duration", "5s", "--quiet"], d)
        check_eq(rc, 0, "exit status (stderr: %s)" % err[-300:])
        s, rates = outputs(d)
        check_summary(s, "10ms", "20ms", "100ms")
        # The scenario went round (how far it got in 5 s is a matter of
        # speed, for bench/; the counts are checked against serve below).
        check(s["created_participants_count"] > 1, "participants created: %d" % s["created_participants_count"])
        check(s["chats_count"] > 1, "chats: %d" % s["chats_count"])
        check(s["messages_sent"] > 1, "messages sent: %d" % s["messages_sent"])
        check_rates(rates, s["messages_sent"])
        check(s["messages_sent"] < 3 * 5 * 10 * 260, "sent is bounded by the schedule")
        check(s["esmeload"]["embedded_serve"] is False, "a real target, not the demo")
        state["summary"] = s
        # Printed like the Go tool: the summary JSON on stdout.
        check('"messages_sent"' in out, "summary printed on stdout")

    def cross_check():
        s = state["summary"]
        deadline = time.monotonic() + esme.WAIT
        while True:
            st = srv.stats()
            if st["messages"]["received"] >= s["messages_sent"] or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        check_eq(st["messages"]["received"], s["messages_sent"],
                 "serve messages.received == esmeload messages_sent")
        check(s["esmeload"]["delivered"] <= s["messages_sent"], "delivered <= sent")
        check(s["esmeload"]["delivered"] >= s["messages_sent"] * 0.99,
              "delivered %d of %d sent" % (s["esmeload"]["delivered"], s["messages_sent"]))

    def flag_forms():
        d = tempfile.mkdtemp(prefix="esme-run-")
        write_config(d, srv.config)
        rc, out, err, dt = run_tool(["--sci=20", "-cpi=50", "--smi", "200", "-logWs=false",
                                     "--duration=1500ms", "--quiet"], d)
        check_eq(rc, 0, "exit status (stderr: %s)" % err[-300:])
        s, rates = outputs(d)
        check_summary(s, "20ms", "50ms", "200ms")

    def config_flag():
        d = tempfile.mkdtemp(prefix="esme-run-")
        other = tempfile.mkdtemp(prefix="esme-cfg-")
        write_config(other, srv.config)
        rc, out, err, dt = run_tool(["--config", os.path.join(other, "config.json"),
                                     "--duration", "1s", "--quiet", "--out-dir", d], d)
        check_eq(rc, 0, "exit status (stderr: %s)" % err[-300:])
        outputs(d)

    def fails(cfg, phase, url, what):
        d = tempfile.mkdtemp(prefix="esme-run-")
        write_config(d, cfg)
        # No --duration: only the error can end this run (run_tool fails a
        # run that is still going at its bound).
        rc, out, err, dt = run_tool(["-sci", "10", "-cpi", "20", "-smi", "100",
                                     "--quiet"], d)
        check(rc != 0, "%s: non-zero exit" % what)
        lines = [l for l in err.splitlines() if l.strip()]
        check_eq(len(lines), 1, "%s: one line on stderr (%r)" % (what, err))
        check(phase in lines[0], "%s: %r names the phase %r" % (what, lines[0], phase))
        check(url in lines[0], "%s: %r names the URL %r" % (what, lines[0], url))
        s, rates = outputs(d)
        check_summary(s, "10ms", "20ms", "100ms")
        check_eq(s["esmeload"]["stop_reason"], "error", "stop_reason")
        check(s["esmeload"]["first_error"] and phase in s["esmeload"]["first_error"],
              "first_error recorded")
        return s

    def target_down():
        port = free_port()
        cfg = dict(srv.config)
        for k in ("organizer_api_url", "participant_api_url"):
            cfg[k] = "http://127.0.0.1:%d" % port
        cfg["messenger_ws_url"] = "ws://127.0.0.1:%d" % port
        fails(cfg, "sign-in", "http://127.0.0.1:%d/auth/sign-in" % port, "target down")

    def wrong_password():
        cfg = dict(srv.config, organizer_password="not-the-password")
        fails(cfg, "sign-in", srv.org + "/auth/sign-in", "wrong organizer password")

    def signup_4xx():
        # The organizer API has no /auth/sign-up: every sign-up gets a 404.
        cfg = dict(srv.config, participant_api_url=srv.org)
        s = fails(cfg, "sign-up", srv.org + "/auth/sign-up", "sign-up 4xx")
        check_eq(s["created_participants_count"], 0, "no participant created")

    def on_signal(sig):
        # Its own serve: participant emails carry the start second, so a run
        # in the same second as an earlier one on the same serve would meet
        # "email already exists", as the Go tool would.
        own = esme.Server("--quiet", name="signal").start()
        d = tempfile.mkdtemp(prefix="esme-run-")
        write_config(d, own.config)
        p = subprocess.Popen([esme.ESMELOAD, "-sci", "10", "-cpi", "20", "-smi", "100",
                              "--duration", "60s", "--quiet"], cwd=d,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            # Until messages flow; the checks below are on the files.
            esme.wait_until(lambda: p.poll() is not None or own.stats()["messages"]["received"] > 0,
                            what="messages received by serve")
            p.send_signal(sig)
            try:
                out, err = p.communicate(timeout=HANG)
            except subprocess.TimeoutExpired:
                raise Fail("still running %d s after the signal (--duration 60s)" % HANG)
            rc = p.returncode
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        check_eq(rc, 0, "exit status after the signal (stderr: %r)" % err[-300:])
        s, rates = outputs(d)
        check_eq(s["esmeload"]["stop_reason"], "signal", "stop_reason")
        check(s["messages_sent"] > 0, "messages were sent before the signal")
        check_rates(rates, s["messages_sent"])
        own.kill()

    def embedded():
        d = tempfile.mkdtemp(prefix="esme-run-")
        # A serve that esmeload leaves behind is reparented to this process
        # (a subreaper), so it is told from other runs' on a shared machine.
        check(ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0,  # PR_SET_CHILD_SUBREAPER
              "prctl(PR_SET_CHILD_SUBREAPER)")
        rc, out, err, dt = run_tool(["demo", "--duration", "3s", "--quiet"], d)
        check_eq(rc, 0, "exit status (stderr: %s)" % err[-300:])
        s, rates = outputs(d)
        check(s["esmeload"]["embedded_serve"] is True, "the summary says it was the demo")
        check(s["created_participants_count"] > 0 and s["chats_count"] > 0 and
              s["messages_sent"] > 0, "embedded run did something: %s" %
              {k: s[k] for k in SUMMARY_KEYS[6:]})
        leftover = subprocess.run(["pgrep", "-P", str(os.getpid()), "-f", "esmeload-serve-"],
                                  capture_output=True)
        check(leftover.returncode != 0, "embedded serve still running: %s" % leftover.stdout)

    def bad_flag():
        d = tempfile.mkdtemp(prefix="esme-run-")
        write_config(d, srv.config)
        rc, out, err, dt = run_tool(["-sci", "ten"], d)
        check_eq(rc, 2, "exit status for a bad flag value")
        lines = [l for l in err.splitlines() if l.strip()]
        check_eq(len(lines), 1, "one line on stderr (%r)" % err)
        check("-sci" in lines[0] and "ten" in lines[0], "names flag and value: %r" % lines[0])

    # Faster than -cpi's whole milliseconds allow: 3,000 arrivals due in
    # half a second. Open loop, so a tester that falls behind makes the
    # due ones as soon as it runs: the first second holds far more than
    # -cpi 1's 1,000 even on a busy machine.
    def arrival_rate():
        own = esme.Server("--quiet", "--max-conns", "8000", name="rate").start()
        try:
            d = tempfile.mkdtemp(prefix="esme-run-")
            write_config(d, own.config)
            rc, out, err, dt = run_tool(["-sci", "1", "--arrival-rate", "6000", "-smi", "1000",
                                         "--max-participants", "3000", "--duration", "4s",
                                         "--max-errors", "100000", "--quiet"], d)
            check_eq(rc, 0, "exit status (stderr: %s)" % err[-300:])
            s, rates = outputs(d)
            check_summary(s, "1ms", "166.667µs", "1s")
            check_eq(s["created_participants_count"], 3000, "every arrival made")
            names = [n for n in os.listdir(d) if n.endswith("_performance_test_timeseries.jsonl")]
            with open(os.path.join(d, names[0])) as f:
                per_s = [json.loads(l)["arrivals"] for l in f if l.startswith("{")]
            check(per_s and max(per_s) > 1500,
                  "arrivals per second above -cpi's 1,000 ceiling: %r" % per_s)
            check_eq(sum(per_s), 3000, "the series counts every arrival once")
            lag = s["esmeload"]["arrival_lag_ms"]
            check(isinstance(lag["p50"], (int, float)), "arrival lag reported: %r" % lag)
        finally:
            own.kill()

    # --threads defaults to the CPUs the process may run on: one under
    # taskset -c 0, all of this process's otherwise.
    def threads_default():
        cpus = sorted(os.sched_getaffinity(0))
        for pin, want in ((None, min(len(cpus), 64)), ([cpus[0]], 1)):
            d = tempfile.mkdtemp(prefix="esme-run-")
            write_config(d, srv.config)
            args = ["-sci", "10", "-cpi", "50", "-smi", "100", "--duration", "2s", "--quiet"]
            p = subprocess.run(([ "taskset", "-c", str(pin[0])] if pin else []) + [esme.ESMELOAD] + args,
                               cwd=d, stdin=subprocess.DEVNULL, capture_output=True, timeout=HANG)
            check_eq(p.returncode, 0, "exit status (stderr: %s)" % p.stderr.decode(errors="replace")[-300:])
            s, rates = outputs(d)
            sc = s["esmeload"]["self_check"]
            check_eq(sc["threads"], want, "threads with affinity %s" % (pin or cpus))
            check_eq(sc["cores"], len(pin or cpus), "self_check.cores")

    def arrival_rate_bad():
        d = tempfile.mkdtemp(prefix="esme-run-")
        write_config(d, srv.config)
        for args, want in ((["--arrival-rate", "0"], "--arrival-rate"),
                           (["--arrival-rate", "lots"], "lots"),
                           (["-cpi", "10", "--arrival-rate", "100"], "-cpi and --arrival-rate")):
            rc, out, err, dt = run_tool(args, d)
            check_eq(rc, 2, "exit status for %s" % args)
            lines = [l for l in err.splitlines() if l.strip()]
            check_eq(len(lines), 1, "one line on stderr (%r)" % err)
            check(want in lines[0], "names what was wrong: %r" % lines[0])

    def source_ip_pool():
        own = esme.Server("--quiet", name="srcip").start()
        d = tempfile.mkdtemp(prefix="esme-run-")
        write_config(d, own.config)
        log = os.path.join(tempfile.mkdtemp(prefix="esme-run-log-"), "stderr")

        def addrs_seen():
            with open(log, errors="replace") as f:
                return set(re.findall(r"connection (127\.0\.0\.\d+):\d+: message number", f.read()))
        # Runs until messages from both addresses are logged, then SIGINT.
        with open(log, "w") as f:
            p = subprocess.Popen([esme.ESMELOAD, "-sci", "10", "-cpi", "20", "-smi", "100",
                                  "--duration", "60s", "--quiet", "-logWs",
                                  "--source-ip", "127.0.0.2-127.0.0.3"], cwd=d,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=f)
        try:
            esme.wait_until(lambda: p.poll() is not None or len(addrs_seen()) >= 2,
                            what=lambda: "messages from two source addresses (seen %s)" % addrs_seen())
            p.send_signal(signal.SIGINT)
            try:
                rc = p.wait(HANG)
            except subprocess.TimeoutExpired:
                raise Fail("still running %d s after SIGINT" % HANG)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        with open(log, errors="replace") as f:
            err = f.read()
        check_eq(rc, 0, "exit status (stderr: %s)" % err[-300:])
        addrs = addrs_seen()
        check_eq(addrs, {"127.0.0.2", "127.0.0.3"}, "source addresses used in turn")
        check("Bearer participant:" not in err and "Bearer organizer:" not in err,
              "-logWs never shows a token")
        own.kill()

    await r.case("run_drop_in_outputs", drop_in, timeout=40)
    await r.case("run_source_ip_pool_and_log_ws", source_ip_pool, timeout=30)
    await r.case("run_cross_check_sent_equals_received", cross_check,
                 needs=("run_drop_in_outputs",))

    def human_summary():
        # Without --quiet a person gets the figures in words on stderr at
        # the end: the same numbers as the files; --quiet (above) keeps
        # stderr empty.
        d = tempfile.mkdtemp(prefix="esme-run-")
        write_config(d, srv.config)
        rc, out, err, dt = run_tool(["-sci", "10", "-cpi", "20", "-smi", "100",
                                     "--duration", "4s"], d)
        check_eq(rc, 0, "exit status (stderr: %s)" % err[-300:])
        s, _ = outputs(d)
        e = s["esmeload"]
        tail = err[err.rfind("\nesmeload: "):]
        check("the duration is over after" in tail, "end line: %r" % tail[:200])

        def field(pattern, what):
            m = re.search(pattern, tail)
            check(m is not None, "no %s in the end summary: %r" % (what, tail[:600]))
            return m
        m = field(r"participants  (\d+) created, (\d+) connected, (\d+) failed; (\d+) chats", "participants line")
        check_eq([int(x) for x in m.groups()],
                 [s["created_participants_count"], e["connected"], e["participants_failed"], s["chats_count"]],
                 "participants line against the summary")
        m = field(r"messages      (\d+) sent, (\d+) delivered \(([\d.]+) %\), (\d+) in flight, (\d+) lost", "messages line")
        check_eq([int(m.group(i)) for i in (1, 2, 4, 5)],
                 [e["sent"], e["delivered"], e["in_flight"], e["lost"]], "messages line against the summary")
        m = field(r"latency       p50 ([\d.e+-]+) ms", "latency line")
        check(abs(float(m.group(1)) - e["latency_ms"]["p50"]) <= 0.001 + 0.01 * e["latency_ms"]["p50"],
              "latency p50 %s against %s" % (m.group(1), e["latency_ms"]["p50"]))
        field(r"time to chat  p50 [\d.e+-]+ ms", "time-to-chat line")
        errs = {k: v for k, v in e["errors"].items() if v}
        field(r"errors        none" if not errs else r"errors        \w+ \d+", "errors line")
        m = field(r"self-check    (.*)", "self-check line")
        check_eq(m.group(1), e["self_check"]["verdict"], "the verdict")
        m = field(r"files         (\S+), (\S+)", "files line")
        check(all(os.path.isfile(os.path.join(d, p)) for p in m.groups()), "files named: %s" % (m.groups(),))

    await r.case("run_human_summary_on_stderr", human_summary, timeout=40)
    await r.case("run_go_flag_forms", flag_forms, timeout=30)
    await r.case("run_config_flag_and_out_dir", config_flag, timeout=30)
    await r.case("run_fails_target_down", target_down, timeout=15)
    await r.case("run_fails_wrong_organizer_password", wrong_password, timeout=15)
    await r.case("run_fails_signup_4xx", signup_4xx, timeout=15)
    await r.case("run_sigint_writes_outputs", lambda: on_signal(signal.SIGINT), timeout=20)
    await r.case("run_sigterm_writes_outputs", lambda: on_signal(signal.SIGTERM), timeout=20)
    await r.case("run_embedded_demo", embedded, timeout=40)
    await r.case("run_bad_flag_value", bad_flag, timeout=10)
    await r.case("run_arrival_rate_above_a_thousand", arrival_rate, timeout=60)
    await r.case("run_arrival_rate_bad_values", arrival_rate_bad, timeout=20)
    await r.case("run_threads_default_to_usable_cpus", threads_default, timeout=40)
    srv.kill()


if __name__ == "__main__":
    esme.main("test_run", run, limit=280)
