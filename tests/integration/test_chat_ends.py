#!/usr/bin/python3
"""esmeload run --chat-lifetime / --chat-messages / --reopen-after: chats
that end (issue 18, item 2).

lifetime_reopens: against serve, organizers close each chat 800 ms after
  it began and every participant asks again 200 ms after its chat closed.
  The summary's chats add up (opened = closed + active, opened = the
  chats found = serve's new chats), every participant had several chats,
  each reopened request was accepted (serve counted one chat request per
  arrival and per reopen: the close released the request lock) and popped
  from the queue (serve started a chat for each), and nothing is an error.
messages_lifetime: --chat-messages 4 without reopening: every chat closes
  once its organizer read the participant's 4th message; each participant
  had at least 4 messages delivered, what it sent after was refused
  (lost = refused_after_close, no server error) and the chats are all
  closed at the end.
refusals_fire: a server whose closed_chat reaches the participant a
  second after the organizer's close (fault_server late_closed_chat): the
  participant's messages meanwhile are refused with "you have no access to
  chat", counted in refused_after_close (and lost), not as errors.
replies_dropped: organizers answer every message 500 ms later but close
  each chat once they read its 3rd message: the replies still thinking
  when their chat closed are not sent (replies.dropped), and sent =
  received + missed + in_flight still holds.
refusals_quiet: a lifetime shorter than the send interval: no message
  goes to a closed chat, so none is refused and none lost.
all_arrive_with_reopens: --max-participants 4 without --duration ends
  once every participant arrived and had its first chat: reopened chats
  do not count as participants done.
refusal_without_close_is_error: refusals with no closed_chat behind them
  (it comes 20 s late, past the 2 s request timeout) fail the
  participant with an error that says so.
chats_quiet_within_lifetime: a lifetime longer than the run: nothing
  closed, nothing sent to close, every chat active.
chats_off_by_default: without the flags the summary's chats is null.
bad_lifetime_flags: exit 2 and one line naming the flag.
"""

import os
import sys

sys.dont_write_bytecode = True   # keep the tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esme  # noqa: E402
from esme import check, check_eq  # noqa: E402

BASE = ["-sci", "10", "-cpi", "50", "-smi", "100", "--threads", "1"]


def accounted(e):
    """The identities every summary keeps, chats ended or not."""
    check(e["accounted"], "sent %d = delivered %d + in_flight %d + lost %d"
          % (e["sent"], e["delivered"], e["in_flight"], e["lost"]))
    ch = e["chats"]
    check(ch is not None, "chats is null with a chat lifetime")
    check_eq(ch["opened"], ch["closed"] + ch["active"], "opened = closed + active (%s)" % ch)
    check(ch["accounted"], "chats.accounted: %s" % ch)
    check_eq(e["server_errors"], 0, "server errors (%s)" % e["first_error"])
    return ch


async def run(r):
    srv = esme.Server("--quiet").start()
    try:
        def reopens():
            st0 = srv.stats()
            s = esme.run_tester(srv.config, BASE + [
                "--max-participants", "6", "--duration", "5s",
                "--chat-lifetime", "800ms", "--reopen-after", "200ms",
                "--threshold", "chats_closed>=12", "--threshold", "chats_reopened>0"], timeout=90)
            st1 = srv.stats()
            e = s["esmeload"]
            ch = accounted(e)
            check_eq(ch["opened"], s["chats_count"], "opened = the chats the participants found")
            check_eq(ch["opened"], e["new_chats"], "opened = the organizer's new chats")
            check(ch["closed"] >= 12, "every participant's chat closed more than once: %s" % ch)
            check(ch["closes_sent"] >= ch["closed"], "closes sent %s" % ch)
            check(0 < ch["reopened"] <= ch["closed"], "reopened %s" % ch)
            check(ch["opened"] <= 6 + ch["reopened"], "a chat for each arrival and reopen: %s" % ch)
            check_eq(st1["chat_requests"] - st0["chat_requests"],
                     s["created_participants_count"] + ch["reopened"],
                     "serve accepted one request per arrival and per reopen")
            check_eq(st1["chats"]["total"] - st0["chats"]["total"], ch["opened"],
                     "serve started a chat for each request popped")
            check(all(v == 0 for v in e["errors"].values()), "errors %s" % e["errors"])
            check(e["echo_unmatched"] == 0, "echo_unmatched %d" % e["echo_unmatched"])
            th = e["thresholds"]
            check_eq([(t["passed"], t["measured"]) for t in th],
                     [(True, ch["closed"]), (True, ch["reopened"])], "chat thresholds")

        await r.case("lifetime_reopens", reopens, timeout=120)

        def by_messages():
            s = esme.run_tester(srv.config, BASE[:4] + [
                "-smi", "50", "--threads", "1", "--max-participants", "4",
                "--duration", "4s", "--chat-messages", "4"], timeout=90)
            e = s["esmeload"]
            ch = accounted(e)
            check_eq(ch["closed"], 4, "every chat closed: %s" % ch)
            check_eq(ch["active"], 0, "none active: %s" % ch)
            check_eq(ch["reopened"], 0, "none reopened: %s" % ch)
            check(e["delivered"] >= 16, "4 messages delivered per chat: %d" % e["delivered"])
            check_eq(e["lost"], ch["refused_after_close"], "lost = refused after the close")
            check_eq(e["in_flight"], 0, "nothing in flight")

        await r.case("messages_lifetime", by_messages, timeout=120)

        def dropped():
            s = esme.run_tester(srv.config, BASE[:4] + [
                "-smi", "50", "--threads", "1", "--max-participants", "3",
                "--duration", "3s", "--chat-messages", "3",
                "--org-reply-every", "1", "--org-think", "500ms"], timeout=90)
            e = s["esmeload"]
            accounted(e)
            rp = e["replies"]
            check(rp["dropped"] >= 3, "replies dropped with their chat: %s" % rp)
            check_eq(rp["sent"], rp["received"] + rp["missed"] + rp["in_flight"],
                     "sent = received + missed + in_flight")

        await r.case("replies_dropped", dropped, timeout=120)

        def quiet():
            s = esme.run_tester(srv.config, ["-sci", "10", "-cpi", "50", "-smi", "3000",
                                             "--threads", "1", "--max-participants", "3",
                                             "--duration", "2500ms", "--chat-lifetime", "300ms"],
                                timeout=90)
            e = s["esmeload"]
            ch = accounted(e)
            check_eq(ch["closed"], 3, "every chat closed before its first message: %s" % ch)
            check_eq(ch["refused_after_close"], 0, "nothing refused")
            check_eq(e["sent"], 0, "nothing sent")
            check_eq(e["lost"], 0, "nothing lost")

        await r.case("refusals_quiet", quiet, timeout=120)

        def none_closed():
            s = esme.run_tester(srv.config, BASE + ["--max-participants", "2", "--duration", "2s",
                                                    "--chat-lifetime", "60s"], timeout=90)
            ch = accounted(s["esmeload"])
            check_eq((ch["closed"], ch["closes_sent"], ch["reopened"]), (0, 0, 0),
                     "nothing closes before the lifetime: %s" % ch)
            check_eq(ch["active"], ch["opened"], "every chat still open")

        await r.case("chats_quiet_within_lifetime", none_closed, timeout=120)

        def off():
            s = esme.run_tester(srv.config, BASE + ["--max-participants", "2", "--duration", "2s"],
                                timeout=90)
            check(s["esmeload"]["chats"] is None, "chats without the flags: %s" % s["esmeload"]["chats"])

        await r.case("chats_off_by_default", off, timeout=120)

        def all_arrive():
            s = esme.run_tester(srv.config, ["-sci", "10", "-cpi", "400", "-smi", "50",
                                             "--threads", "1", "--max-participants", "4",
                                             "--chat-lifetime", "150ms", "--reopen-after", "50ms"],
                                timeout=90)
            e = s["esmeload"]
            ch = accounted(e)
            check_eq(s["created_participants_count"], 4, "every participant arrived")
            check_eq(e["stop_reason"], "max_participants", "the run ended when all were done")
            check(ch["reopened"] >= 2, "chats reopened before the last arrival: %s" % ch)

        await r.case("all_arrive_with_reopens", all_arrive, timeout=120)

        def bad():
            esme.check_bad_flags(srv.config, ((["--chat-lifetime", "0"], "--chat-lifetime"),
                                     (["--chat-messages", "-2"], "--chat-messages"),
                                     (["--reopen-after", "later"], "--reopen-after")))

        await r.case("bad_lifetime_flags", bad)
    finally:
        srv.stop()

    def late_close():
        fs = esme.FaultServer("late_closed_chat", "--delay", "1").start()
        try:
            s = esme.run_tester(fs.config, ["-sci", "10", "-cpi", "50", "-smi", "50",
                                            "--threads", "1", "--max-participants", "2",
                                            "--duration", "4s", "--chat-messages", "3"],
                                timeout=90)
        finally:
            fs.kill()
        e = s["esmeload"]
        ch = accounted(e)
        check(fs.injected() >= 1, "the late closed_chat was sent: %s" % fs.log())
        check(ch["refused_after_close"] >= 5,
              "a second of messages refused after the close: %s" % ch)
        check_eq(e["lost"], ch["refused_after_close"], "lost = refused after the close")
        check_eq(ch["closed"], 2, "both chats closed: %s" % ch)

    await r.case("refusals_fire", late_close, timeout=120)

    def no_close():
        fs = esme.FaultServer("late_closed_chat", "--delay", "20").start()
        try:
            rc, err, s = esme.run_failing(fs.config, [
                "-sci", "10", "-cpi", "50", "-smi", "50", "--threads", "1",
                "--max-participants", "1", "--duration", "15s", "--chat-messages", "3",
                "--request-timeout", "2s"], timeout=90)
        finally:
            fs.kill()
        check(rc != 0, "refusals without a close end the run with an error: %r" % err)
        check("no closed_chat" in err and err.count("\n") == 1,
              "one line that says the chat never closed: %r" % err)
        check(s is not None, "a summary")
        e = s["esmeload"]
        check_eq(e["errors"]["server"], 1, "one server error: %s" % e["errors"])
        check(e["chats"]["refused_after_close"] > 0, "the refusals counted: %s" % e["chats"])

    await r.case("refusal_without_close_is_error", no_close, timeout=120)


if __name__ == "__main__":
    esme.main("test_chat_ends", run, limit=300)
