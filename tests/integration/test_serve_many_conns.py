#!/usr/bin/python3
"""`esmeload serve` past one io_uring's table: connections on several rings.

A ring's table of direct descriptors may hold at most RLIMIT_NOFILE entries, so
serve spreads --max-conns over ceil(N / limit) rings and fills them in order
(lowest ring with a free entry first). serve is started under a pinned
RLIMIT_NOFILE (soft = hard, through a wrapper script) so the ring layout does
not depend on the machine. Which ring a connection is on cannot be seen from
outside; the tests make it follow from the order of connecting.

rings_small_boundaries (limit 64, --max-conns 200: rings of 64, 64, 64, 8):
  a participant connects first (ring 0), 189 raw WebSocket connections follow,
  then the organizer (ring 3); messages flow both ways between them. Then
  connections are opened until one is refused: at least 200 - 3 held in all
  (with 64-entry tables each listener keeps one single accept armed, and near
  the limit those claims may sit idle in another ring: up to NPORTS early), at
  most 200; the refused one sees EOF or a reset at once, not a hang. After
  closing a few on different rings, /stats answers (connection_limit counted,
  every held connection counted) and new connections are accepted again.

many_conns_two_rings (limit 20,000 or the hard limit if lower, --max-conns
  50000): a participant connects first (ring 0); then 25,000 raw connections
  complete a WebSocket upgrade, from child processes (each under its own
  descriptor limit, each from its own 127.0.0.x source address); then a
  second participant and the organizer connect (ring 1). Messages flow
  between the participant on ring 0 and the organizer on ring 1 and back,
  /stats counts all 25,000 pending connections, and when the children exit
  serve closes them all.

Child mode (internal): test_serve_many_conns.py --hold HOST PORT COUNT SRC
"""

import asyncio
import atexit
import base64
import hashlib
import os
import resource
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True   # keep the tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esme  # noqa: E402
from esme import check, check_eq, short  # noqa: E402

KEY = base64.b64encode(b"esme-many-conns!")
ACCEPT = base64.b64encode(hashlib.sha1(KEY + esme.WS_GUID).digest())
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)

MANY = 25000            # raw connections of the big case
MANY_MAX = 50000        # its --max-conns
MANY_RING = 20000       # its RLIMIT_NOFILE (ring size), unless the hard limit is lower
PER_CHILD = 9000        # connections per child process
BATCH = 250             # connects in flight before their responses are read

SMALL_RING = 64
SMALL_MAX = 200
SMALL_BEFORE_ORG = 189  # raw connections between the participant and the organizer
NPORTS = 3


def upgrade_request(hostport):
    return (b"GET /connect HTTP/1.1\r\nHost: " + hostport.encode() +
            b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " +
            KEY + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")


def read_head(s):
    """The response head, b'' on EOF, or the error; never blocks past the timeout."""
    resp = b""
    try:
        while b"\r\n\r\n" not in resp:
            d = s.recv(4096)
            if not d:
                return resp or b""
            resp += d
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return e
    return resp


def upgraded(resp):
    return isinstance(resp, bytes) and resp.startswith(b"HTTP/1.1 101 ") and ACCEPT in resp


# ---------------------------------------------------------------- child mode

def hold(host, port, count, src):
    """Opens count upgraded connections from src, prints 'ready N', holds them
    until stdin closes. Exits 1 with a reason on the first failure."""
    req = upgrade_request("%s:%d" % (host, port))
    socks = []
    for start in range(0, count, BATCH):
        batch = []
        for _ in range(min(BATCH, count - start)):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            s.bind((src, 0))
            s.settimeout(30)
            try:
                s.connect((host, port))
                s.sendall(req)
            except OSError as e:
                print("error connection %d: %r" % (len(socks) + len(batch), e), flush=True)
                sys.exit(1)
            batch.append(s)
        for s in batch:
            resp = read_head(s)
            if not upgraded(resp):
                print("error connection %d: %r" % (len(socks), resp if not isinstance(resp, bytes)
                                                   else resp[:80]), flush=True)
                sys.exit(1)
            socks.append(s)
    print("ready %d" % len(socks), flush=True)
    sys.stdin.read()


if len(sys.argv) == 6 and sys.argv[1] == "--hold":
    hold(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    sys.exit(0)


# ---------------------------------------------------------------- helpers

def limited(nofile):
    """A wrapper that runs esmeload with RLIMIT_NOFILE soft = hard = nofile,
    so serve's rings are nofile entries each. Returns its path."""
    d = tempfile.mkdtemp(prefix="esme-many-")
    atexit.register(shutil.rmtree, d, True)
    path = os.path.join(d, "esmeload")
    with open(path, "w") as f:
        f.write("#!/bin/sh\nulimit -n %d || exit 1\nexec %s \"$@\"\n" % (nofile, ORIG_ESMELOAD))
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


ORIG_ESMELOAD = esme.ESMELOAD


def start_limited(nofile, *extra):
    esme.ESMELOAD = limited(nofile)
    try:
        return esme.Server(*extra).start()
    finally:
        esme.ESMELOAD = ORIG_ESMELOAD


def ring_line(srv, timeout=20.0):
    """serve's stderr start line naming its rings."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        t = srv.stderr_tail(2000)
        if "ring" in t and "direct descriptors" in t:
            return t
        time.sleep(0.02)
    raise esme.Fail("no rings line on serve's stderr: %s" % srv.stderr_tail())


def raw(srv, timeout=20.0):
    """One upgraded raw connection, or (None, what happened): "timeout" if
    serve neither answers nor closes within the (generous) bound, a hang."""
    hostport = srv.ws[len("ws://"):]
    host, port = hostport.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, int(port)))
        s.sendall(upgrade_request(hostport))
    except OSError as e:
        s.close()
        return None, e
    resp = read_head(s)
    if upgraded(resp):
        return s, resp
    s.close()
    return None, resp


async def stats_retry(srv, timeout=30.0):
    """GET /stats, retried while serve still frees the entry it needs."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await asyncio.to_thread(srv.stats)
        except esme.Fail:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def setup_users(srv, n_parts):
    """Organizer token and n_parts participants with a chat request each
    (queued in this order), all before any connection is held."""
    org_token, _ = await asyncio.to_thread(srv.org_token)
    parts = []
    for i in range(n_parts):
        pid, tok, _ = await asyncio.to_thread(srv.new_participant, "many%d" % i)
        st, js = await asyncio.to_thread(srv.chat_request, tok, 1, "many conns %d" % i)
        check_eq(st, 200, "chat request (%s)" % short(js))
        parts.append((pid, tok))
    return org_token, parts


async def open_ws(srv, token, name):
    ws = await esme.WS.open(srv, token, name)
    pl = await ws.request("get_chats", "", "chats")
    check(isinstance(pl, dict) and isinstance(pl.get("chats"), list),
          "%s: get_chats %s" % (name, short(pl)))
    return ws


async def start_chat(org, part, pid, name):
    await org.send_msg("start_chat", "")
    f = await org.expect("new_chat", pred=lambda c: c.get("participantId") == pid,
                         what="start_chat with %s" % name)
    chat = f["payload"]["id"]
    await part.expect("new_chat", pred=lambda c: c.get("id") == chat, what="new_chat")
    return chat


async def exchange(org, part, chat, tag):
    """A message each way; both sides get both (sender's echo included)."""
    for sender, text in ((part, "from %s participant" % tag), (org, "from %s organizer" % tag)):
        await sender.send_msg("send_message", {"chatId": chat, "message": text})
        for w in (part, org):
            f = await w.expect("user_message", pred=lambda p, t=text: p.get("content") == t,
                               what="%r" % text)
            check_eq(f["payload"]["chatId"], chat, w.name + " chatId")


# ---------------------------------------------------------------- cases

async def small_boundaries(r):
    srv = start_limited(SMALL_RING, "--max-conns", SMALL_MAX, "--auth-timeout", "5m")
    held = []
    wss = []
    try:
        def layout():
            t = ring_line(srv)
            check("in 4 rings of %d" % SMALL_RING in t, "expected 4 rings of %d: %s"
                  % (SMALL_RING, short(t)))

        await r.case("small_ring_layout", layout)

        S = {}

        async def flows_across_rings():
            org_token, parts = await setup_users(srv, 1)
            pid, ptok = parts[0]
            S["p"] = p = await open_ws(srv, ptok, "part_ring0")
            wss.append(p)
            for i in range(SMALL_BEFORE_ORG):
                s, what = await asyncio.to_thread(raw, srv)
                check(s is not None, "raw connection %d refused: %r" % (i, what))
                held.append(s)
            S["o"] = o = await open_ws(srv, org_token, "org_ring3")
            wss.append(o)
            S["chat"] = chat = await start_chat(o, p, pid, "the ring-0 participant")
            await exchange(o, p, chat, "ring0-ring3")

        await r.case("small_rings_flow_ring0_ring3", flows_across_rings, needs=["small_ring_layout"])

        async def fill_refuse_recover():
            extra, refused = 0, None
            for _ in range(SMALL_MAX):
                s, what = await asyncio.to_thread(raw, srv)
                if s is None:
                    refused = what
                    break
                held.append(s)
                extra += 1
            total = len(held) + 2
            check(refused is not None, "no connection refused at %d held" % total)
            check(refused == b"" or isinstance(refused, (ConnectionResetError, BrokenPipeError)),
                  "refused connection: expected EOF or reset, got %r" % (refused,))
            check(SMALL_MAX - NPORTS <= total <= SMALL_MAX,
                  "held %d connections before the first refusal (limit %d)" % (total, SMALL_MAX))
            # Free entries in several rings: raw connections 0, 70, 130 and the last.
            for i in (0, 70, 130, len(held) - 1):
                held[i].close()
            for i in sorted((0, 70, 130, len(held) - 1), reverse=True):
                del held[i]
            # Until serve has seen the four closes (/stats answers after the
            # first); the checks below then say what is wrong, if anything.
            deadline = time.monotonic() + esme.WAIT
            while True:
                st = await stats_retry(srv)
                if st["connections"]["pending"] <= len(held) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            check(esme.dig(st, "errors", "connection_limit") >= 1,
                  "connection_limit not counted: %s" % short(st["errors"]))
            conns = st["connections"]
            check_eq(conns["pending"], len(held), "connections.pending")
            check_eq((conns["organizer"], conns["participant"]), (1, 1),
                     "connections.organizer, .participant")
            for _ in range(3):
                s, what = await asyncio.to_thread(raw, srv)
                check(s is not None, "no new connection after closing 4: %r" % (what,))
                held.append(s)
            await exchange(S["o"], S["p"], S["chat"], "after refusals")

        await r.case("small_rings_fill_refuse_recover", fill_refuse_recover,
                     needs=["small_rings_flow_ring0_ring3"], timeout=120)
    finally:
        for w in wss:
            await w.close()
        for s in held:
            s.close()
        srv.kill()


async def many_conns(r):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    ring = MANY_RING if hard == resource.RLIM_INFINITY else min(MANY_RING, hard)
    mine = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    per_child = min(PER_CHILD, mine - 100)
    if per_child < 1000:
        raise esme.Skip("RLIMIT_NOFILE %d is too low for the client side" % mine)
    srv = start_limited(ring, "--max-conns", MANY_MAX, "--auth-timeout", "5m")
    kids = []
    wss = []
    S = {}
    try:
        def layout():
            t = ring_line(srv)
            n = -(-MANY_MAX // ring)
            check("in %d rings of %d" % (n, ring) in t, "expected %d rings of %d: %s"
                  % (n, ring, short(t)))
            check(MANY > ring, "%d connections fit one ring of %d" % (MANY, ring))

        await r.case("many_layout", layout)

        async def hold_many():
            S["org_token"], S["parts"] = await setup_users(srv, 2)
            pid, ptok = S["parts"][0]
            S["p0"] = await open_ws(srv, ptok, "part_ring0")
            wss.append(S["p0"])
            host, port = srv.ws[len("ws://"):].rsplit(":", 1)
            left, k = MANY, 0
            t0 = time.monotonic()
            while left:
                n = min(per_child, left)
                kids.append(subprocess.Popen(
                    [sys.executable, os.path.abspath(__file__), "--hold", host, port, str(n),
                     "127.0.0.%d" % (k + 2)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
                left -= n
                k += 1
            for kid in kids:
                line = await asyncio.to_thread(kid.stdout.readline)
                check(line.startswith(b"ready "), "child: %r" % line.strip())
            S["flood_s"] = time.monotonic() - t0
            st = await stats_retry(srv)
            check_eq(st["connections"]["pending"], MANY, "connections.pending")

        await r.case("many_hold_%d_upgraded" % MANY, hold_many, needs=["many_layout"], timeout=150)

        async def flows():
            pid0, _ = S["parts"][0]
            pid1, ptok1 = S["parts"][1]
            # Ring 0 is full now: these go to ring 1.
            S["o"] = o = await open_ws(srv, S["org_token"], "org_ring1")
            wss.append(o)
            p1 = await open_ws(srv, ptok1, "part_ring1")
            wss.append(p1)
            chat0 = await start_chat(o, S["p0"], pid0, "the ring-0 participant")
            chat1 = await start_chat(o, p1, pid1, "the ring-1 participant")
            await exchange(o, S["p0"], chat0, "ring0-ring1")
            await exchange(o, p1, chat1, "ring1-ring1")
            st = await stats_retry(srv)
            c = st["connections"]
            check_eq((c["pending"], c["organizer"], c["participant"]), (MANY, 1, 2),
                     "connections pending, organizer, participant")
            check(c["accepted"] >= MANY + 3, "connections.accepted %d" % c["accepted"])
            check_eq(esme.dig(st, "errors", "connection_limit"), 0, "errors.connection_limit")

        await r.case("many_flow_ring0_ring1", flows, needs=["many_hold_%d_upgraded" % MANY])

        async def release():
            before = (await stats_retry(srv))["connections"]["closed"]
            for kid in kids:
                kid.stdin.close()
            for kid in kids:
                await asyncio.to_thread(kid.wait, 60)
            # A connection leaves "pending" when serve starts to close it and
            # counts in "closed" when the close completes: wait for both.
            deadline = time.monotonic() + 60
            while True:
                st = await stats_retry(srv)
                if st["connections"]["pending"] == 0 and st["connections"]["closed"] - before >= MANY:
                    break
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            check(st["connections"]["pending"] == 0, "still %d pending after the clients left"
                  % st["connections"]["pending"])
            check(st["connections"]["closed"] - before >= MANY,
                  "closed grew by %d" % (st["connections"]["closed"] - before))
            check(srv.alive(), srv.death())

        await r.case("many_release", release, needs=["many_hold_%d_upgraded" % MANY])
        if "flood_s" in S:
            r.line("INFO %d upgraded connections held in %.1f s" % (MANY, S["flood_s"]))
    finally:
        for w in wss:
            await w.close()
        for kid in kids:
            if kid.poll() is None:
                kid.kill()
                kid.wait()
        srv.kill()


async def run(r):
    await small_boundaries(r)
    await many_conns(r)


if __name__ == "__main__":
    esme.main("test_serve_many_conns", run, limit=280)
