"""`esmeload run` under each io_uring setup option (--zc, --sqpoll,
--defer-taskrun=false, small --ring-entries and --recv-buffers), and the
newer io_uring features each used and refused (--uring-off, --wake-grain).

Each option changes how frames reach the kernel or how completions come
back, not what is sent: every case runs the scenario against its own
`esmeload serve`, checks that the summary names the mode that was used,
and that serve received exactly the messages esmeload counted as sent.
"""

import os
import subprocess
import tempfile
import time

import esme
from esme import check, check_eq


def run_with(extra, check_self):
    srv = esme.Server("--quiet", name="ringopts").start()
    try:
        s = esme.run_tester(srv.config, ["-sci", "10", "-cpi", "20", "-smi", "50",
                                         "--duration", "2s", "--quiet"] + extra)
        sc = s["esmeload"]["self_check"]
        check_self(sc)
        sent = s["messages_sent"]
        # About 2,000 are due in the 2 s: a twentyfold margin for a busy
        # machine, and enough to fill 64 SQEs and 16 receive buffers.
        check(sent > 100, "messages sent with %s: %d" % (extra, sent))
        deadline = time.monotonic() + esme.WAIT
        while True:
            st = srv.stats()
            if st["messages"]["received"] >= sent or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        check_eq(st["messages"]["received"], sent,
                 "serve messages.received == esmeload messages_sent with %s" % extra)
        delivered = s["esmeload"]["delivered"]
        check(sent * 0.99 <= delivered <= sent,
              "delivered %d of %d sent with %s" % (delivered, sent, extra))
        return s
    finally:
        srv.kill()


async def run(r):
    def zc():
        def self_check(sc):
            check(sc["send"] in ("send_zc_fixed", "send_zc"),
                  "self_check.send names SEND_ZC: %r" % sc["send"])
            check(sc["zc_sends"] > 0, "SEND_ZC notifications counted: %r" % sc)
            check(0 <= sc["zc_copied"] <= sc["zc_sends"],
                  "copied sends within the SEND_ZC sends: %r" % sc)
        run_with(["--zc"], self_check)

    def plain_send():
        def self_check(sc):
            check_eq(sc["send"], "send", "self_check.send without --zc")
            check("zc_sends" not in sc, "no SEND_ZC counters without --zc")
        run_with([], self_check)

    def sqpoll():
        run_with(["--sqpoll"], lambda sc: check_eq(sc["ring"], "sqpoll", "self_check.ring"))

    def no_defer():
        def self_check(sc):
            check(sc["ring"] in ("coop_taskrun", "plain"),
                  "self_check.ring without DEFER_TASKRUN: %r" % sc["ring"])
        run_with(["--defer-taskrun=false"], self_check)

    def small_rings():
        # 64 SQEs and 16 receive buffers per ring: the submission queue
        # fills and buffers run out, and nothing may be lost.
        run_with(["--ring-entries", "64", "--recv-buffers", "16"], lambda sc: None)

    def bad_zc_value():
        p = subprocess.run([esme.ESMELOAD, "run", "--zc=maybe"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        err = p.stderr.decode(errors="replace")
        check_eq(p.returncode, 2, "exit status for --zc=maybe")
        lines = [l for l in err.splitlines() if l.strip()]
        check_eq(len(lines), 1, "one line on stderr (%r)" % err)
        check("--zc" in lines[0] and "maybe" in lines[0], "names flag and value: %r" % lines[0])

    def ring_fd_on():
        def self_check(sc):
            check_eq(sc["uring_features"].get("ring_fd"), "on",
                     "a registered ring descriptor on this kernel: %r" % sc["uring_features"])
            check_eq(sc["uring_features"].get("min_wait"), "unused",
                     "no minimum wait without --wake-grain")
            # One ring a thread while --max-conns fits one table.
            check_eq(sc["rings"], sc["threads"], "rings with the default limits")
        s = run_with([], self_check)
        check_eq(s["esmeload"]["timer"]["wake_grain_us"], 0, "timer.wake_grain_us by default")

    def ring_fd_refused():
        def self_check(sc):
            check_eq(sc["uring_features"].get("ring_fd"), "off",
                     "--uring-off ring_fd: %r" % sc["uring_features"])
        run_with(["--uring-off", "ring_fd"], self_check)

    def all_refused():
        def self_check(sc):
            feats = sc["uring_features"]
            check(feats and all(v in ("off",) for v in feats.values()),
                  "--uring-off all refuses every feature: %r" % feats)
        run_with(["--uring-off", "all", "--wake-grain", "1ms"], self_check)

    # The minimum wait: once a completion is there, the loop's wait lasts
    # the grain, so timers fire later (which only a busier machine makes
    # worse: the bound below holds there too).
    def wake_grain():
        def self_check(sc):
            check_eq(sc["uring_features"].get("min_wait"), "on",
                     "--wake-grain 5ms uses the kernel's minimum wait: %r" % sc["uring_features"])
        run_with(["--wake-grain", "5ms"], self_check)

        def refused(sc):
            check_eq(sc["uring_features"].get("min_wait"), "off",
                     "--uring-off min_wait: %r" % sc["uring_features"])
        run_with(["--wake-grain", "5ms", "--uring-off", "min_wait"], refused)

    def wake_grain_late():
        srv = esme.Server("--quiet", name="grain").start()
        try:
            timer = esme.run_tester(srv.config, ["-sci", "10", "-cpi", "20", "-smi", "20",
                                                 "--duration", "2s", "--quiet",
                                                 "--wake-grain", "5ms"])["esmeload"]["timer"]
            check_eq(timer["wake_grain_us"], 5000, "timer.wake_grain_us")
            # With the grain, a timer waits for the loop's 5 ms batch.
            check(timer["late_ms"]["p90"] >= 1.0, "timers late by the grain: %r" % timer["late_ms"])
        finally:
            srv.kill()

    def bad_feature_flags():
        for args, flag, val in ((["--uring-off", "ring_fd,bogus"], "--uring-off", "bogus"),
                                (["--wake-grain", "200ms"], "--wake-grain", "200ms"),
                                (["--wake-grain", "500ns"], "--wake-grain", "500ns")):
            p = subprocess.run([esme.ESMELOAD, "run"] + args,
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
            err = p.stderr.decode(errors="replace")
            check_eq(p.returncode, 2, "exit status for %s" % args)
            lines = [l for l in err.splitlines() if l.strip()]
            check_eq(len(lines), 1, "one line on stderr (%r)" % err)
            check(flag in lines[0] and val in lines[0], "names flag and value: %r" % lines[0])

    def serve_features():
        for extra, want in (([], "on"), (["--uring-off", "ring_fd"], "off")):
            srv = esme.Server("--quiet", *extra, name="servefeat").start()
            try:
                feats = srv.stats()["uring_features"]
                check_eq(feats.get("ring_fd"), want, "serve %s: /stats uring_features %r" % (extra, feats))
            finally:
                srv.kill()
        p = subprocess.run([esme.ESMELOAD, "serve", "--uring-off", "nope"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        err = p.stderr.decode(errors="replace")
        check_eq(p.returncode, 2, "serve exit status for --uring-off nope")
        check("--uring-off" in err and "nope" in err, "serve names flag and value: %r" % err)

    # More rings than threads: under RLIMIT_NOFILE 256 (soft and hard,
    # through a wrapper), 2,000 participants on one thread take 9 rings of
    # 256 direct descriptors, and serve's 2,300 connections 9 too; every
    # count stays exact.
    def many_rings_low_limit():
        wrap_dir = tempfile.mkdtemp(prefix="esme-nofile-")
        wrap = os.path.join(wrap_dir, "esmeload")
        with open(wrap, "w") as f:
            f.write("#!/bin/sh\nulimit -n 256 || exit 1\nexec %s \"$@\"\n" % esme.ESMELOAD)
        os.chmod(wrap, 0o755)
        real = esme.ESMELOAD
        esme.ESMELOAD = wrap
        try:
            srv = esme.Server("--quiet", "--max-conns", "2300", name="nofile").start()
        finally:
            esme.ESMELOAD = real
        try:
            s = esme.run_tester(srv.config, ["-sci", "1", "--arrival-rate", "2000", "-smi", "500",
                                             "--max-participants", "2000", "--threads", "1",
                                             "--max-conns", "2200", "--duration", "8s", "--quiet"],
                                exe=wrap)
            e = s["esmeload"]
            check_eq(e["self_check"]["threads"], 1, "one thread")
            check_eq(e["self_check"]["rings"], 9, "2,200 connections in rings of 256")
            check_eq(s["created_participants_count"], 2000, "participants")
            check_eq(s["chats_count"], 2000, "every participant found its chat")
            check_eq(sum(v for v in e["errors"].values()), 0, "no errors: %r" % e["errors"])
            check(s["messages_sent"] > 2000, "messages sent: %d" % s["messages_sent"])
            deadline = time.monotonic() + esme.WAIT
            while True:
                st = srv.stats()
                if st["messages"]["received"] >= s["messages_sent"] or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            check_eq(st["messages"]["received"], s["messages_sent"], "serve received what was sent")
            check_eq(e["delivered"], s["messages_sent"], "every message delivered")
            check_eq(st["chats"]["total"], 2000, "serve's chats")
            check_eq(st["errors"]["connection_limit"], 0, "serve refused no connection")
        finally:
            srv.kill()

    await r.case("run_and_serve_many_rings_low_nofile", many_rings_low_limit, timeout=120)
    await r.case("run_ring_fd_registered", ring_fd_on, timeout=40)
    await r.case("run_ring_fd_refused_falls_back", ring_fd_refused, timeout=40)
    await r.case("run_uring_off_all_falls_back", all_refused, timeout=40)
    await r.case("run_wake_grain_uses_min_wait_and_refused", wake_grain, timeout=60)
    await r.case("run_wake_grain_makes_timers_wait", wake_grain_late, timeout=60)
    await r.case("run_bad_feature_flags", bad_feature_flags, timeout=30)
    await r.case("serve_uring_features_in_stats", serve_features, timeout=40)
    await r.case("run_zc_sends_what_serve_receives", zc, timeout=40)
    await r.case("run_plain_send_mode_in_summary", plain_send, timeout=40)
    await r.case("run_sqpoll_sends_what_serve_receives", sqpoll, timeout=40)
    await r.case("run_no_defer_taskrun_sends_what_serve_receives", no_defer, timeout=40)
    await r.case("run_small_rings_lose_nothing", small_rings, timeout=40)
    await r.case("run_bad_zc_value", bad_zc_value, timeout=15)


if __name__ == "__main__":
    esme.main("test_run_ring_opts", run, limit=560)
