"""esmeload run against a hostile server: one fault at a time.

fault_server.py (beside this file) imitates the three ESME services and
misbehaves in one chosen way (--fault MODE). For each mode, esmeload run must
stop by itself, quickly, with:
  - exactly one line on stderr naming the phase, the participant (or the
    organizer) and the cause;
  - a non-zero exit code (and no crash: a signal is a failure);
  - both output files written (<unix>_performance_test_summary.json and
    <unix>_performance_test_message_rates.json) with the counts so far,
    esmeload.stop_reason "error" and esmeload.first_error set;
  - no hang: every run has a subprocess timeout, and it must end before
    its --duration (a safety net: a run that ends by it missed the fault).
Then --max-errors: errors counted while the run goes on for its --duration.

On a busy machine the imitation (Python) may be slow to answer, so every
deadline esmeload has is generous (10 s) except the one a case's fault
must trip (2 s): slowness is never mistaken for the fault.

Debian's /usr/bin/python3; ESMELOAD names the binary (default build/esmeload).
"""

import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True   # keep the tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esme  # noqa: E402
from esme import check, check_eq, Fail, short  # noqa: E402


# Every file of this script (configs, server logs, run outputs) goes under one
# temporary directory, removed at exit unless ESME_IT_KEEP is set.
TMP = tempfile.mkdtemp(prefix="esme-faults-")
if not os.environ.get("ESME_IT_KEEP"):
    atexit.register(shutil.rmtree, TMP, True)


def tmpdir(prefix):
    return tempfile.mkdtemp(prefix=prefix, dir=TMP)

DURATION = 60           # --duration of a faulty run: a safety net only
BOUND = DURATION - 5    # seconds a faulty run may take, start to exit: before its --duration
HANG = DURATION + 30    # subprocess timeout: past it the run is killed, a hang
AFTER = 3               # send_message frames before a mid-run fault

# Every run: small intervals so the fault is met at once, and every deadline
# esmeload has generous; the cases below set the one their fault trips to
# 2 s (a later flag wins). --duration is a safety net only: a run that ends
# by it has missed the fault (stop_reason "duration" is reported as such).
# --http-conns 4 pins the REST calls in flight (the --max-errors bounds).
DEADLINES = ["--connect-timeout", "10s", "--handshake-timeout", "10s",
             "--request-timeout", "10s", "--send-timeout", "10s"]
BASE = ["-sci", "10", "-cpi", "50", "-smi", "20", "--quiet", "--duration", "%ds" % DURATION,
        "--http-conns", "4"] + DEADLINES
REQ_T = ["--request-timeout", "2s"]
SEND_T = ["--send-timeout", "2s"]
HAND_T = ["--handshake-timeout", "2s"]
CONN_T = ["--connect-timeout", "2s"]
HTTP_CONNS = 4

PART = r"\bparticipant \d+\b"
ANY = r"\b(participant|organizer) \d+\b"

# name, fault mode, fault-server args, extra run args,
# phase regex, who regex, cause regex, error kinds (any may count it), what ran
CASES = [
    ("http500", "http500", [], [],
     r"\bsign-up\b", PART, r"\b500\b", {"http_status"}, "rest"),
    ("bad_status_line", "bad_status_line", [], [],
     r"\bsign-up\b", PART, r"malformed|invalid|status", {"protocol"}, "rest"),
    ("body_short_then_close", "body_short", [], [],
     r"\bsign-up\b", PART, r"clos|reset|short|incomplete|truncat|EOF", {"recv", "closed", "protocol"}, "rest"),
    ("body_short_then_silence", "rest_stall", [], REQ_T,
     r"\bsign-up\b", PART, r"time|within", {"timeout", "recv"}, "rest"),
    ("body_long_garbage", "body_long", [], [],
     r"\b(sign-up|chat request)\b", PART, r"malformed|unexpected|garbage|invalid",
     {"protocol"}, "rest"),
    ("invalid_json", "invalid_json", [], [],
     r"\bsign-up\b", PART, r"JSON|json|token", {"protocol"}, "rest"),
    ("no_token", "no_token", [], [],
     r"\bsign-up\b", PART, r"token", {"protocol"}, "rest"),
    ("ws_bad_accept", "ws_bad_accept", [], [],
     r"\bhandshake\b", ANY, r"Sec-WebSocket-Accept", {"ws_handshake"}, "handshake"),
    ("ws_not_101_403", "ws_not_101", ["--status", "403"], [],
     r"\bhandshake\b", ANY, r"\b403\b", {"ws_handshake"}, "handshake"),
    ("ws_not_101_200", "ws_not_101", ["--status", "200"], [],
     r"\bhandshake\b", ANY, r"\b200\b", {"ws_handshake"}, "handshake"),
    ("ws_masked_from_server", "ws_masked_from_server", [], [],
     r"\bmessenger\b", PART, r"mask|invalid WebSocket frame|protocol", {"protocol"}, "midrun"),
    ("ws_huge_frame", "ws_huge_frame", [], [],
     r"\bmessenger\b", PART, r"frame|too (big|large|long)", {"protocol"}, "midrun"),
    ("ws_close_midrun", "ws_close_midrun", [], [],
     r"\bmessenger\b", PART, r"clos", {"closed"}, "midrun"),
    ("tcp_reset_midrun", "tcp_reset_midrun", [], [],
     r"\bmessenger\b", PART, r"reset|clos", {"closed", "recv"}, "midrun"),
    # The server's receive buffer is 4 KiB; a small --sndbuf and a fast -smi
    # fill the client's side within a second, so the stall shows at once
    # (with the kernel's default send buffer, up to 4 MiB, it can take minutes).
    ("stop_reading", "stop_reading", [], SEND_T + ["-smi", "5", "--sndbuf", "4096"],
     r"\bmessenger\b", PART, r"send", {"send", "timeout"}, "midrun"),
    ("slow_bytes_handshake", "slow_bytes", [], HAND_T,
     r"\bhandshake\b", ANY, r"time|within", {"ws_handshake", "timeout"}, "handshake"),
    ("connection_refused", "connection_refused", [], [],
     r"\b(connect|messenger)\b", ANY, r"refused", {"connect"}, "connect"),
    ("connect_timeout_accept_queue_full", "accept_full", [], CONN_T,
     r"\b(connect|messenger)\b", ANY, r"time", {"connect", "timeout"}, "connect"),
    ("unknown_host", "unknown_host", [], [],
     r"\b(connect|messenger|resolve)\b", ANY, r"resolve|unknown|not known|invalid",
     {"connect"}, "connect"),
]


def FaultServer(mode, *extra):
    """esme.FaultServer with this script's mid-run count and directory."""
    return esme.FaultServer(mode, "--after", AFTER, *extra, parent=TMP)


def run_esmeload(srv, args, out_dir=None):
    """One bounded `esmeload run`; returns (rc, stdout, stderr, seconds, out dir)."""
    d = out_dir or tmpdir("run-")
    t0 = time.monotonic()
    try:
        p = subprocess.run([esme.ESMELOAD, "run", "--config", srv.cfg_path, "--out-dir", d] + args,
                           cwd=d, stdin=subprocess.DEVNULL, capture_output=True, timeout=HANG)
    except subprocess.TimeoutExpired as e:
        raise Fail("hang: esmeload did not exit within %d s (killed); stderr: %s; server: %s" % (
            HANG, short((e.stderr or b"").decode(errors="replace")), srv.log()))
    return (p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"),
            time.monotonic() - t0, d)


def outputs(d):
    """The summary and message-rate files of one run (exactly one each)."""
    names = sorted(os.listdir(d))
    summ = [n for n in names if re.match(r"^\d{10}_performance_test_summary\.json$", n)]
    rates = [n for n in names if re.match(r"^\d{10}_performance_test_message_rates\.json$", n)]
    check(len(summ) == 1 and len(rates) == 1,
          "output files: expected one summary and one message-rates file, found %s" % names)
    check_eq(summ[0].split("_")[0], rates[0].split("_")[0], "the two files' unix prefix")
    s = esme.load_summary(os.path.join(d, summ[0]))
    with open(os.path.join(d, rates[0])) as f:
        r = json.load(f)
    check(isinstance(r, dict), "message rates is an object")
    check_eq(sum(r.values()), s["messages_sent"], "sum of message rates == messages_sent")
    return s


def stderr_lines(err):
    return [l for l in err.splitlines() if l.strip()]


def check_counts(s, kind, what):
    sent, chats, created = s["messages_sent"], s["chats_count"], s["created_participants_count"]
    e = s["esmeload"]
    if kind == "rest":
        check_eq((sent, chats, e["connected"]), (0, 0, 0), "%s: sent, chats, connected" % what)
        check(created <= 1, "%s: participants created %d" % (what, created))
    elif kind in ("handshake", "connect"):
        check_eq((sent, e["connected"]), (0, 0), "%s: sent, connected" % what)
    elif kind == "midrun":
        check(sent >= AFTER, "%s: messages_sent %d, the fault comes after %d" % (what, sent, AFTER))
        check(chats >= 1 and created >= 1 and e["connected"] >= 1,
              "%s: counts so far: chats %d, created %d, connected %d" % (what, chats, created, e["connected"]))
        check(e["delivered"] >= AFTER - 1 or what.startswith("stop_reading"),
              "%s: delivered %d before the fault" % (what, e["delivered"]))


def check_failed_run(srv, res, phase, who, cause, kinds, kind, what):
    rc, out, err, dt, d = res
    lines = stderr_lines(err)
    ctx = "(rc %s, %.2f s, stderr %r, server: %s)" % (rc, dt, short(err, 400), srv.log(300))
    check(srv.injected() > 0, "%s: the fault was never injected %s" % (what, ctx))
    check(rc >= 0, "%s: esmeload crashed: killed by signal %d %s" % (what, -rc, ctx))
    check(rc != 0, "%s: exit code 0 after the fault %s" % (what, ctx))
    check(dt < BOUND, "%s: took %.2f s, ended by its --duration %ds? %s" % (what, dt, DURATION, ctx))
    check(len(lines) == 1, "%s: expected exactly one line on stderr, got %d %s" % (what, len(lines), ctx))
    line = lines[0]
    try:
        s = outputs(d)
    except Fail as e:
        raise Fail("%s: %s; esmeload exited %d, stderr %r" % (what, e, rc, line))
    check(re.search(phase, line), "%s: stderr line does not name the phase /%s/: %r" % (what, phase, line))
    check(re.search(who, line), "%s: stderr line does not name who /%s/: %r" % (what, who, line))
    check(re.search(cause, line), "%s: stderr line does not name the cause /%s/: %r" % (what, cause, line))
    e = s["esmeload"]
    check_eq(e["stop_reason"], "error", "%s: stop_reason" % what)
    fe = e["first_error"]
    check(isinstance(fe, str) and fe and fe in line,
          "%s: first_error %r is not the stderr line %r" % (what, fe, line))
    errs = e["errors"]
    check(sum(errs.values()) >= 1, "%s: no error counted: %s" % (what, errs))
    check(any(errs.get(k, 0) >= 1 for k in kinds),
          "%s: errors counted under %s, expected one of %s" % (what,
              {k: v for k, v in errs.items() if v}, sorted(kinds)))
    check_counts(s, kind, what)
    return s, line


async def run(r):
    if not (os.path.isfile(esme.ESMELOAD) and os.access(esme.ESMELOAD, os.X_OK)):
        raise esme.Skip("%s is not built" % esme.ESMELOAD)
    results = {}

    # The imitation itself behaves when asked to: else every case below
    # would test the imitation, not esmeload.
    def control():
        srv = FaultServer("none").start()
        try:
            rc, out, err, dt, d = run_esmeload(srv, ["-sci", "10", "-cpi", "50", "-smi", "20",
                                                      "--quiet", "--duration", "3s"])
        finally:
            srv.kill()
        check_eq(rc, 0, "exit code of a clean run (stderr %r)" % short(err))
        check_eq(stderr_lines(err), [], "stderr of a clean run")
        s = outputs(d)
        e = s["esmeload"]
        # Every phase ran, for more than one participant (60 arrivals and
        # some 4,000 messages are due: the margin is for a busy machine).
        check(s["chats_count"] >= 2 and s["messages_sent"] >= 10,
              "clean run did little: chats %d sent %d" % (s["chats_count"], s["messages_sent"]))
        check(e["delivered"] >= 0.9 * s["messages_sent"] - 5 * s["chats_count"],
              "echoes delivered %d of %d" % (e["delivered"], s["messages_sent"]))
        check_eq(sum(e["errors"].values()), 0, "errors of a clean run")

    await r.case("fault_server_clean_run", control, timeout=30)

    for name, mode, sargs, rargs, phase, who, cause, kinds, kind in CASES:
        def fn(name=name, mode=mode, sargs=sargs, rargs=rargs, phase=phase, who=who,
               cause=cause, kinds=kinds, kind=kind):
            srv = FaultServer(mode, *sargs).start()
            try:
                res = run_esmeload(srv, BASE + rargs)
            finally:
                srv.kill()
            s, line = check_failed_run(srv, res, phase, who, cause, kinds, kind, name)
            results[name] = "%.1fs %s" % (res[3], line)
        await r.case("fault_" + name, fn, needs=("fault_server_clean_run",), timeout=HANG + 15)

    # --max-errors: a fault that hits every participant (every sign-up is a
    # 500). README/--help: "--max-errors N  stop after N errors (default 1)";
    # nothing says a run that ends by --duration below N fails, and the
    # documented way to fail a run on errors is --threshold errors==0 (exit
    # 99). So: errors counted, the run lasts its duration, exit 0; the first
    # error still named once on stderr and in the summary.
    def max_errors_continue():
        srv = FaultServer("http500").start()
        try:
            common = ["-sci", "10", "-cpi", "20", "-smi", "20", "--quiet", "--duration", "3s",
                      "--max-errors", "1000", "--http-conns", str(HTTP_CONNS)] + DEADLINES
            da, db = tmpdir("maxerr-a-"), tmpdir("maxerr-b-")
            # Two runs at once, the second with a threshold on errors.
            t0 = time.monotonic()
            pa = subprocess.Popen([esme.ESMELOAD, "run", "--config", srv.cfg_path, "--out-dir", da] + common,
                                  cwd=da, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            pb = subprocess.Popen([esme.ESMELOAD, "run", "--config", srv.cfg_path, "--out-dir", db] + common +
                                  ["--threshold", "errors==0"],
                                  cwd=db, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            res = []
            for p in (pa, pb):
                try:
                    out, err = p.communicate(timeout=HANG)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.communicate()
                    raise Fail("hang: --max-errors run did not exit within %d s" % HANG)
                res.append((p.returncode, err.decode(errors="replace"), time.monotonic() - t0))
        finally:
            for p in (pa, pb):
                if p.poll() is None:
                    p.kill()
                    p.wait()
            srv.kill()
        (rca, erra, dta), (rcb, errb, dtb) = res
        check(2.8 <= dta < BOUND, "run with --max-errors 1000 took %.2f s: expected its --duration 3s "
              "(stderr %r)" % (dta, short(erra)))
        sa = outputs(da)
        ea = sa["esmeload"]
        check(ea["errors"]["http_status"] > 1, "errors.http_status %d: errors not counted (%s)" % (
            ea["errors"]["http_status"], ea["errors"]))
        # Every 500 the imitation sent to the two runs is counted, but those
        # still in flight at the end (at most --http-conns per run): however
        # many arrivals a busy machine managed in 3 s.
        sb = outputs(db)
        total, sent500 = ea["errors"]["http_status"] + sb["esmeload"]["errors"]["http_status"], srv.injected()
        check(sent500 - 2 * HTTP_CONNS <= total <= sent500,
              "errors.http_status %d + %d counted, %d answered 500" % (
                  ea["errors"]["http_status"], sb["esmeload"]["errors"]["http_status"], sent500))
        check_eq(sa["created_participants_count"], 0, "participants created while every sign-up fails")
        check_eq(ea["stop_reason"], "duration", "stop_reason with errors below --max-errors")
        check(isinstance(ea["first_error"], str) and "sign-up" in ea["first_error"] and
              "500" in ea["first_error"], "first_error %r" % ea["first_error"])
        check(rca >= 0, "crashed: signal %d" % -rca)
        check_eq(rca, 0, "exit code with errors below --max-errors (documented: only thresholds fail "
                 "such a run; stderr %r)" % short(erra))
        check_eq(rcb, 99, "exit code with --threshold errors==0 failed (stderr %r)" % short(errb))
        check(any("errors==0" in l for l in stderr_lines(errb)), "threshold named on stderr: %r" % errb)
        la = stderr_lines(erra)
        check(len(la) == 1 and "sign-up" in la[0] and re.search(PART, la[0]) and "500" in la[0],
              "stderr with %d errors tolerated: expected one line naming the first error "
              "(phase, participant, cause), got %r" % (ea["errors"]["http_status"], erra))
        results["max_errors"] = "%.1fs rc %d / %d, %d errors" % (dta, rca, rcb, ea["errors"]["http_status"])

    await r.case("max_errors_1000_counts_and_continues", max_errors_continue, timeout=HANG + 15)

    def max_errors_reached():
        srv = FaultServer("http500").start()
        try:
            res = run_esmeload(srv, ["-sci", "10", "-cpi", "20", "-smi", "20", "--quiet",
                                     "--duration", "%ds" % DURATION, "--max-errors", "5",
                                     "--http-conns", str(HTTP_CONNS)] + DEADLINES)
        finally:
            srv.kill()
        rc, out, err, dt, d = res
        check(rc >= 0, "crashed: signal %d" % -rc)
        check(rc != 0, "exit 0 after reaching --max-errors")
        check(dt < BOUND, "took %.2f s" % dt)
        lines = stderr_lines(err)
        check(len(lines) == 1 and re.search(PART, lines[0]) and "sign-up" in lines[0],
              "one stderr line naming the first error: %r" % err)
        s = outputs(d)
        n = s["esmeload"]["errors"]["http_status"]
        check(5 <= n <= 10, "stopped at --max-errors 5 with %d errors counted" % n)
        check_eq(s["esmeload"]["stop_reason"], "error", "stop_reason")

    await r.case("max_errors_5_reached_stops", max_errors_reached, timeout=HANG + 15)

    # A participant's connection whose server stopped reading is closed
    # after --send-timeout, and the run goes on (--max-errors): its socket
    # must leave ESTABLISHED then, with SEND_ZC too, whose notification
    # never comes while the peer's window is shut. Watched with ss: a
    # socket whose Send-Q stays non-empty for 3 samples is stalled; each
    # must be gone within LATE s (the send timeout, 1 s, the check that
    # runs once a second, and room for a busy machine) while the run
    # lasts; at least one stalled socket must have been watched that long
    # or seen to close, else nothing was shown.
    STALL_RUN, LATE = 12, 7.0

    def stalled_closed(extra):
        srv = FaultServer("stop_reading").start()
        port = int(re.search(r":(\d+)", srv.config["messenger_ws_url"]).group(1))
        d = tmpdir("stall-")
        args = ["-sci", "10", "-cpi", "50", "-smi", "5", "--sndbuf", "4096", "--quiet",
                "--max-errors", "1000"] + DEADLINES + ["--duration", "%ds" % STALL_RUN,
                                                       "--send-timeout", "1s"]
        p = subprocess.Popen([esme.ESMELOAD, "run", "--config", srv.cfg_path, "--out-dir", d]
                             + args + extra, cwd=d, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        t0 = time.monotonic()
        runs, stalled, late, closed = {}, {}, [], set()
        try:
            while p.poll() is None and time.monotonic() - t0 < STALL_RUN - 0.5:
                now = time.monotonic()
                out = subprocess.run(["ss", "-tnH", "state", "established",
                                      "( dport = :%d )" % port],
                                     capture_output=True, timeout=5).stdout.decode()
                open_now = {}
                for line in out.splitlines():
                    f = line.split()
                    if len(f) >= 3:
                        open_now[f[2]] = int(f[1])
                for local, sendq in open_now.items():
                    runs[local] = runs.get(local, 0) + 1 if sendq > 0 else 0
                    if runs[local] >= 3 and local not in stalled:
                        stalled[local] = now
                for local, since in stalled.items():
                    if local not in open_now:
                        closed.add(local)
                    elif now - since > LATE and local not in late:
                        late.append(local)
                time.sleep(0.1)
            watched = time.monotonic()
            try:
                err = p.communicate(timeout=HANG)[1].decode(errors="replace")
            except subprocess.TimeoutExpired:
                raise Fail("hang: the stalled-connection run did not exit within %d s" % HANG)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            srv.kill()
        check(p.returncode >= 0, "crashed: signal %d" % -p.returncode)
        check(stalled, "%s: no connection stalled (server: %s)" % (extra, srv.log()))
        check(not late, "%s: stalled connections still open %.0f s after the stall began, with "
              "--send-timeout 1s: %s of %d (stderr %r)" % (extra, LATE, late, len(stalled), short(err)))
        judged = [k for k, since in stalled.items() if k in closed or watched - since > LATE]
        check(judged, "%s: no stalled connection closed or watched for %.0f s (stalled at %s s)"
              % (extra, LATE, [round(v - t0, 1) for v in stalled.values()]))
        s = outputs(d)
        check(s["esmeload"]["errors"]["send"] >= 1, "%s: send stalls counted: %s" %
              (extra, s["esmeload"]["errors"]))
        results["stalled_closed" + "".join(extra)] = "%d stalled, %d seen closed" % (len(stalled), len(closed))

    await r.case("stop_reading_stalled_connection_closed",
                 lambda: stalled_closed([]), needs=("fault_server_clean_run",), timeout=HANG + 15)
    await r.case("stop_reading_stalled_connection_closed_zc",
                 lambda: stalled_closed(["--zc"]), needs=("fault_server_clean_run",),
                 timeout=HANG + 15)

    for k, v in results.items():
        print("  %-36s %s" % (k, v), flush=True)


if __name__ == "__main__":
    esme.main("test_faults", run, limit=280)
