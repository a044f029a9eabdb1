#!/usr/bin/python3
"""esmeload run --reconnect-uptime: people who reconnect (issue 18, item 3).

tester_drops: against serve, the tester drops each participant's
  connection 700 ms after it was last back in its chat; it comes back
  after 100 ms with its token, finds its chat, reads its history and
  carries on. Every return checked the history and found it whole (no
  message missing, doubled or unknown), the drops and returns add up,
  the back-in-chat time was measured, no error, and serve stored exactly
  what the participants sent (the cross-check): what was on its way at a
  drop is lost to its sender, and recovered counts those the history
  showed stored.
drawn_uptimes: --reconnect-dist exp draws the uptimes: drops happen too.
server_drops: fault_server resets (tcp_reset_midrun) or closes
  (ws_close_midrun) each participant connection after its 3rd message:
  with --reconnect-uptime the participants come back instead of failing,
  the drops are the server's, and the run ends without an error.
history_fires: fault_server's history lacks a participant's 2nd message,
  holds its 3rd twice and one it never sent (history_faulty): the check
  says missing, duplicated and unexpected, history.passed is false, and
  thresholds history_missing==0 and history_duplicated==0 fail the run
  (exit 99).
late_echoes: fault_server stores each message at once but echoes it
  400 ms later (slow_echo), longer than the backoff: the echoes of what
  a dropped connection sent reach the new one (echoes_after_drop), and
  the history holds them though they were never echoed before the drop
  (recovered), with nothing missing.
replies_missed_while_away: organizers answer every message 300 ms later
  and the participants stay away 300 ms: replies the server sent while
  they were away are found in the history (missed), and sent = received
  + missed + in_flight.
history_truncated_fires: a serve that keeps only the last 10 messages of
  a chat (--history 10): the histories begin after the chat's first
  messages, counted truncated, not missing, and history.passed stays
  true; a threshold history_truncated==0 fails the run (exit 99). In
  tester_drops (chats shorter than serve's 100) truncated is 0.
closed_while_rejoining: the chat closes between a returning
  participant's get_chats and its get_chat_history (fault_server
  close_on_rejoin, and _late, where the refusal comes before the
  closed_chat): the history's refusal is neither an error nor a refused
  message, the return is counted, and the chat ended.
reconnects_off_by_default: without the flag reconnects is null.
bad_reconnect_flags: exit 2 and one line naming the flag.
"""

import os
import sys

sys.dont_write_bytecode = True   # keep the tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esme  # noqa: E402
from esme import check, check_eq  # noqa: E402

BASE = ["-sci", "10", "-cpi", "50", "-smi", "50", "--threads", "1"]
FIXED = ["--reconnect-uptime", "700ms", "--reconnect-dist", "fixed",
         "--reconnect-backoff", "100ms"]


def consistent(e, rc):
    """What every run with reconnects keeps."""
    check(rc is not None, "reconnects is null with --reconnect-uptime")
    check(e["accounted"], "sent %d = delivered %d + in_flight %d + lost %d"
          % (e["sent"], e["delivered"], e["in_flight"], e["lost"]))
    drops = rc["drops_tester"] + rc["drops_server"]
    check(rc["rejoined"] <= drops, "rejoined %d <= drops %d" % (rc["rejoined"], drops))
    h = rc["history"]
    check_eq(h["missing"], 0, "history: missing (%s)" % h)
    check_eq(h["duplicated"], 0, "history: duplicated (%s)" % h)
    check_eq(h["unexpected"], 0, "history: unexpected (%s)" % h)
    check(h["recovered"] <= e["lost"], "recovered %d <= lost %d" % (h["recovered"], e["lost"]))
    check_eq(e["server_errors"], 0, "server errors (%s)" % e["first_error"])
    check(all(v == 0 for v in e["errors"].values()), "errors %s" % e["errors"])
    check_eq(e["echo_unmatched"], 0, "echo_unmatched")


async def run(r):
    srv = esme.Server("--quiet").start()
    try:
        def tester():
            s = esme.run_tester(srv.config, BASE + FIXED + [
                "--max-participants", "6", "--duration", "5s",
                "--threshold", "rejoin_p99<10s", "--threshold", "reconnects>0"], timeout=90)
            e = s["esmeload"]
            rc = e["reconnects"]
            consistent(e, rc)
            th = e["thresholds"]
            check_eq([t["passed"] for t in th], [True, True], "rejoin and reconnects thresholds")
            check_eq(th[0]["measured"], rc["back_in_chat_ms"]["p99"], "rejoin_p99 measured")
            check_eq(th[1]["measured"], rc["rejoined"], "reconnects measured")
            check(rc["drops_tester"] >= 12, "every participant dropped more than once: %s" % rc)
            check_eq(rc["drops_server"], 0, "the server dropped none")
            check(rc["rejoined"] >= rc["drops_tester"] - 6, "returns %s" % rc)
            check_eq(rc["history"]["checks"], rc["rejoined"], "a history check per return")
            check(rc["history"]["passed"] is True, "history passed: %s" % rc["history"])
            check(0 < rc["back_in_chat_ms"]["max"] < 10000, "back in chat %s" % rc["back_in_chat_ms"])
            check_eq(e["histograms"]["rejoin"]["count"], rc["rejoined"], "back-in-chat samples")
            check(e["cross_check"]["passed"] is True, "serve stored what was sent: %s" % e["cross_check"])
            check_eq(s["chats_count"], 6, "one chat each, kept across the reconnects")
            check_eq(rc["history"]["truncated"], 0, "no history cut short")

        await r.case("tester_drops", tester, timeout=120)

        def drawn():
            s = esme.run_tester(srv.config, BASE + [
                "--reconnect-uptime", "500ms", "--reconnect-backoff", "50ms",
                "--max-participants", "4", "--duration", "4s"], timeout=90)
            e = s["esmeload"]
            consistent(e, e["reconnects"])
            check(e["reconnects"]["drops_tester"] >= 4, "drawn uptimes: %s" % e["reconnects"])

        await r.case("drawn_uptimes", drawn, timeout=120)

        def off():
            s = esme.run_tester(srv.config, BASE + ["--max-participants", "2", "--duration", "2s"],
                                timeout=90)
            e = s["esmeload"]
            check(e["reconnects"] is None, "reconnects without the flag: %s" % e["reconnects"])
            check_eq(e["histograms"]["rejoin"]["count"], 0, "no back-in-chat samples")
            rc_, err, _ = esme.run_failing(srv.config, BASE + [
                "--max-participants", "2", "--duration", "2s", "--threshold", "rejoin_p50<1s"],
                timeout=90)
            check_eq(rc_, 99, "a rejoin threshold without reconnects (stderr %r)" % err[-300:])
            check("no reconnect back in its chat" in err, "the failure says why: %r" % err[-300:])

        await r.case("reconnects_off_by_default", off, timeout=120)

        def missed():
            s = esme.run_tester(srv.config, BASE + FIXED[:4] + [
                "--reconnect-backoff", "300ms", "--org-reply-every", "1", "--org-think", "300ms",
                "--max-participants", "4", "--duration", "4s", "--threshold", "replies_missed>0"],
                timeout=90)
            e = s["esmeload"]
            consistent(e, e["reconnects"])
            rp = e["replies"]
            check(rp["missed"] > 0, "replies missed while away: %s" % rp)
            check(e["thresholds"][0]["passed"] and
                  e["thresholds"][0]["measured"] == rp["missed"], "replies_missed>0: %s"
                  % e["thresholds"])
            check_eq(rp["sent"], rp["received"] + rp["missed"] + rp["in_flight"],
                     "sent = received + missed + in_flight")

        await r.case("replies_missed_while_away", missed, timeout=120)

        def bad():
            esme.check_bad_flags(srv.config, ((["--reconnect-dist", "normal"], "--reconnect-dist"),
                                     (["--reconnect-uptime", "-1s"], "--reconnect-uptime"),
                                     (["--reconnect-backoff", "x"], "--reconnect-backoff")))

        await r.case("bad_reconnect_flags", bad)
    finally:
        srv.stop()

    for mode in ("tcp_reset_midrun", "ws_close_midrun"):
        def server(mode=mode):
            fs = esme.FaultServer(mode, "--after", "3").start()
            try:
                s = esme.run_tester(fs.config, BASE + [
                    "--reconnect-uptime", "60s", "--reconnect-backoff", "100ms",
                    "--max-participants", "3", "--duration", "4s"], timeout=90)
            finally:
                fs.kill()
            e = s["esmeload"]
            rc = e["reconnects"]
            consistent(e, rc)
            check(fs.injected() >= 3, "the server dropped connections: %s" % fs.log())
            check(rc["drops_server"] >= 3, "drops by the server: %s" % rc)
            check_eq(rc["drops_tester"], 0, "the tester dropped none")
            check(rc["rejoined"] >= 3, "the participants came back: %s" % rc)
            check(rc["history"]["passed"] is True, "history passed: %s" % rc["history"])
            check_eq(e["stop_reason"], "duration", "the run went on to its end")

        await r.case("server_drops_" + mode, server, timeout=120)

    def truncated():
        short = esme.Server("--quiet", "--history", "10").start()
        try:
            rc_, err, s = esme.run_failing(short.config, BASE + FIXED + [
                "--max-participants", "2", "--duration", "3s",
                "--threshold", "history_truncated==0"], timeout=90)
        finally:
            short.stop()
        check_eq(rc_, 99, "a truncated history fails its threshold (stderr %r)" % err[-300:])
        check(s is not None, "a summary")
        h = s["esmeload"]["reconnects"]["history"]
        check(h["truncated"] > 0, "histories cut at their start: %s" % h)
        check_eq(h["missing"], 0, "nothing missing from a history's middle: %s" % h)
        check(h["passed"] is True, "history.passed: %s" % h)

    await r.case("history_truncated_fires", truncated, timeout=120)

    for mode in ("close_on_rejoin", "close_on_rejoin_late"):
        def closing(mode=mode):
            fs = esme.FaultServer(mode, "--delay", "0.5").start()
            try:
                s = esme.run_tester(fs.config, BASE + FIXED + [
                    "--chat-lifetime", "60s", "--max-participants", "2",
                    "--duration", "3s"], timeout=90)
            finally:
                fs.kill()
            e = s["esmeload"]
            rc, ch = e["reconnects"], e["chats"]
            check(fs.injected() >= 2, "the chats closed as they came back: %s" % fs.log())
            check_eq(e["server_errors"], 0, "server errors (%s)" % e["first_error"])
            check_eq(ch["refused_after_close"], 0, "no message refused: %s" % ch)
            check_eq(ch["closed"], 2, "both chats ended: %s" % ch)
            check_eq(rc["rejoined"], rc["drops_tester"], "every return counted: %s" % rc)
            check_eq(rc["history"]["checks"], 0, "no history checked: %s" % rc)

        await r.case("closed_while_rejoining_" + mode, closing, timeout=120)

    def late():
        fs = esme.FaultServer("slow_echo", "--delay", "0.4").start()
        try:
            s = esme.run_tester(fs.config, BASE + FIXED + [
                "--max-participants", "2", "--duration", "4s"], timeout=90)
        finally:
            fs.kill()
        e = s["esmeload"]
        rc = e["reconnects"]
        consistent(e, rc)
        check(rc["echoes_after_drop"] > 0, "echoes of a dropped connection's messages: %s" % rc)
        check(rc["history"]["recovered"] > 0, "stored, never echoed before the drop: %s" % rc)
        check(rc["history"]["passed"] is True, "history passed: %s" % rc["history"])

    await r.case("late_echoes", late, timeout=120)

    def faulty():
        fs = esme.FaultServer("history_faulty").start()
        try:
            rc, err, s = esme.run_failing(fs.config, BASE + FIXED + [
                "--max-participants", "2", "--duration", "3s",
                "--threshold", "history_missing==0", "--threshold", "history_duplicated==0"],
                timeout=90)
        finally:
            fs.kill()
        check_eq(rc, 99, "a history threshold on a faulty history (stderr %r)" % err[-300:])
        check("history_missing==0" in err, "the failure names the threshold: %r" % err[-300:])
        check(s is not None, "a summary")
        h = s["esmeload"]["reconnects"]["history"]
        check(fs.injected() >= 1, "the faulty history was sent: %s" % fs.log())
        check(h["missing"] >= 1 and h["duplicated"] >= 1 and h["unexpected"] >= 1,
              "the check found the three faults: %s" % h)
        check_eq([t["passed"] for t in s["esmeload"]["thresholds"]], [False, False],
                 "history_missing and history_duplicated thresholds")
        check(h["passed"] is False, "history.passed: %s" % h)

    await r.case("history_fires", faulty, timeout=120)


if __name__ == "__main__":
    esme.main("test_reconnects", run, limit=360)
