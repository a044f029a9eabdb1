#!/usr/bin/python3
"""`esmeload serve` with an organizer connection that never reads (docs/protocol.md section 7).

The baseline Go tester's organizer never reads its socket. Here one organizer
connection does the same: a raw socket with a small SO_RCVBUF, upgraded by hand,
that sends its authorization frame and one start_chat and then never calls
recv(). A second, reading connection of the same organizer account starts the
chats (new_chat goes to every connection of the organizer, so both get them).
Participants in those chats then send messages for a few seconds.

Asserted, with serve started with a small --out-limit:
- every participant gets the echo of every message it sent, each within a bound;
- the reading organizer connection gets every message (the slow sibling of the
  same account must not cost it frames);
- /stats frames.dropped > 0 (the slow connection's frames are dropped), and
  messages.received equals the send_message frames sent;
- serve's VmRSS grows by less than a bound while the messages flow;
- serve still answers afterwards; with --slow close the slow connection is closed.
"""

import asyncio
import json
import os
import sys
import time

sys.dont_write_bytecode = True   # keep the tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esme  # noqa: E402
from esme import check, check_eq, short  # noqa: E402

N_PART = 12             # participants, one chat each, all with organizer 1
INTERVAL = 0.02         # seconds between one participant's messages (50/s each)
PAD = 1500              # content bytes: ~1 MB/s towards each organizer connection
MIN_RUN = 4.0           # seconds of traffic at least
MIN_SENT = int(N_PART * MIN_RUN / INTERVAL * 0.5)   # ... and this many messages sent
AFTER_DROP = 2.0        # ... and at least this long after the first drop is seen
MAX_RUN = 60.0          # ... and never longer (a bound for a busy machine, not a goal)
ECHO_BOUND = 5.0        # seconds from send to the sender's own echo: an echo held behind
                        # the slow connection; Python's own delays on a busy machine are
                        # far below it (80 ms at most seen with 4 CPU hogs and ASan)
SETTLE = 30.0           # bound on the wait for the last echoes after sending stops
RSS_BOUND_KIB = 64 * 1024      # total VmRSS growth while the messages flow
FLAT_WINDOW = 2.0               # VmRSS must level off: over this many seconds ...
FLAT_KIB = 1024                 # ... it may grow by less than this
LOG_MEMORY = "4M"               # serve's message log: its pages are touched as it fills,
                                # so a small log lets memory level off within seconds
# Large enough that a reading client on a busy machine (a Python reader
# that is off the CPU for a few hundred ms) is never mistaken for a slow
# one: the backlog it covers is a burst of about 170 of these 1.5 KB
# messages. The connection that never reads still passes it within a second.
OUT_LIMIT = 262144
RCVBUF = 4096


def pct(vals, p):
    if not vals:
        return float("nan")
    s = sorted(vals)
    return s[min(len(s) - 1, int(p / 100.0 * len(s)))]


class Traffic:
    """Senders, readers and the bookkeeping of one run."""

    def __init__(self, parts, chats, org_reader):
        self.parts = parts              # [(pid, token, WS)]
        self.chats = chats              # pid -> chatId
        self.org = org_reader
        self.sent_at = {}               # (i, k) -> monotonic send time
        self.latency = {}               # (i, k) -> seconds
        self.org_got = set()
        self.errors = []
        self.stop = asyncio.Event()

    async def sender(self, i):
        pid, _, w = self.parts[i]
        pad = "m" * PAD
        t0 = time.monotonic()
        k = 0
        while not self.stop.is_set():
            k += 1
            wait = t0 + k * INTERVAL - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            tag = "s%d-%d " % (i, k)
            self.sent_at[(i, k)] = time.monotonic()
            await w.send_msg("send_message", {"chatId": self.chats[pid], "message": tag + pad})

    @staticmethod
    def key_of(frame):
        if frame.get("type") != "user_message" or not isinstance(frame.get("payload"), dict):
            return None
        c = frame["payload"].get("content", "")
        if not c.startswith("s"):
            return None
        head = c.split(" ", 1)[0][1:].split("-")
        try:
            return int(head[0]), int(head[1])
        except (ValueError, IndexError):
            return None

    async def reader(self, w, on_frame):
        """Reads until the connection closes or the run ends (recv is bounded)."""
        while True:
            try:
                f = await w.recv(0.5)
            except esme.Fail as e:
                if "nothing received" in str(e):
                    if self.stop.is_set() and self.done():
                        return
                    continue
                self.errors.append(str(e))
                return
            except esme.Closed as e:
                self.errors.append("%s closed: %s" % (w.name, e))
                return
            if f["type"] == "error":
                self.errors.append("%s got error %s" % (w.name, short(f["payload"])))
            on_frame(f)

    def on_participant(self, i):
        def fn(f):
            key = self.key_of(f)
            if key is not None and key[0] == i and key in self.sent_at and key not in self.latency:
                self.latency[key] = time.monotonic() - self.sent_at[key]
        return fn

    def on_org(self, f):
        key = self.key_of(f)
        if key is not None:
            self.org_got.add(key)

    def done(self):
        return len(self.latency) == len(self.sent_at) and self.org_got >= set(self.sent_at)


async def setup(srv, n_part, tag):
    """Slow raw organizer connection, a reading one, n_part participants in chats."""
    org_tok, _ = srv.org_token()
    raw = esme.raw_ws_connect(srv, rcvbuf=RCVBUF)
    # Authorization and one start_chat on an empty queue (its info reply is never
    # read). Wait until serve has taken both frames: a start_chat still in flight
    # would pop the first participant's request before that participant connects.
    frames_in = esme.dig(srv.stats(), "frames", "in")
    raw.sendall(esme.ws_frame(json.dumps({"Authorization": "Bearer " + org_tok})) +
                esme.ws_frame(json.dumps({"type": "start_chat", "payload": ""})))
    await esme.await_until(lambda: esme.dig(srv.stats(), "frames", "in") >= frames_in + 2,
                           what="serve taking the raw connection's 2 frames")
    org = await esme.WS.open(srv, org_tok, "org-reader")
    await org.request("get_chats", "", "chats")
    parts = []
    for i in range(n_part):
        pid, tok, _ = srv.new_participant("%s%d" % (tag, i))
        st, js = srv.chat_request(tok, 1, "slow reader test %d" % i)
        check_eq(st, 200, "chat request %d (%s)" % (i, short(js)))
        w = await esme.WS.open(srv, tok, "part%d" % i)
        await w.request("get_chats", "", "chats")
        parts.append((pid, tok, w))
    chats = {}
    for _ in range(n_part):
        await org.send_msg("start_chat", "")
        f = await org.expect("new_chat")
        chats[f["payload"]["participantId"]] = f["payload"]["id"]
    for pid, _, w in parts:
        f = await w.expect("new_chat", what="chat of participant %s" % pid)
        check_eq(f["payload"]["id"], chats.get(pid), "participant %s chat id" % pid)
    check_eq(len(chats), n_part, "chats started")
    return raw, org, parts, chats


async def run(r):
    srv = esme.Server("--out-limit", OUT_LIMIT, "--slow", "drop", "--log-memory", LOG_MEMORY,
                      "--quiet").start()
    S = r.state

    async def do_setup():
        S["raw"], S["org"], S["parts"], S["chats"] = await setup(srv, N_PART, "slow")

    await r.case("slow_reader_setup", do_setup)
    if "slow_reader_setup" not in r.done:
        return

    async def traffic():
        t = Traffic(S["parts"], S["chats"], S["org"])
        S["t"] = t
        readers = [asyncio.create_task(t.reader(w, t.on_participant(i)))
                   for i, (_, _, w) in enumerate(t.parts)]
        readers.append(asyncio.create_task(t.reader(t.org, t.on_org)))
        rss0 = srv.vmrss_kib()
        senders = [asyncio.create_task(t.sender(i)) for i in range(len(t.parts))]
        try:
            await measure(t, senders, readers, rss0)
        finally:
            t.stop.set()
            for x in senders + readers:
                x.cancel()
            await asyncio.gather(*senders, *readers, return_exceptions=True)

    async def measure(t, senders, readers, rss0):
        rss_max = rss0
        start = time.monotonic()
        first_drop = None
        rss_at_drop = None
        dropped = 0
        samples = []        # (time, VmRSS)
        flat = None         # growth over the last FLAT_WINDOW once it is below FLAT_KIB
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            rss = srv.vmrss_kib()
            rss_max = max(rss_max, rss)
            samples.append((now, rss))
            st, js = await esme.acurl("GET", srv.msg + "/stats")
            if st == 200 and isinstance(js, dict):
                dropped = js.get("frames", {}).get("dropped", 0) or 0
                if dropped > 0 and first_drop is None:
                    first_drop, rss_at_drop = now, rss
            el = now - start
            # The window starts at the last sample at least FLAT_WINDOW old, so it
            # spans the full window however slowly this loop turns.
            old = [i for i, (ts, _) in enumerate(samples) if ts <= now - FLAT_WINDOW]
            if el >= MIN_RUN and old:
                win = [v for (_, v) in samples[old[-1]:]]
                flat = max(win) - min(win) if max(win) - min(win) < FLAT_KIB else None
            # Run until frames are being dropped and memory has levelled off while
            # the messages keep flowing (or the time is up).
            if el >= MAX_RUN or (el >= MIN_RUN and len(t.sent_at) >= MIN_SENT and
                                 first_drop is not None and
                                 now - first_drop >= AFTER_DROP and flat is not None):
                break
            if any(s.done() for s in senders) or not srv.alive():
                break
        t.stop.set()
        S["run_s"] = time.monotonic() - start
        for s in senders:
            if s.done() and s.exception():
                t.errors.append("sender: %r" % s.exception())
            s.cancel()
        await asyncio.gather(*senders, return_exceptions=True)
        deadline = time.monotonic() + SETTLE
        while not t.done() and time.monotonic() < deadline and srv.alive():
            await asyncio.sleep(0.05)
        rss_max = max(rss_max, srv.vmrss_kib()) if srv.alive() else rss_max
        for x in readers:
            x.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        S["rss0"], S["rss_max"], S["first_drop"], S["rss_at_drop"] = rss0, rss_max, first_drop, rss_at_drop
        S["flat"], S["samples"] = flat, [(round(ts - start, 1), v) for ts, v in samples]
        lat = list(t.latency.values())
        r.line("INFO slow reader: %.1f s, %d messages sent, echoes p50 %.1f ms p99 %.1f ms max %.1f ms, "
               "organizer reader got %d, VmRSS %d -> max %d KiB (%s at the first drop), "
               "first drop after %s s"
               % (S["run_s"], len(t.sent_at), pct(lat, 50) * 1e3, pct(lat, 99) * 1e3,
                  max(lat or [0]) * 1e3, len(t.org_got), rss0, rss_max, rss_at_drop,
                  "%.1f" % (first_drop - start) if first_drop else "never"))
        check(srv.alive(), srv.death())
        check(not t.errors, "errors during the run: %s" % short(t.errors[:5]))

    await r.case("slow_reader_traffic_runs", traffic, timeout=MAX_RUN + SETTLE + 10)
    t = S.get("t")
    if t is None:
        return

    def echoes_all():
        missing = [k for k in t.sent_at if k not in t.latency]
        check(not missing, "%d of %d echoes never arrived, e.g. %s" % (len(missing), len(t.sent_at),
                                                                        sorted(missing)[:5]))
        check(len(t.sent_at) >= MIN_SENT,
              "only %d messages sent in %.0f s: the test did not generate its load"
              % (len(t.sent_at), S.get("run_s", 0)))

    def echoes_prompt():
        late = sorted(((v, k) for k, v in t.latency.items() if v > ECHO_BOUND), reverse=True)
        check(not late, "%d echoes slower than %.1f s, worst %.2f s (%s)"
              % (len(late), ECHO_BOUND, late[0][0] if late else 0, late[:3]))

    def org_reader_all():
        missing = set(t.sent_at) - t.org_got
        check(not missing, "reading organizer connection missed %d of %d messages, e.g. %s "
              "(participant, number; %.1f s of sending); /stats frames: %s"
              % (len(missing), len(t.sent_at), sorted(missing)[:8], S.get("run_s", 0),
                 srv.stats().get("frames")))

    def dropped_positive():
        js = srv.stats()
        d = esme.dig(js, "frames", "dropped")
        check(isinstance(d, int) and d > 0, "frames.dropped = %r after %.1f s of ~%d KB/s to a "
              "connection that never reads (--out-limit %d)"
              % (d, S.get("run_s", 0), N_PART * (PAD + 150) / INTERVAL / 1000, OUT_LIMIT))

    def rss_bounded():
        check("rss0" in S, "no VmRSS samples: the traffic case did not complete")
        growth = S["rss_max"] - S["rss0"]
        check(growth < RSS_BOUND_KIB, "VmRSS grew %d KiB (%d -> %d), bound %d KiB"
              % (growth, S["rss0"], S["rss_max"], RSS_BOUND_KIB))

    def rss_levels_off():
        # A backlog kept without bound grows with every message; a bounded server
        # levels off once its log has wrapped and its buffers have all been used.
        check("flat" in S, "no VmRSS samples: the traffic case did not complete")
        check(S["flat"] is not None, "VmRSS still growing by >= %d KiB per %.0f s after %.1f s of "
              "traffic, samples (s, KiB): %s" % (FLAT_KIB, FLAT_WINDOW, S["run_s"], S["samples"][-8:]))

    def counters():
        js = srv.stats()
        check_eq(esme.dig(js, "messages", "received"), esme.sent_by_type.get("send_message", 0),
                 "messages.received vs send_message frames sent")
        check_eq(esme.dig(js, "connections", "organizer"), 2,
                 "connections.organizer (--slow drop keeps the slow one open)")
        check_eq(esme.dig(js, "connections", "participant"), N_PART, "connections.participant")

    async def responsive():
        tok, _ = srv.org_token()
        w = await esme.WS.open(srv, tok, "late-org")
        pl = await w.request("get_chats", "", "chats")
        check_eq(len(pl.get("chats", [])), N_PART, "active chats")
        await w.close()

    await r.case("slow_reader_participant_echoes_all_arrive", echoes_all)
    await r.case("slow_reader_participant_echoes_within_bound", echoes_prompt)
    await r.case("slow_reader_reading_organizer_connection_gets_all", org_reader_all)
    await r.case("slow_reader_frames_dropped_positive", dropped_positive)
    await r.case("slow_reader_vmrss_growth_bounded", rss_bounded)
    await r.case("slow_reader_vmrss_levels_off", rss_levels_off)
    await r.case("slow_reader_stats_counters", counters)
    await r.case("slow_reader_server_still_responsive", responsive)

    for _, _, w in S["parts"]:
        await w.close()
    await S["org"].close()
    S["raw"].close()
    srv.kill()

    # --slow close: the connection over its limit is closed instead.
    csrv = esme.Server("--out-limit", OUT_LIMIT, "--slow", "close", "--log-memory", LOG_MEMORY,
                       "--quiet", name="slow-close").start()

    async def slow_close():
        raw, org, parts, chats = await setup(csrv, N_PART, "close")
        t = Traffic(parts, chats, org)
        readers = [asyncio.create_task(t.reader(w, t.on_participant(i))) for i, (_, _, w) in enumerate(parts)]
        readers.append(asyncio.create_task(t.reader(org, t.on_org)))
        senders = [asyncio.create_task(t.sender(i)) for i in range(len(parts))]
        start = time.monotonic()
        closed_after = None
        try:
            while time.monotonic() - start < MAX_RUN:
                await asyncio.sleep(0.3)
                st, js = await esme.acurl("GET", csrv.msg + "/stats")
                # Any organizer connection gone means serve closed one as slow.
                if st == 200 and isinstance(js, dict) and js.get("connections", {}).get("organizer", 2) < 2:
                    closed_after = time.monotonic() - start
                    break
            await asyncio.sleep(0.5)    # traffic keeps flowing after the close
        finally:
            t.stop.set()
            for s in senders:
                s.cancel()
            await asyncio.gather(*senders, return_exceptions=True)
        deadline = time.monotonic() + SETTLE
        while not t.done() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for x in readers:
            x.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        if closed_after is None:
            js = csrv.stats()
            raise esme.Fail("slow connection still counted after %.0f s (/stats connections %s, frames %s, "
                            "errors.slow_reader_closed %s; %d messages sent)"
                            % (MAX_RUN, js.get("connections"), js.get("frames"),
                               js.get("errors", {}).get("slow_reader_closed"), len(t.sent_at)))
        js = csrv.stats()
        check(org.conn.open, "the reading organizer connection was closed as slow (only the one that "
              "never reads should be): /stats connections %s, errors.slow_reader_closed %s"
              % (js.get("connections"), js.get("errors", {}).get("slow_reader_closed")))
        check_eq(js.get("connections", {}).get("organizer"), 1, "organizer connections left open")
        # The raw socket must now be closed by the server: drain it to EOF (its
        # kernel buffers still hold what was sent before the close).
        drained, eof = 0, False
        deadline = time.monotonic() + esme.WAIT
        try:
            while time.monotonic() < deadline:
                raw.settimeout(max(0.1, deadline - time.monotonic()))
                b = raw.recv(1 << 20)
                if not b:
                    eof = True
                    break
                drained += len(b)
        except ConnectionResetError:
            eof = True
        except OSError as e:
            raise esme.Fail("raw socket not closed by serve: %r after draining %d bytes" % (e, drained))
        check(eof, "raw socket not closed by serve after draining %d bytes for %.0f s" % (drained, esme.WAIT))
        missing = [k for k in t.sent_at if k not in t.latency]
        check(not missing, "%d of %d participant echoes missing" % (len(missing), len(t.sent_at)))
        check(set(t.sent_at) <= t.org_got, "reading organizer connection missed messages")
        raw.close()
        for _, _, w in parts:
            await w.close()
        await org.close()

    await r.case("slow_close_mode_closes_only_the_slow_connection", slow_close,
                 timeout=MAX_RUN + SETTLE + esme.WAIT + 30)
    csrv.kill()


if __name__ == "__main__":
    esme.main("test_serve_slow_reader", run, limit=280)
