#!/usr/bin/env python3
"""bench/limit/check.py: checks of the reading floor, loopback only, a few
seconds in all.

  python3 bench/limit/check.py [BUILD]        (BUILD: build, the default)

  sink_split_frames   the sink answers every frame of every header size
                      (7-bit, 16-bit, empty), sent one byte at a time, with
                      one echo and one organizer copy, and counts them
  limit_reads_counts  limit --reads against the sink: the echoes and copies
                      it read equal the messages it sent and the sink wrote
  limit_reads_silent  limit --reads against a target that answers nothing:
                      echoes and copies stay 0 while sent does not (the
                      counts come from what was read), within --drain-ms
Each prints PASS name or FAIL name; the exit status is the failures.
"""
import json
import os
import socket
import struct
import subprocess
import sys
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(TOP, BUILD, "bench")
failures = 0


def report(name, ok, why=""):
    global failures
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + why))
    failures += 0 if ok else 1


def start_sink():
    p = subprocess.Popen([os.path.join(BIN, "sink")], stdout=subprocess.PIPE, text=True)
    port = int(p.stdout.readline().split()[1])
    oport = int(p.stdout.readline().split()[1])
    return p, port, oport


def stop(p):
    p.terminate()
    out, _ = p.communicate(timeout=10)
    return json.loads([l for l in out.splitlines() if l.startswith("{")][-1])


def masked(n):
    key = b"\x01\x02\x03\x04"
    h = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0x80 | 126]) + struct.pack(">H", n)
    return h + key + bytes(b ^ key[i % 4] for i, b in enumerate(b"x" * n))


def read_frames(s, want, timeout=10):
    """Read unmasked server frames until want of them arrived."""
    buf, got, end = b"", 0, time.time() + timeout
    s.settimeout(1)
    while got < want and time.time() < end:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        if not d:
            break
        buf += d
        while len(buf) >= 4:
            n = buf[1] & 0x7F
            h, ln = (4, struct.unpack(">H", buf[2:4])[0]) if n == 126 else (2, n)
            if len(buf) < h + ln:
                break
            assert buf[0] == 0x81 and not buf[1] & 0x80
            json.loads(buf[h:h + ln])   # a whole JSON text each
            buf, got = buf[h + ln:], got + 1
    return got


def sink_split_frames():
    p, port, oport = start_sink()
    try:
        org = socket.create_connection(("127.0.0.1", oport))
        time.sleep(0.2)   # the organizer is accepted before any frame
        c = socket.create_connection(("127.0.0.1", port))
        sizes = (0, 5, 125, 126, 130, 300, 1000)
        data = b"".join(masked(n) for n in sizes) * 5
        for i in range(len(data)):
            c.send(data[i:i + 1])
        want = len(sizes) * 5
        e, o = read_frames(c, want), read_frames(org, want)
        st = stop(p)
        ok = e == want and o == want and st["frames"] == want and st["echoes"] == want \
            and st["copies"] == want and st["bytes"] == len(data)
        report("sink_split_frames", ok, "echoes %d copies %d of %d, sink %s" % (e, o, want, st))
    finally:
        if p.poll() is None:
            p.kill()


def run_limit(port, oport, extra=()):
    r = subprocess.run([os.path.join(BIN, "limit"), "--port", str(port), "--conns", "20",
                        "--smi", "50", "--duration", "2", "--reads", "--org-port", str(oport),
                        *extra], capture_output=True, text=True, timeout=30)
    return r.returncode, json.loads(r.stdout.strip().splitlines()[-1])


def limit_reads_counts():
    p, port, oport = start_sink()
    try:
        rc, out = run_limit(port, oport)
        st = stop(p)
        ok = rc == 0 and out["sent"] > 0 and out["echoes"] == out["sent"] \
            and out["copies"] == out["sent"] and st["echoes"] == out["sent"] \
            and st["copies"] == out["sent"] and st["bytes"] == out["bytes"] \
            and out["recv_bytes"] == 2 * out["sent"] * st["answer_bytes"]
        report("limit_reads_counts", ok, "rc %d, limit %s, sink %s" % (rc, out, st))
    finally:
        if p.poll() is None:
            p.kill()


def limit_reads_silent():
    # A target that accepts on both ports and never answers.
    ls = [socket.socket() for _ in range(2)]
    for s in ls:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
    t0 = time.time()
    rc, out = run_limit(ls[0].getsockname()[1], ls[1].getsockname()[1], ("--drain-ms", "300"))
    took = time.time() - t0
    ok = out["sent"] > 0 and out["echoes"] == 0 and out["copies"] == 0 and took < 15
    report("limit_reads_silent", ok, "rc %d, %s in %.1f s" % (rc, out, took))
    for s in ls:
        s.close()


sink_split_frames()
limit_reads_counts()
limit_reads_silent()
sys.exit(failures)
