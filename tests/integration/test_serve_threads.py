#!/usr/bin/python3
"""`esmeload serve --threads`: connections on several threads, one store.

Each case places its WebSocket connections on known threads: /stats
threads.websocket counts the authorized connections of each thread, so the
thread that took a new one is the one whose count went up.

spread (--threads 2): connections land on both threads; threads.connections
  counts them per thread and falls back when they close.
cross_chat: an organizer on one thread and a participant on the other
  exchange messages both ways, sent without waiting: each side gets every
  message, both see them in the same order (the chat owner's), each
  sender's in the order sent. The chat is owned by the organizer's thread
  (it started it): each participant message is forwarded there to be
  stored (messages.forwarded = N exactly), every user_message crossed
  threads exactly once (messages.sent_cross_thread = all of them,
  threads.cross_queued at least as many, a wakeup posted), nothing dropped
  or refused.
fifo_across_threads: participants' requests, made in a known order over
  connections of both threads, are started in that order.
max_conns_exact: --max-conns 6 on 2 threads: of 9 sockets, 3 are closed by
  the server and counted (errors.connection_limit 3), 6 stay.
cross_full_fires (--cross-queue 4K): the organizer's message too big for
  the queue to the participant's thread is dropped and counted
  (threads.cross_full, messages.dropped) while the organizer gets it; the
  participant's too big to forward to the chat's thread is refused
  ("message could not be saved", errors.message_not_saved); a small one
  still crosses.
owner_refusal_comes_back (--log-memory 64K, --max-message 12000): a
  participant's message that the chat's thread cannot store (over a
  quarter of its 32 KiB log) was forwarded, and the refusal comes back to
  the sender's connection on the other thread; nothing is stored.
one_thread_quiet (--threads 1): the same chat crosses nothing (threads.count
  1, sent_cross_thread 0, forwarded 0, cross_queued 0, wakeups 0).
"""

import asyncio
import os
import socket
import sys

sys.dont_write_bytecode = True   # keep the tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esme  # noqa: E402
from esme import check, check_eq, short  # noqa: E402

N = 150          # messages each way in cross_chat
TRIES = 40       # connections opened at most to land one on a given thread


def ws_per_thread(srv):
    return srv.stats()["threads"]["websocket"]


async def open_on(srv, token, name, want=None, avoid=None):
    """A connection on thread want (or on any thread but avoid): returns
    (ws, thread). Connections that land elsewhere are closed."""
    for _ in range(TRIES):
        before = ws_per_thread(srv)
        ws = await esme.WS.open(srv, token, name)
        after = []

        def moved():
            after[:] = ws_per_thread(srv)
            return sum(after) == sum(before) + 1
        esme.wait_until(moved, what="%s authorized" % name)
        t = next(i for i, (a, b) in enumerate(zip(after, before)) if a > b)
        if (want is None or t == want) and (avoid is None or t != avoid):
            return ws, t
        await ws.close()
        esme.wait_until(lambda: sum(ws_per_thread(srv)) == sum(before),
                        what="%s closed" % name)
    raise esme.Fail("%d connections of %s all landed on the same thread" % (TRIES, name))


async def run(r):
    srv = esme.Server("--quiet", "--threads", "2").start()
    otok, ouser = srv.org_token()

    async def spread():
        seen = set()
        opened = []
        for _ in range(TRIES):
            ws, t = await open_on(srv, otok, "org%d" % len(opened))
            opened.append(ws)
            seen.add(t)
            if len(seen) == 2:
                break
        check_eq(sorted(seen), [0, 1], "threads that took connections")
        check_eq(srv.stats()["threads"]["count"], 2, "threads.count")

        # threads.connections: each thread's open connections, its
        # WebSocket ones and the /stats request's own among them.
        def per_thread_open():
            t = srv.stats()["threads"]
            return (all(c >= w for c, w in zip(t["connections"], t["websocket"])) and
                    sum(t["connections"]) == sum(t["websocket"]) + 1)
        esme.wait_until(per_thread_open, what="threads.connections = websocket + the /stats request")
        check_eq(sum(srv.stats()["threads"]["websocket"]), len(opened), "threads.websocket")
        for ws in opened:
            await ws.close()
        esme.wait_until(lambda: sum(ws_per_thread(srv)) == 0, what="all closed")
        esme.wait_until(lambda: sum(srv.stats()["threads"]["connections"]) == 1,
                        what="threads.connections back to the /stats request alone")

    await r.case("spread", spread)

    async def cross_chat():
        o, ot = await open_on(srv, otok, "org")
        pid, ptok, _ = srv.new_participant("thr")
        p, pt = await open_on(srv, ptok, "part", avoid=ot)
        check(pt != ot, "participant on the organizer's thread")
        st, js = srv.chat_request(ptok, 1, "cross-thread chat")
        check_eq(st, 200, "chat request: %s" % short(js))
        await o.send_msg("start_chat", "")
        c = (await o.expect("new_chat"))["payload"]
        check_eq((await p.expect("new_chat"))["payload"]["id"], c["id"], "participant's new_chat")
        for ws in (o, p):   # the description, before the counts are taken
            await ws.expect("user_message", lambda pl: pl["content"].startswith("Problem description"))
        base = srv.stats()["messages"]
        # Both sides send at once; the server orders them.
        sends = []
        for i in range(N):
            sends.append(p.send_msg("send_message", {"chatId": c["id"], "message": "p%d" % i}))
            sends.append(o.send_msg("send_message", {"chatId": c["id"], "message": "o%d" % i}))
        await asyncio.gather(*sends)
        got = {}
        for name, ws in (("org", o), ("part", p)):
            seq = []
            while len(seq) < 2 * N:
                f = await ws.expect("user_message", what="%s message %d" % (name, len(seq)))
                if f["payload"]["content"].startswith(("p", "o")):
                    seq.append(f["payload"]["content"])
            got[name] = seq
        check(got["org"] == got["part"],
              "the two sides saw different orders: %s / %s" % (short(got["org"][:20]), short(got["part"][:20])))
        for who in "po":
            mine = [m for m in got["org"] if m[0] == who]
            check_eq(mine, ["%s%d" % (who, i) for i in range(N)], "%s messages in the order sent" % who)

        def counted():
            m = srv.stats()["messages"]
            return m["sent"] - base["sent"] == 4 * N
        esme.wait_until(counted, what="every message counted as sent")
        st = srv.stats()
        m, t = st["messages"], st["threads"]
        check_eq(m["stored"] - base["stored"], 2 * N, "messages.stored")
        check_eq(m["sent_cross_thread"] - base["sent_cross_thread"], 2 * N,
                 "messages.sent_cross_thread (each message crosses once)")
        check_eq(m["forwarded"] - base["forwarded"], N,
                 "messages.forwarded (the participant's, to the chat's thread)")
        check_eq(m["dropped"], 0, "messages.dropped")
        check_eq(t["cross_full"], 0, "threads.cross_full")
        check_eq(t["wakeup_errors"], 0, "threads.wakeup_errors")
        check(t["wakeups"] >= 1, "no wakeup posted: %s" % short(t))
        check(t["cross_queued"] >= 2 * N, "threads.cross_queued %d, %d messages crossed" % (
            t["cross_queued"], 2 * N))
        await o.close()
        await p.close()

    await r.case("cross_chat", cross_chat, needs=["spread"], timeout=120)

    async def fifo():
        # Requests in a known order: each over a fresh HTTP connection,
        # so the kernel spreads them over both threads.
        parts = []
        for i in range(8):
            pid, ptok, _ = srv.new_participant("fifo%d" % i)
            st, js = srv.chat_request(ptok, 1, "fifo %d" % i)
            check_eq(st, 200, "chat request %d: %s" % (i, short(js)))
            parts.append(pid)
        o, _ = await open_on(srv, otok, "org-fifo")
        order = []
        for _ in parts:
            await o.send_msg("start_chat", "")
            order.append((await o.expect("new_chat"))["payload"]["participantId"])
        check_eq(order, parts, "chats started in the order requested")
        await o.close()

    await r.case("fifo_across_threads", fifo, needs=["spread"])
    srv.stop()

    def max_conns():
        lim = esme.Server("--quiet", "--threads", "2", "--max-conns", "6").start()
        socks = []
        try:
            for _ in range(9):
                socks.append(socket.create_connection(("127.0.0.1", int(lim.ws.rsplit(":", 1)[1])), 20))

            def closed_by_server(s):
                s.setblocking(False)
                try:
                    return s.recv(1) == b""
                except BlockingIOError:
                    return False
                except OSError:
                    return True
            esme.wait_until(lambda: sum(closed_by_server(s) for s in socks) == 3,
                            what="3 of 9 connections refused")
            for s in socks:
                s.close()
            esme.wait_until(lambda: lim.stats()["connections"]["http"] == 1,
                            what="the 9 sockets closed")
            check_eq(lim.stats()["errors"]["connection_limit"], 3, "errors.connection_limit")
        finally:
            for s in socks:
                s.close()
            lim.stop()

    await r.case("max_conns_exact", max_conns)

    async def one_chat(server, big=None):
        """An organizer and a participant (on different threads when
        there are two) with a chat; returns (org ws, part ws, chat id)."""
        tok, _ = server.org_token()
        o, ot = await open_on(server, tok, "org")
        pid, ptok, _ = server.new_participant("one")
        two = server.stats()["threads"]["count"] == 2
        p, _ = await open_on(server, ptok, "part", avoid=ot if two else None)
        st, js = server.chat_request(ptok, 1, "")
        check_eq(st, 200, "chat request: %s" % short(js))
        await o.send_msg("start_chat", "")
        cid = (await o.expect("new_chat"))["payload"]["id"]
        await p.expect("new_chat")
        return o, p, cid

    async def cross_full():
        small = esme.Server("--quiet", "--threads", "2", "--cross-queue", "4K").start()
        try:
            o, p, cid = await one_chat(small)
            big = "x" * 3000    # a frame over half the 4 KiB queue
            # The organizer's thread owns the chat: its copy goes out, the
            # participant's cannot cross.
            await o.send_msg("send_message", {"chatId": cid, "message": big})
            f = await o.expect("user_message", what="the sender's own copy")
            check_eq(f["payload"]["content"], big, "the sender's copy")
            esme.wait_until(lambda: small.stats()["threads"]["cross_full"] == 1,
                            what="threads.cross_full 1")
            check_eq(small.stats()["messages"]["dropped"], 1, "messages.dropped")
            # The participant's cannot reach the chat's thread at all.
            await p.send_msg("send_message", {"chatId": cid, "message": big})
            f = await p.expect("error", what="the refusal of a message too big to forward")
            check_eq(f["payload"]["message"], "message could not be saved", "the error")
            st = small.stats()
            check_eq(st["threads"]["cross_full"], 2, "threads.cross_full")
            check_eq(st["errors"]["message_not_saved"], 1, "errors.message_not_saved")
            check_eq(st["messages"]["forwarded"], 0, "messages.forwarded")
            await p.send_msg("send_message", {"chatId": cid, "message": "small"})
            f = await o.expect("user_message", what="a small message after it")
            check_eq(f["payload"]["content"], "small", "what the organizer got")
            st = small.stats()
            check_eq(st["threads"]["cross_full"], 2, "threads.cross_full")
            check_eq(st["messages"]["forwarded"], 1, "messages.forwarded")
            await o.close()
            await p.close()
        finally:
            small.stop()

    await r.case("cross_full_fires", cross_full)

    async def owner_refusal():
        lim = esme.Server("--quiet", "--threads", "2", "--log-memory", "64K",
                          "--max-message", "12000").start()
        try:
            o, p, cid = await one_chat(lim)
            await p.send_msg("send_message", {"chatId": cid, "message": "y" * 10000})
            f = await p.expect("error", what="the chat thread's refusal")
            check_eq(f["payload"]["message"], "message could not be saved", "the error")
            st = lim.stats()
            check_eq(st["messages"]["forwarded"], 1, "messages.forwarded")
            check_eq(st["messages"]["stored"], 0, "messages.stored")
            check_eq(st["errors"]["message_not_saved"], 1, "errors.message_not_saved")
            await p.send_msg("send_message", {"chatId": cid, "message": "fits"})
            f = await o.expect("user_message", what="a message that fits")
            check_eq(f["payload"]["content"], "fits", "what the organizer got")
            await o.close()
            await p.close()
        finally:
            lim.stop()

    await r.case("owner_refusal_comes_back", owner_refusal)

    async def one_thread():
        one = esme.Server("--quiet", "--threads", "1").start()
        try:
            o, p, cid = await one_chat(one)
            for i in range(20):
                await p.send_msg("send_message", {"chatId": cid, "message": "m%d" % i})
            for i in range(20):
                await o.expect("user_message", lambda pl, i=i: pl["content"] == "m%d" % i)
            st = one.stats()
            check_eq(st["threads"]["count"], 1, "threads.count")
            check_eq(st["messages"]["sent_cross_thread"], 0, "messages.sent_cross_thread")
            check_eq(st["messages"]["forwarded"], 0, "messages.forwarded")
            check_eq(st["threads"]["cross_queued"], 0, "threads.cross_queued")
            check_eq(st["threads"]["wakeups"], 0, "threads.wakeups")
            check_eq(st["messages"]["sent"], 40, "messages.sent")
            await o.close()
            await p.close()
        finally:
            one.stop()

    await r.case("one_thread_quiet", one_thread)


if __name__ == "__main__":
    esme.main("test_serve_threads", run, limit=240)
