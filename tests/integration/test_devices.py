#!/usr/bin/python3
"""esmeload run --devices / --org-devices: several connections of one user
(issue 18, item 4; SPEC.md section 4: everything sent to a user goes to
all of its connections).

participant_devices: against serve, each participant holds 3
  connections: its messages leave from the first, and each other one read
  every echo (copies_received = copies_expected = 2 x the echoes read on
  the first), with nothing lost and no error.
organizer_devices: the organizer holds 3: each other one read every
  user_message, new_chat the first read (2 x each).
devices_fire: fault_server delivers a user's frames to its oldest
  connection only (one_device): the other devices read no echo, the
  copies fall short, and a threshold device_copies_missing==0 fails the
  run (exit 99).
devices_across_reconnects: with --reconnect-uptime the first connection
  is dropped and comes back while the other devices stay: still every
  copy read, none counted twice.
devices_off_by_default: without the flags devices is null.
bad_device_flags: 0 or 9 devices: exit 2 and one line naming the flag.
"""

import os
import sys

sys.dont_write_bytecode = True   # keep the tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esme  # noqa: E402
from esme import check, check_eq  # noqa: E402

BASE = ["-sci", "10", "-cpi", "50", "-smi", "50", "--threads", "1"]


async def run(r):
    srv = esme.Server("--quiet").start()
    try:
        def participants():
            s = esme.run_tester(srv.config, BASE + [
                "--devices", "3", "--max-participants", "5", "--duration", "3s"], timeout=90)
            e = s["esmeload"]
            dv = e["devices"]
            check(dv is not None, "devices is null with --devices 3")
            check_eq((dv["participant"], dv["organizer"]), (3, 1), "devices per user")
            check(dv["copies_expected"] > 0, "copies expected: %s" % dv)
            check_eq(dv["copies_received"], dv["copies_expected"], "every device read every echo")
            check(dv["copies_expected"] <= 2 * e["delivered"], "2 copies at most per echo: %s" % dv)
            check(dv["copies_expected"] >= 2 * e["delivered"] - 2 * 5 * 3,
                  "2 copies of nearly every echo (%d delivered): %s" % (e["delivered"], dv))
            check_eq((dv["organizer_copies_expected"], dv["organizer_copies_received"]), (0, 0),
                     "one organizer connection")
            check(e["delivered"] == e["sent"] and e["lost"] == 0, "sent %d delivered %d lost %d"
                  % (e["sent"], e["delivered"], e["lost"]))
            check_eq(e["server_errors"], 0, "server errors (%s)" % e["first_error"])

        await r.case("participant_devices", participants, timeout=120)

        def organizer():
            s = esme.run_tester(srv.config, BASE + [
                "--org-devices", "3", "--max-participants", "4", "--duration", "3s"], timeout=90)
            e = s["esmeload"]
            dv = e["devices"]
            check(dv is not None, "devices is null with --org-devices 3")
            check_eq(dv["organizer_copies_expected"], 2 * (e["organizer_received"] + e["new_chats"]),
                     "2 copies of each user_message and new_chat")
            check_eq(dv["organizer_copies_received"], dv["organizer_copies_expected"],
                     "every organizer device read every frame")
            check(e["organizer_received"] > 0, "the organizer read messages")
            check_eq(s["chats_count"], 4, "every participant had its chat")

        await r.case("organizer_devices", organizer, timeout=120)

        def off():
            s = esme.run_tester(srv.config, BASE + ["--max-participants", "2", "--duration", "2s"],
                                timeout=90)
            check(s["esmeload"]["devices"] is None, "devices without the flags")

        await r.case("devices_off_by_default", off, timeout=120)

        def across():
            s = esme.run_tester(srv.config, BASE + [
                "--devices", "2", "--reconnect-uptime", "400ms", "--reconnect-dist", "fixed",
                "--reconnect-backoff", "100ms", "--max-participants", "4", "--duration", "4s"],
                timeout=90)
            e = s["esmeload"]
            dv, rc = e["devices"], e["reconnects"]
            check(rc["drops_tester"] >= 8, "the first connections were dropped: %s" % rc)
            check(dv["copies_expected"] > 0, "copies expected: %s" % dv)
            check_eq(dv["copies_received"], dv["copies_expected"], "every copy read across drops")
            check_eq(e["server_errors"], 0, "server errors (%s)" % e["first_error"])

        await r.case("devices_across_reconnects", across, timeout=120)

        def bad():
            esme.check_bad_flags(srv.config, ((["--devices", "0"], "--devices"),
                                     (["--devices", "9"], "--devices"),
                                     (["--org-devices", "x"], "--org-devices")))

        await r.case("bad_device_flags", bad)
    finally:
        srv.stop()

    def fires():
        fs = esme.FaultServer("one_device").start()
        try:
            rc, err, s = esme.run_failing(fs.config, BASE + [
                "--devices", "2", "--org-devices", "2", "--max-participants", "2",
                "--duration", "2s",
                "--threshold", "device_copies_missing==0"], timeout=90)
        finally:
            fs.kill()
        check_eq(rc, 99, "a device threshold on a server that skips devices (stderr %r)"
                 % err[-300:])
        check(s is not None, "a summary")
        dv = s["esmeload"]["devices"]
        check(fs.injected() >= 1, "frames skipped the other devices: %s" % fs.log())
        check(dv["copies_expected"] > 0 and dv["copies_received"] == 0,
              "the other devices read no echo: %s" % dv)
        check(dv["organizer_copies_received"] < dv["organizer_copies_expected"],
              "the organizer's other device fell short: %s" % dv)

    await r.case("devices_fire", fires, timeout=120)


if __name__ == "__main__":
    esme.main("test_devices", run, limit=300)
