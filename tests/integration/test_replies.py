#!/usr/bin/python3
"""esmeload run --org-reply-every: organizers who answer (issue 18, item 1).

replies_counted: against serve, every 2nd participant message an
  organizer reads gets a reply 200 ms later. The summary's replies add up
  (scheduled = half of what the organizers heard, but for the messages
  still on their way at the stop; scheduled >= sent = received +
  in_flight, some received), their latency
  is from each reply's schedule (at most the run's length), serve stored
  exactly the participants' messages, the replies and one description per
  chat, and the participants' own figures are untouched (every message
  delivered, none lost).
drawn_think_times: --org-think-dist exp gives replies too.
replies_off_by_default: without the flag the summary's replies is null
  and serve stored no message but the participants' and the descriptions.
bad_reply_flags: an unknown distribution, a negative count: exit 2, one
  line naming the flag.
Thresholds: replies_received and reply_p99 pass in replies_counted;
reply_threshold_fails: reply_p50 on a run without replies fails (exit
  99) and says there was no reply.
"""

import os
import sys

sys.dont_write_bytecode = True   # keep the tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esme  # noqa: E402
from esme import check, check_eq  # noqa: E402

BASE = ["-sci", "10", "-cpi", "50", "-smi", "100", "--max-participants", "6",
        "--duration", "3s", "--threads", "1"]


async def run(r):
    srv = esme.Server("--quiet").start()
    try:
        def stored_after(extra):
            before = srv.stats()["messages"]["stored"]
            s = esme.run_tester(srv.config, BASE + extra, timeout=90)
            e = s["esmeload"]
            replies = e["replies"]["sent"] if e["replies"] else 0
            want = e["sent"] + replies + s["chats_count"]
            esme.wait_until(lambda: srv.stats()["messages"]["stored"] - before == want,
                            what="serve stored the participants' %d messages, %d replies and %d "
                                 "descriptions (stored %d)" % (e["sent"], replies, s["chats_count"],
                                                               srv.stats()["messages"]["stored"] - before))
            return s, e

        def counted():
            s, e = stored_after(["--org-reply-every", "2", "--org-think", "200ms",
                                 "--threshold", "replies_received>0",
                                 "--threshold", "reply_p99<3s"])
            check_eq([t["passed"] for t in e["thresholds"]], [True, True], "thresholds on replies")
            check_eq(e["thresholds"][0]["measured"], e["replies"]["received"], "replies_received measured")
            rp = e["replies"]
            check(rp is not None, "replies is null with --org-reply-every")
            check(rp["received"] > 0, "no reply received: %s" % rp)
            check(rp["scheduled"] >= rp["sent"], "scheduled %d < sent %d" % (rp["scheduled"], rp["sent"]))
            check_eq(rp["sent"], rp["received"] + rp["in_flight"], "sent = received + in_flight")
            check_eq((rp["missed"], rp["dropped"]), (0, 0),
                     "nothing missed or dropped without reconnects or chat ends")
            # every 2nd of what the organizer heard: the participants'
            # messages and the descriptions, but for the few still on
            # their way when the run stopped
            heard = e["sent"] + s["chats_count"]
            check(heard // 2 - 6 <= rp["scheduled"] <= heard // 2,
                  "scheduled %d for %d messages heard" % (rp["scheduled"], heard))
            check(0 < rp["latency_ms"]["max"] < 3000, "reply latency %s" % rp["latency_ms"])
            check_eq(e["histograms"]["reply_latency"]["count"], rp["received"], "reply latency samples")
            check(e["sent"] > 0 and e["delivered"] == e["sent"] and e["lost"] == 0,
                  "the participants' own messages: sent %d delivered %d lost %d"
                  % (e["sent"], e["delivered"], e["lost"]))

        await r.case("replies_counted", counted, timeout=120)

        def drawn():
            s, e = stored_after(["--org-reply-every", "1", "--org-think", "100ms",
                                 "--org-think-dist", "exp"])
            check(e["replies"]["received"] > 0, "no reply with drawn think times: %s" % e["replies"])

        await r.case("drawn_think_times", drawn, timeout=120)

        def off():
            s, e = stored_after([])
            check(e["replies"] is None, "replies without the flag: %s" % e["replies"])
            check_eq(e["histograms"]["reply_latency"]["count"], 0, "reply latency samples")

        await r.case("replies_off_by_default", off, timeout=120)

        def bad():
            esme.check_bad_flags(srv.config, ((["--org-think-dist", "gauss"], "--org-think-dist"),
                                     (["--org-reply-every", "-1"], "--org-reply-every"),
                                     (["--org-think", "soon"], "--org-think")))

        await r.case("bad_reply_flags", bad)

        def failing():
            rc, err, _ = esme.run_failing(srv.config, BASE + ["--threshold", "reply_p50>3600s"],
                                          timeout=90)
            check_eq(rc, 99, "a reply threshold without replies (stderr %r)" % err[-300:])
            check("reply_p50>3600s" in err and "no reply received" in err,
                  "the failure says why: %r" % err[-300:])

        await r.case("reply_threshold_fails", failing, timeout=120)
    finally:
        srv.stop()


if __name__ == "__main__":
    esme.main("test_replies", run, limit=240)
