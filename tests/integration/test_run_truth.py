"""What esmeload run reports is what happened: the Go tool's pacing where
users rely on it, and every figure that could be wrong under stress.

Against `esmeload serve` and fault_server.py (beside this file):
  - error frames from the messenger are errors (errors.server), and a quiet
    run has none;
  - sent = delivered + in_flight + lost, with echoes still held by the
    server at the stop counted in flight and echoes the server never sent
    counted lost;
  - -cpi 0 makes exactly one participant, as the Go tool does;
  - get_chats one try at a time: the answer is awaited (a server slower than
    smi is not a failure), ten tries at most, an unanswered one times out;
  - organizer_time_started is taken after the organizer's sign-in;
  - arrivals are open loop: a slow sign-up gets more REST connections, not a
    queue, each arrival's lag and phases are reported from its schedule, and
    a request's deadline runs from when it was queued;
  - the timer's resolution is reported.

Debian's /usr/bin/python3; ESMELOAD names the binary (default build/esmeload).
"""

import json
import os
import resource
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esme  # noqa: E402
from esme import check, check_eq, Fail, short  # noqa: E402

TMP = tempfile.mkdtemp(prefix="esme-truth-")
HANG = 60       # a run that has not exited by then is killed: a failure
QKEYS = ["p50", "p90", "p99", "p99_9", "max"]


def FaultServer(mode, *extra):
    return esme.FaultServer(mode, *extra, parent=TMP)


def serve(*extra):
    srv = esme.Server("--quiet", *extra).start()
    srv.cfg_path = os.path.join(srv.dir, "config.json")
    return srv


def run(srv, args, timeout=HANG):
    """One bounded `esmeload run`; returns (rc, stderr, summary, seconds)."""
    d = tempfile.mkdtemp(prefix="run-", dir=TMP)
    t0 = time.monotonic()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        p = subprocess.run([esme.ESMELOAD, "run", "--config", srv.cfg_path, "--out-dir", d,
                            "--quiet"] + [str(a) for a in args],
                           cwd=d, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Fail("esmeload did not exit within %d s" % timeout)
    took = time.monotonic() - t0
    ru2 = resource.getrusage(resource.RUSAGE_CHILDREN)
    err = p.stderr.decode(errors="replace")
    names = [n for n in os.listdir(d) if n.endswith("_performance_test_summary.json")]
    check_eq(len(names), 1, "summary files in %s (stderr %s)" % (os.listdir(d), short(err)))
    s = esme.load_summary(os.path.join(d, names[0]))
    s["_dir"] = d
    # CPU seconds the run used (user + system), for a bound far above need.
    s["_cpu_s"] = (ru2.ru_utime - ru.ru_utime) + (ru2.ru_stime - ru.ru_stime)
    return p.returncode, err, s, took


def series(s):
    """The time-series lines of the run whose summary is s."""
    d = s["_dir"]
    names = [n for n in os.listdir(d) if n.endswith("_performance_test_timeseries.jsonl")]
    check_eq(len(names), 1, "time series files")
    with open(os.path.join(d, names[0])) as f:
        return [json.loads(l) for l in f if l.strip()]


def accounted(e, what):
    check_eq(e["sent"], e["delivered"] + e["in_flight"] + e["lost"],
             "%s: sent == delivered + in_flight + lost (%d, %d, %d)"
             % (what, e["delivered"], e["in_flight"], e["lost"]))
    check(e["accounted"] is True, "%s: accounted flag" % what)


def quantiles(e, key):
    q = e[key]
    check_eq(list(q.keys()), QKEYS, key + " keys")
    v = [q[k] for k in QKEYS]
    check(v == sorted(v) and v[0] >= 0, "%s ordered and >= 0: %s" % (key, v))
    return q


async def main(r):
    # ---- errors.server -----------------------------------------------
    def server_error_frames_are_errors():
        fs = FaultServer("server_error_midrun", "--after", "3").start()
        rc, err, s, took = run(fs, ["-sci", "10", "-cpi", "50", "-smi", "20",
                                    "--duration", "20s"])
        e = s["esmeload"]
        check_eq(rc, 1, "exit status (stderr %s)" % short(err))
        check(e["errors"]["server"] >= 1, "errors.server %s" % e["errors"])
        check_eq(e["server_errors"], e["errors"]["server"], "server_errors key")
        check("server error" in (e["first_error"] or "") and
              "message could not be saved" in e["first_error"],
              "first error names the server's text: %r" % e["first_error"])
        check(e["stop_reason"] == "error", "stop_reason %s" % e["stop_reason"])

    def quiet_run_accounts_for_every_message():
        srv = serve()
        rc, err, s, _ = run(srv, ["-sci", "5", "-cpi", "20", "-smi", "50", "--duration", "4s",
                                  "--threshold", "lost==0", "--threshold", "arrival_lag_max<60s",
                                  "--threshold", "time_to_chat_p99<60s"])
        e = s["esmeload"]
        check_eq(rc, 0, "exit status (stderr %s)" % short(err))
        check_eq([t["passed"] for t in e["thresholds"]], [True] * 3, "thresholds")
        # ... and one that cannot hold: a chat within a microsecond.
        rc2, err2, s2, _ = run(srv, ["-sci", "5", "-cpi", "50", "-smi", "50", "--duration", "2s",
                                     "--threshold", "time_to_chat_p50<1us"])
        check_eq(rc2, 99, "exit status of a failed time_to_chat threshold (%s)" % short(err2))
        check("threshold failed: time_to_chat_p50<1us" in err2, "stderr: %s" % short(err2))
        check_eq(e["errors"]["server"], 0, "errors.server")
        check(e["sent"] > 500, "sent %d" % e["sent"])
        accounted(e, "quiet run")
        check_eq(e["lost"], 0, "lost")
        check_eq(e["echo_unmatched"], 0, "echo_unmatched")
        # every figure of arrivals is there, with data
        for k in ("arrival_lag_ms", "time_to_chat_ms"):
            quantiles(e, k)
        for k in ("sign_up", "chat_request", "connect"):
            quantiles(e["phases_ms"], k)
        check(e["time_to_chat_ms"]["p50"] > 0, "time to chat measured")
        # The time series has them second by second.
        lines = series(s)
        check(sum(l["arrivals"] for l in lines) >= s["created_participants_count"],
              "arrivals in the series %d, created %d"
              % (sum(l["arrivals"] for l in lines), s["created_participants_count"]))
        ttc = [l["time_to_chat_ms"] for l in lines if l["time_to_chat_ms"] is not None]
        check(ttc and all(set(t) == {"p50", "p99", "max"} for t in ttc),
              "time_to_chat_ms per second: %s" % ttc[:3])
        check(all("arrival_lag_ms" in l for l in lines), "arrival_lag_ms in every line")
        check(e["time_to_chat_ms"]["p50"] >= e["phases_ms"]["sign_up"]["p50"],
              "time to chat includes the sign-up")
        t = e["timer"]
        check(t["tick_us"] <= 100, "tick %s µs" % t["tick_us"])
        check_eq(t["slack_us"], 0, "no slack by default")
        quantiles(t, "late_ms")
        check(t["latency_resolution_ms"] == t["late_ms"]["p50"], "resolution is the median lateness")
        srv.kill()

    def timer_slack_trades_resolution():
        # 5 participants at smi 100, a start_chat every 50 ms: a timer
        # every 14 ms or so, and little else to wake the loop. With 5 ms of slack
        # a wake-up waits out the window: timers fire milliseconds late
        # (about 0.05 ms without), and the summary says so.
        srv = serve()
        rc, err, s, _ = run(srv, ["-sci", "50", "-cpi", "20", "-smi", "100", "--duration", "3s",
                                  "--max-participants", "5", "--timer-slack", "5ms"])
        e = s["esmeload"]
        check_eq(rc, 0, "exit status (stderr %s)" % short(err))
        check_eq(e["timer"]["slack_us"], 5000, "slack_us")
        check(e["timer"]["late_ms"]["p50"] >= 1.0, "late p50 %.3f ms" % e["timer"]["late_ms"]["p50"])
        accounted(e, "with slack")
        srv.kill()

    # ---- in flight and lost ------------------------------------------
    def echoes_held_at_the_stop_are_in_flight():
        # serve holds every echo 5 s; the run stops at 3 s and drains 2 s:
        # nothing has come back, nothing is lost.
        srv = serve("--delay", "5s")
        rc, err, s, _ = run(srv, ["-sci", "5", "-cpi", "50", "-smi", "50", "--duration", "3s"])
        e = s["esmeload"]
        check_eq(rc, 0, "exit status (stderr %s)" % short(err))
        check(e["sent"] > 50, "sent %d" % e["sent"])
        check(e["in_flight"] > 0, "in_flight %d" % e["in_flight"])
        check_eq(e["lost"], 0, "lost")
        accounted(e, "held echoes")
        # The drain waits its whole 2 s for echoes that do not come: it
        # must wait, not spin (a spinning drain costs a core for 2 s).
        check(s["_cpu_s"] < 1.5, "the run used %.2f CPU seconds" % s["_cpu_s"])
        srv.kill()

    def a_closed_websocket_ends_its_participant():
        # Every participant's connection gets a close frame after 3
        # messages; the run goes on (--max-errors). Each is done then: no
        # later handshake timeout, no frame written into a slot that is no
        # longer its own (the server would answer "no access").
        fs = FaultServer("ws_close_midrun", "--after", "3").start()
        rc, err, s, _ = run(fs, ["-sci", "10", "-cpi", "50", "-smi", "20", "--duration", "3s",
                                 "--max-errors", "100000"])
        e = s["esmeload"]
        check_eq(rc, 0, "exit status (stderr %s)" % short(err))
        errs = {k: v for k, v in e["errors"].items() if v}
        check(set(errs) == {"closed"}, "only closes: %s" % errs)
        check(errs["closed"] >= s["chats_count"] - 2,
              "closes %d for %d chats" % (errs["closed"], s["chats_count"]))
        check(s["chats_count"] >= e["connected"] - 2,
              "chats %d of %d authorized" % (s["chats_count"], e["connected"]))
        check(e["lag_ms"]["max"] < 10000, "lag max %.1f ms" % e["lag_ms"]["max"])
        accounted(e, "closed midrun")

    def echoes_never_sent_are_lost():
        fs = FaultServer("drop_echo", "--after", "1").start()
        rc, err, s, _ = run(fs, ["-sci", "10", "-cpi", "100", "-smi", "20",
                                 "--duration", "3s", "--max-errors", "1000"])
        e = s["esmeload"]
        check_eq(rc, 0, "exit status (stderr %s)" % short(err))
        check(e["sent"] > 50, "sent %d" % e["sent"])
        check(e["lost"] >= e["sent"] // 3, "lost %d of %d sent" % (e["lost"], e["sent"]))
        accounted(e, "dropped echoes")

    # ---- -cpi 0 --------------------------------------------------------
    def cpi_zero_with_a_limit_ends():
        srv = serve()
        rc, err, s, took = run(srv, ["-sci", "10", "-cpi", "0", "-smi", "50",
                                     "--max-participants", "5"], timeout=30)
        check_eq(rc, 0, "exit status (stderr %s)" % short(err))
        check_eq(s["created_participants_count"], 1, "participants")
        check_eq(s["esmeload"]["stop_reason"], "max_participants", "stop_reason")
        srv.kill()

    def cpi_zero_makes_one_participant():
        srv = serve()
        rc, err, s, _ = run(srv, ["-sci", "10", "-cpi", "0", "-smi", "50", "--duration", "2s",
                                  "--threads", "2"])
        check_eq(rc, 0, "exit status (stderr %s)" % short(err))
        check_eq(s["created_participants_count"], 1, "participants")
        check_eq(s["chats_count"], 1, "chats")
        check(s["messages_sent"] > 5, "messages %d" % s["messages_sent"])
        srv.kill()

    # ---- get_chats -----------------------------------------------------
    def get_chats_answer_is_awaited():
        # Answers come 1.5 s late; smi is 100 ms. Sending ten without
        # waiting would give up after 1 s.
        fs = FaultServer("slow_get_chats", "--delay", "1.5").start()
        rc, err, s, _ = run(fs, ["-sci", "10", "-cpi", "1000", "-smi", "100",
                                 "--max-participants", "2", "--duration", "4s"])
        check_eq(rc, 0, "exit status (stderr %s)" % short(err))
        check_eq(s["chats_count"], 2, "chats found")
        check_eq(s["esmeload"]["errors"]["no_chat"], 0, "no_chat errors")

    def get_chats_ten_tries_then_fail():
        fs = FaultServer("empty_get_chats").start()
        rc, err, s, took = run(fs, ["-sci", "10", "-cpi", "5000", "-smi", "50",
                                    "--duration", "20s"])
        check_eq(rc, 1, "exit status (stderr %s)" % short(err))
        check("no chat after 10 get_chats" in err, "stderr: %s" % short(err))
        check_eq(fs.faults(r"get_chats of participant 1 answered \[\]"), 10,
                 "get_chats tries answered (server log %s)" % short(fs.log()))
        check(took >= 10 * 0.05, "ten tries smi apart took %.2f s" % took)

    def get_chats_unanswered_times_out():
        fs = FaultServer("silent_get_chats").start()
        rc, err, s, took = run(fs, ["-sci", "10", "-cpi", "5000", "-smi", "50",
                                    "--request-timeout", "1s", "--duration", "20s"])
        check_eq(rc, 1, "exit status (stderr %s)" % short(err))
        check(re.search(r"waiting for chat: participant 1: no get_chats response within 1s", err),
              "stderr: %s" % short(err))
        check_eq(s["esmeload"]["errors"]["timeout"], 1, "timeout errors")
        check_eq(fs.faults(r"get_chats of participant 1 not answered"), 1, "one try sent")

    # ---- organizer_time_started ---------------------------------------
    def organizer_time_after_sign_in():
        fs = FaultServer("slow_signin", "--delay", "1.0").start()
        rc, err, s, _ = run(fs, ["-sci", "10", "-cpi", "100", "-smi", "300", "--duration", "4s"])
        check_eq(rc, 0, "exit status (stderr %s)" % short(err))
        from datetime import datetime

        def t(k):
            v = re.sub(r"(\.\d{6})\d*", r"\1", s[k]).replace("Z", "+00:00")
            return datetime.fromisoformat(v).timestamp()
        gap = t("organizer_time_started") - t("participants_time_started")
        check(gap >= 0.9, "organizer started %.3f s after the participants" % gap)

    # ---- open loop -----------------------------------------------------
    def slow_sign_up_gets_connections_not_a_queue():
        # Each sign-up takes 0.5 s, one arrives every 20 ms: about 25 at a
        # time. Four connections would queue them (lag growing by seconds).
        fs = FaultServer("slow_signup", "--delay", "0.5").start()
        rc, err, s, _ = run(fs, ["-sci", "5", "-cpi", "20", "-smi", "1000",
                                 "--duration", "4s", "--max-errors", "1000"])
        e = s["esmeload"]
        check_eq(rc, 0, "exit status (stderr %s)" % short(err))
        check(s["created_participants_count"] >= 100, "participants %d" % s["created_participants_count"])
        lag = quantiles(e, "arrival_lag_ms")
        check(lag["p99"] < 400, "arrival lag p99 %.1f ms" % lag["p99"])
        su = quantiles(e["phases_ms"], "sign_up")
        check(su["p50"] >= 450, "sign-up phase p50 %.1f ms" % su["p50"])
        check(e["time_to_chat_ms"]["p50"] >= su["p50"], "time to chat >= sign-up")
        a = e["arrivals"]
        check(10 < a["rest_connections"] <= 64, "REST connections opened %d" % a["rest_connections"])
        check("arrivals left late" not in e["self_check"]["verdict"],
              "verdict: %s" % e["self_check"]["verdict"])

    def too_few_rest_connections_make_the_tester_the_limit():
        # The same slow sign-ups through two connections (one thread: the
        # limit is per thread): arrivals fall behind their schedule, and the
        # verdict says the tester was a limit.
        fs = FaultServer("slow_signup", "--delay", "0.5").start()
        rc, err, s, _ = run(fs, ["-sci", "5", "-cpi", "20", "-smi", "1000", "--http-conns", "2",
                                 "--threads", "1",
                                 "--duration", "3s", "--max-errors", "1000"])
        e = s["esmeload"]
        check_eq(rc, 0, "exit status (stderr %s)" % short(err))
        check(e["arrival_lag_ms"]["p99"] > 500, "arrival lag p99 %.1f" % e["arrival_lag_ms"]["p99"])
        check(e["arrivals"]["backlog_max"] > 10, "backlog %d" % e["arrivals"]["backlog_max"])
        check_eq(e["arrivals"]["rest_connections"], 2, "REST connections")
        sc = e["self_check"]
        check(sc["tester_limited"] is True, "tester_limited %s: %s" % (sc["tester_limited"], sc["verdict"]))
        check("arrivals left late" in sc["verdict"] and "--http-conns" in sc["verdict"],
              "verdict: %s" % sc["verdict"])

    def bytes_on_an_idle_rest_connection():
        # A server that answers nothing with a 408 on an idle keep-alive
        # connection: an error each time (--max-errors lets the run go on),
        # the connection is let go, and later arrivals get a new one; no
        # request is written into a connection that is gone (it would end
        # in a timeout).
        # The last of the 10 arrives at 1.8 s: by the end at 4 s every
        # participant created has had time to find its chat.
        fs = FaultServer("idle_408").start()
        rc, err, s, _ = run(fs, ["-sci", "10", "-cpi", "200", "-smi", "100", "--duration", "4s",
                                 "--max-participants", "10",
                                 "--max-errors", "1000", "--request-timeout", "1s"])
        e = s["esmeload"]
        check_eq(rc, 0, "exit status (stderr %s)" % short(err))
        errs = {k: v for k, v in e["errors"].items() if v}
        check(set(errs) == {"protocol"}, "only the unexpected bytes: %s" % errs)
        check("REST: unexpected bytes" in (e["first_error"] or ""), "first error %r" % e["first_error"])
        check(s["created_participants_count"] >= 8, "participants %d" % s["created_participants_count"])
        check_eq(s["created_participants_count"], s["chats_count"], "every participant found its chat")

    def request_deadline_runs_from_the_queue():
        # One REST connection, sign-ups taking 0.8 s, one arrival every
        # 100 ms, a 1 s deadline: participant 2 is queued at 0.1 s, written
        # at 0.8 s, answered at 1.6 s: past its deadline of 1.1 s.
        fs = FaultServer("slow_signup", "--delay", "0.8").start()
        rc, err, s, took = run(fs, ["-sci", "10", "-cpi", "100", "-smi", "1000",
                                    "--http-conns", "1", "--request-timeout", "1s",
                                    "--duration", "20s"])
        check_eq(rc, 1, "exit status (stderr %s)" % short(err))
        check(re.search(r"sign-up: participant [23]: no complete response within 1s", err),
              "stderr: %s" % short(err))
        check(took < 15, "stopped by the deadline, not the duration (%.1f s)" % took)

    # ---- the organizer pool --------------------------------------------
    def organizer_pool_is_distinct_accounts():
        srv = serve("--organizers", "3")
        with open(srv.cfg_path) as f:
            check_eq(len(json.load(f)["organizers"]), 3, "serve's config lists 3 accounts")
        # -cpi 23 against -sci 5: requests reach the queue at every phase
        # of the organizers' turns (20 would always meet the same one).
        rc, err, s, _ = run(srv, ["-sci", "5", "-cpi", "23", "-smi", "50", "--duration", "3s",
                                  "--organizers", "3"])
        e = s["esmeload"]
        check_eq(rc, 0, "exit status (stderr %s)" % short(err))
        orgs = e["organizers"]
        check_eq([o["email"] for o in orgs],
                 ["jan@kowalski.com", "jan+2@kowalski.com", "jan+3@kowalski.com"], "accounts")
        check_eq(sum(o["user_messages"] for o in orgs), e["organizer_received"], "per-account sum")
        check(all(o["user_messages"] > 0 for o in orgs), "every account got chats: %s" % orgs)
        # Each message goes to its chat's one organizer: one copy each
        # (plus a problem description per chat), not one per connection.
        check(e["organizer_received"] <= e["sent"] + e["new_chats"],
              "organizer copies %d for %d sent, %d chats started"
              % (e["organizer_received"], e["sent"], e["new_chats"]))
        check(e["organizer_received"] >= 0.9 * e["delivered"], "copies %d" % e["organizer_received"])
        check_eq(e["server"]["connections"]["organizer"], 3, "organizer connections on serve at the end")
        # More organizers than the config lists: a clear error.
        p = subprocess.run([esme.ESMELOAD, "run", "--config", srv.cfg_path, "--organizers", "4",
                            "--duration", "1s", "--quiet"], cwd=TMP, capture_output=True,
                           timeout=HANG)
        check_eq(p.returncode, 2, "exit status for 4 of 3 accounts")
        check(b"lists 3 organizer account(s)" in p.stderr, "stderr: %r" % p.stderr[-200:])
        # Without the list, the pool's addresses derive from organizer_email
        # as serve seeds them.
        with open(srv.cfg_path) as f:
            cfg = json.load(f)
        del cfg["organizers"]
        bare = os.path.join(TMP, "bare-config.json")
        with open(bare, "w") as f:
            json.dump(cfg, f)
        time.sleep(1.0)   # a new start second: participant e-mails carry it
        srv.cfg_path = bare
        rc, err, s, _ = run(srv, ["-sci", "5", "-cpi", "23", "-smi", "50", "--duration", "2s",
                                  "--organizers", "3"])
        check_eq(rc, 0, "exit status without the list (stderr %s)" % short(err))
        orgs = s["esmeload"]["organizers"]
        check_eq(orgs[2]["email"], "jan+3@kowalski.com", "derived address")
        check(all(o["user_messages"] > 0 for o in orgs), "every derived account chats: %s" % orgs)
        srv.kill()

    for name, fn in [
        ("server_error_frames_are_errors", server_error_frames_are_errors),
        ("quiet_run_accounts_for_every_message", quiet_run_accounts_for_every_message),
        ("timer_slack_trades_resolution", timer_slack_trades_resolution),
        ("echoes_held_at_the_stop_are_in_flight", echoes_held_at_the_stop_are_in_flight),
        ("echoes_never_sent_are_lost", echoes_never_sent_are_lost),
        ("cpi_zero_makes_one_participant", cpi_zero_makes_one_participant),
        ("cpi_zero_with_a_limit_ends", cpi_zero_with_a_limit_ends),
        ("a_closed_websocket_ends_its_participant", a_closed_websocket_ends_its_participant),
        ("get_chats_answer_is_awaited", get_chats_answer_is_awaited),
        ("get_chats_ten_tries_then_fail", get_chats_ten_tries_then_fail),
        ("get_chats_unanswered_times_out", get_chats_unanswered_times_out),
        ("organizer_time_after_sign_in", organizer_time_after_sign_in),
        ("slow_sign_up_gets_connections_not_a_queue", slow_sign_up_gets_connections_not_a_queue),
        ("too_few_rest_connections_make_the_tester_the_limit",
         too_few_rest_connections_make_the_tester_the_limit),
        ("request_deadline_runs_from_the_queue", request_deadline_runs_from_the_queue),
        ("bytes_on_an_idle_rest_connection", bytes_on_an_idle_rest_connection),
        ("organizer_pool_is_distinct_accounts", organizer_pool_is_distinct_accounts),
    ]:
        await r.case(name, fn)


if __name__ == "__main__":
    try:
        esme.main("test_run_truth", main, limit=280)
    finally:
        shutil.rmtree(TMP, True)
