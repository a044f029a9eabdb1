#!/usr/bin/python3
"""The engine's receive path with the kernel's receive bundles (recv_bundle:
one completion fills several provided buffers) and incremental buffers
(buf_inc: bigger buffers the kernel fills a part at a time, shared by the
receives of every connection), each on by default where the kernel has
it, and each refused with --uring-off (the fallback a kernel without it
takes).

- `esmeload run` against its own `esmeload serve`: the summary's
  self_check.uring_features names each one's state, bundle_bufs and
  inc_partial count them at work (0 when refused), and every message sent
  is delivered and received by serve, with and without them.
- serve alone: large chat messages (12,000 characters, each frame three
  4 KiB buffers, and the incremental buffers cross from one into the next
  under them) reach the other side whole and in order, with and without
  the features; /stats counts the bundles and the part-used buffers.

The kernel gives a bundle only when the socket holds more than the first
buffer takes; the run and the message burst below move several hundred
KiB through one ring, so buffers are crossed many times (each crossing a
bundle unless the kernel's view of the socket ends exactly there).
"""

import asyncio
import json
import os
import random
import string
import sys

sys.dont_write_bytecode = True   # keep the tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esme  # noqa: E402
from esme import check, check_eq, short  # noqa: E402

FEATS = ("recv_bundle", "buf_inc")
BIG = 12000         # serve's longest --max-message
NBIG = 60           # 720 KB through serve's ring: many 64 KiB buffers


def want_states(off):
    """The state each receive feature should show with --uring-off off."""
    refused = set(FEATS) if "all" in off else set(off)
    return {f: "off" if f in refused else "on" for f in FEATS}


def check_features(where, feats, counters, states):
    for f, st in states.items():
        check_eq(feats.get(f), st, "%s uring_features.%s (%r)" % (where, f, feats))
    if states["recv_bundle"] == "off":
        check_eq(counters["bundle_bufs"], 0, where + " bundle_bufs with recv_bundle off")
    if states["buf_inc"] == "off":
        check_eq(counters["inc_partial"], 0, where + " inc_partial with buf_inc off")
    else:
        # 64 KiB buffers shared by every receive: nearly every completion
        # leaves its buffer part-used.
        check(counters["inc_partial"] > 0, "%s inc_partial with buf_inc on: %r"
              % (where, counters))


def run_case(off, need_bundles):
    """A 3 s run against a serve refusing the same features."""
    extra = ["--uring-off", ",".join(off)] if off else []
    srv = esme.Server("--quiet", *extra, name="uring").start()
    try:
        s = esme.run_tester(srv.config, ["-sci", "10", "-cpi", "20", "-smi", "50",
                                         "--duration", "3s", "--quiet"] + extra)
        es = s["esmeload"]
        sc = es["self_check"]
        states = want_states(off)
        check_features("run", sc["uring_features"], sc, states)
        sent = s["messages_sent"]
        check(sent > 100, "messages sent with %s: %d" % (extra, sent))
        check_eq(es["delivered"], sent, "delivered == sent with %s" % extra)
        check_eq(es["lost"], 0, "lost with %s" % extra)
        check_eq(es["echo_unmatched"], 0, "echo_unmatched with %s" % extra)
        check_eq(sum(es["errors"].values()), 0, "errors with %s: %r" % (extra, es["errors"]))
        check(es["cross_check"] and es["cross_check"]["passed"],
              "cross_check passed with %s: %r" % (extra, es["cross_check"]))
        if need_bundles:
            check(sc["bundle_bufs"] > 0, "run bundle_bufs with recv_bundle on: %r"
                  % {k: sc[k] for k in ("uring_features", "bundle_bufs", "inc_partial")})
        st = srv.stats()
        check_features("serve", st["uring_features"], st, states)
        return sc, st
    finally:
        srv.kill()


def big_text(i, rng):
    head = "big %03d " % i
    return head + "".join(rng.choice(string.ascii_letters) for _ in range(BIG - len(head)))


async def big_messages(off):
    extra = ["--uring-off", ",".join(off)] if off else []
    srv = esme.Server("--max-message", str(BIG), "--out-limit", "4M", "--quiet", *extra,
                      name="uring-big").start()
    org = part = None
    try:
        tok, _ = srv.org_token()
        pid, ptok, _ = srv.new_participant("big")
        st, js = srv.chat_request(ptok, 1, "Bundle test: large messages")
        check(st == 200, "chat request: %s %s" % (st, short(js)))
        org = await esme.WS.open(srv, tok, "org")
        part = await esme.WS.open(srv, ptok, "part")
        # On another thread its authorization may come after the
        # organizer's start_chat, and new_chat would find it not yet there.
        esme.wait_until(lambda: srv.stats()["connections"]["participant"] == 1,
                        what="the participant authorized")
        await org.send_msg("start_chat", "")
        f = await part.expect("new_chat", what="after start_chat")
        chat = f["payload"]["id"]
        await org.expect("new_chat", what="after start_chat")
        rng = random.Random(7)
        texts = [big_text(i, rng) for i in range(NBIG)]
        for t in texts:
            await part.send_msg("send_message", {"chatId": chat, "message": t})
        got = []
        for _ in texts:
            f = await org.expect("user_message",
                                 pred=lambda p: p.get("content", "").startswith("big "),
                                 timeout=30, what="a large message")
            got.append(f["payload"]["content"])
        check_eq(len(got), NBIG, "large messages received")
        for i, (a, b) in enumerate(zip(got, texts)):
            check(a == b, "message %d arrived changed (%d chars, starts %r; sent %r)"
                  % (i, len(a), a[:16], b[:16]))
        stats = srv.stats()
        check_eq(stats["messages"]["received"], NBIG, "serve messages.received")
        check(stats["bytes"]["in"] > NBIG * BIG, "serve bytes.in: %r" % stats["bytes"])
        states = want_states(off)
        check_features("serve", stats["uring_features"], stats, states)
        if states["recv_bundle"] == "on":
            check(stats["bundle_bufs"] > 0, "serve bundle_bufs under %d x %d-character "
                  "messages: %r" % (NBIG, BIG, {k: stats[k] for k in
                                                ("uring_features", "bundle_bufs", "inc_partial")}))
        errs = {k: v for k, v in stats["errors"].items() if v}
        check_eq(errs, {}, "serve errors")
    finally:
        for w in (org, part):
            if w:
                await w.close()
        srv.kill()


async def carry_then_big_piece(off):
    """A frame's first bytes arrive alone (serve keeps them aside), then
    the rest with three more large frames in one write: with 64 KiB
    buffers the next receive is one piece far longer than the carry holds
    (16 KiB), which must complete the carried frame and be read where it
    lies, not be copied aside whole."""
    extra = ["--uring-off", ",".join(off)] if off else []
    srv = esme.Server("--max-message", str(BIG), "--quiet", *extra, name="uring-carry").start()
    org = raw = None
    try:
        tok, _ = srv.org_token()
        _, ptok, _ = srv.new_participant("carry")
        st, js = srv.chat_request(ptok, 1, "Bundle test: carried frame")
        check(st == 200, "chat request: %s %s" % (st, short(js)))
        org = await esme.WS.open(srv, tok, "org")
        raw = await asyncio.to_thread(esme.raw_ws_connect, srv)
        auth = esme.ws_frame(json.dumps({"Authorization": "Bearer " + ptok}))
        b0 = srv.stats()["bytes"]["in"]
        await asyncio.to_thread(raw.sendall, auth)
        esme.wait_until(lambda: srv.stats()["bytes"]["in"] >= b0 + len(auth),
                        what="serve read the authorization frame")
        await org.send_msg("start_chat", "")
        f = await org.expect("new_chat", what="after start_chat")
        chat = f["payload"]["id"]
        rng = random.Random(11)
        texts = [big_text(i, rng) for i in range(4)]
        frames = b"".join(esme.ws_frame(json.dumps(
            {"type": "send_message", "payload": {"chatId": chat, "message": t}}))
            for t in texts)
        b1 = srv.stats()["bytes"]["in"]
        await asyncio.to_thread(raw.sendall, frames[:10])
        esme.wait_until(lambda: srv.stats()["bytes"]["in"] >= b1 + 10,
                        what="serve read the first 10 bytes")
        await asyncio.to_thread(raw.sendall, frames[10:])
        for i, t in enumerate(texts):
            f = await org.expect("user_message",
                                 pred=lambda p: p.get("content", "").startswith("big "),
                                 timeout=30, what="large message %d" % i)
            check(f["payload"]["content"] == t, "message %d arrived changed" % i)
        stats = srv.stats()
        errs = {k: v for k, v in stats["errors"].items() if v}
        check_eq(errs, {}, "serve errors")
    finally:
        if org:
            await org.close()
        if raw:
            raw.close()
        srv.kill()


async def run(r):
    def defaults():
        run_case([], need_bundles=True)

    def no_bundle():
        run_case(["recv_bundle"], need_bundles=False)

    def no_inc():
        # whole 4 KiB buffers: a bundle wherever a receive finds more
        # than one buffer's worth
        run_case(["buf_inc"], need_bundles=True)

    def none():
        run_case(["all"], need_bundles=False)

    await r.case("run_recv_features_on_by_default", defaults, timeout=60)
    await r.case("run_recv_bundle_refused", no_bundle, timeout=60)
    await r.case("run_buf_inc_refused", no_inc, timeout=60)
    await r.case("run_all_refused", none, timeout=60)

    async def big_default():
        await big_messages([])

    async def big_no_inc():
        await big_messages(["buf_inc"])

    async def big_no_bundle():
        await big_messages(["recv_bundle"])

    async def big_none():
        await big_messages(["all"])

    await r.case("serve_large_messages_whole_with_features", big_default, timeout=90)
    await r.case("serve_large_messages_whole_bundles_4k_buffers", big_no_inc, timeout=90)
    await r.case("serve_large_messages_whole_inc_without_bundles", big_no_bundle, timeout=90)
    await r.case("serve_large_messages_whole_without_features", big_none, timeout=90)

    async def carry_default():
        await carry_then_big_piece([])

    async def carry_none():
        await carry_then_big_piece(["all"])

    await r.case("serve_carry_completed_by_a_large_piece", carry_default, timeout=60)
    await r.case("serve_carry_completed_without_features", carry_none, timeout=60)


if __name__ == "__main__":
    esme.main("test_uring_recv", run, limit=280)
