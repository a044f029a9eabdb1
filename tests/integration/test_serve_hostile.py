"""`esmeload serve` against hostile clients.

Each case does something a bad client does, then checks serve's /stats
counters and that a normal user (an organizer and a participant in a chat,
and a fresh sign-up) is unaffected:
  - oversized request heads: 431, the connection closed (every port);
  - slowloris: a head trickled byte by byte, and an idle connection, are
    closed by --http-timeout (2 s here), not before it and not by a timer
    that each byte restarts (the trickle goes on until the close), while
    others are served;
  - forged tokens (alg none, wrong signature, expired) on REST and WS;
  - a send_message to another user's chat (one case; more in test_serve_errors);
  - a flood of 2000 invalid frames on one connection: counted, the connection
    still usable, other chats working, VmRSS growth bounded (and flat between
    two floods: no per-frame leak);
  - a flood of 2000 protocol-violating frames: the connection closed at once;
  - more connections than --max-conns: the extra ones refused and counted
    (errors.connection_limit), the open chat keeps working, and serve accepts
    again once connections are freed.

Debian's /usr/bin/python3 with python3-websockets; ESMELOAD names the binary.
"""

import asyncio
import json
import os
import socket
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True   # keep the tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esme  # noqa: E402
from esme import check, check_eq, Fail, short, dig  # noqa: E402

HTTP_TIMEOUT = 2.0
SLOW_WINDOW = 30.0            # how long the slowloris trickles and the idle one waits
FLOOD = 2000
RSS_TOTAL_KIB = 48 * 1024     # growth over both floods, pools warming included
RSS_LEAK_KIB = 512            # growth over two floods once serve's receive ring is warm
MAX_CONNS = 16


def hostport(url):
    hp = url.split("://", 1)[1].split("/", 1)[0]
    h, p = hp.rsplit(":", 1)
    return h, int(p)


def raw_conn(url, timeout=20.0):
    s = socket.create_connection(hostport(url), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_until_close(s, timeout=20.0):
    """Everything the peer sends until it closes; (data, how) how: eof|reset|timeout."""
    data = b""
    s.settimeout(timeout)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, "timeout"
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return data, "timeout"
        except ConnectionResetError:
            return data, "reset"
        if not chunk:
            return data, "eof"
        data += chunk


def status_of(resp):
    line = resp.split(b"\r\n", 1)[0].split(b" ")
    try:
        return int(line[1])
    except (IndexError, ValueError):
        return None


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("closed after %d of %d bytes" % (len(b), n))
        b += c
    return b


def read_frame(s):
    """One server frame from a raw socket: (opcode, payload)."""
    h = recv_exact(s, 2)
    n = h[1] & 0x7F
    if n == 126:
        n = struct.unpack(">H", recv_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack(">Q", recv_exact(s, 8))[0]
    if h[1] & 0x80:
        raise Fail("server sent a masked frame")
    return h[0] & 0x0F, recv_exact(s, n)


def get_chats_answered(s, timeout=20.0):
    """Sends get_chats on a raw WebSocket and reads until its reply: True, or
    False when serve closes. Frames are handled in order, so the reply also
    says every frame sent before it has been processed."""
    s.sendall(esme.ws_frame(json.dumps({"type": "get_chats", "payload": ""})))
    s.settimeout(timeout)
    while True:
        op, pl = read_frame(s)
        if op == 1 and json.loads(pl).get("type") == "chats":
            return True
        if op == 8:
            return False


def stat_errs(srv):
    return dig(srv.stats(), "errors")


def delta(after, before, key):
    return after.get(key, 0) - before.get(key, 0)


class RssSampler:
    """Polls serve's VmRSS every 20 ms in a thread; keeps the peak."""

    def __init__(self, srv):
        self.srv = srv
        self.peak = 0
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while not self.stop.is_set():
            try:
                with open("/proc/%d/status" % self.srv.pid) as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            self.peak = max(self.peak, int(line.split()[1]))
            except OSError:
                return
            self.stop.wait(0.02)

    def done(self):
        self.stop.set()
        self.t.join(2)
        return self.peak


async def run(r):
    srv = esme.Server("--quiet", "--http-timeout", "%ds" % HTTP_TIMEOUT).start()
    S = r.state
    seq = [0]

    async def new_chat(org, tag):
        """A fresh participant in a chat with organizer `org`: (ws, chat id, pid, token)."""
        pid, tok, _ = await asyncio.to_thread(srv.new_participant, tag)
        st, js = await esme.acurl("POST", srv.part + "/chat-requests",
                                  {"eventId": 1, "description": "hostile test " + tag}, token=tok)
        check(st == 200, "chat request %s: %s %s" % (tag, st, short(js)))
        pw = await esme.WS.open(srv, tok, "p-" + tag)
        # authorized before start_chat: it may be on another thread
        await pw.request("get_chats", "", "chats")
        await org.send_msg("start_chat")
        nc = await org.expect("new_chat", pred=lambda p: p.get("participantId") == pid)
        await pw.expect("new_chat", pred=lambda p: p.get("id") == nc["payload"]["id"])
        return pw, nc["payload"]["id"], pid, tok

    async def roundtrip(org, pw, chat, what):
        """The normal user: a message from the participant reaches both sides."""
        seq[0] += 1
        text = "normal user %d (%s)" % (seq[0], what)
        await pw.send_msg("send_message", {"chatId": chat, "message": text})
        await pw.expect("user_message", pred=lambda p: p.get("content") == text,
                        what="own echo after " + what)
        await org.expect("user_message", pred=lambda p: p.get("content") == text,
                         what="organizer copy after " + what)

    async def normal_user_ok(what):
        await roundtrip(S["org"], S["pw"], S["chat"], what)
        st, js = await asyncio.to_thread(srv.sign_up, esme.unique_email("after"))
        check(st == 201, "sign-up after %s: %s %s" % (what, st, short(js)))

    # ---------------------------------------------------------------- baseline
    async def baseline():
        tok, _ = await asyncio.to_thread(srv.org_token)
        S["org_tok"] = tok
        S["org"] = await esme.WS.open(srv, tok, "org")
        S["pw"], S["chat"], S["pid"], S["ptok"] = await new_chat(S["org"], "base")
        await roundtrip(S["org"], S["pw"], S["chat"], "baseline")

    await r.case("baseline_chat", baseline)
    need = ("baseline_chat",)

    # ---------------------------------------------------------------- 431
    async def oversized_headers():
        before = stat_errs(srv)
        for name, url, req in (
                ("organizer", srv.org, "POST /auth/sign-in HTTP/1.1"),
                ("participant", srv.part, "POST /auth/sign-up HTTP/1.1"),
                ("messenger", srv.msg, "GET /connect HTTP/1.1")):
            head = (req + "\r\nHost: x\r\nX-Big: " + "a" * 8300 + "\r\n\r\n").encode()
            s = raw_conn(url)
            try:
                s.sendall(head)
                resp, how = await asyncio.to_thread(read_until_close, s)
            finally:
                s.close()
            check_eq(status_of(resp), 431, "%s port, 8 KiB+ header: status (%r, %s)"
                     % (name, short(resp[:120]), how))
            check(how in ("eof", "reset"), "%s port: connection not closed after 431 (%s)" % (name, how))
        # Too many headers, each small.
        s = raw_conn(srv.part)
        try:
            s.sendall(("POST /auth/sign-up HTTP/1.1\r\nHost: x\r\n" +
                       "".join("X-H%d: v\r\n" % i for i in range(300)) + "\r\n").encode())
            resp, how = await asyncio.to_thread(read_until_close, s)
        finally:
            s.close()
        check_eq(status_of(resp), 431, "300 headers: status (%r)" % short(resp[:120]))
        after = stat_errs(srv)
        check_eq(delta(after, before, "http_bad_request"), 4, "errors.http_bad_request after 4 oversized heads")
        await normal_user_ok("oversized headers")

    await r.case("oversized_headers_431", oversized_headers, needs=need)

    # ---------------------------------------------------------------- slowloris
    async def slowloris():
        st0 = srv.stats()

        # t0 is taken before the connect: serve's timer cannot start
        # earlier, so a busy machine can only make dt longer, never shorter.
        def trickle():
            t0 = time.monotonic()
            s = raw_conn(srv.part)
            s.sendall(b"POST /auth/sign-up HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            s.settimeout(0.3)
            try:
                while time.monotonic() - t0 < SLOW_WINDOW:
                    try:
                        if s.recv(4096) == b"":
                            return time.monotonic() - t0, "eof"
                    except socket.timeout:
                        pass
                    s.send(b"a")        # one byte of header every 0.3 s
            except (ConnectionResetError, BrokenPipeError):
                return time.monotonic() - t0, "reset"
            finally:
                s.close()
            return time.monotonic() - t0, "still open"

        def idle():
            t0 = time.monotonic()
            s = raw_conn(srv.org)
            try:
                data, how = read_until_close(s, SLOW_WINDOW)
            finally:
                s.close()
            return time.monotonic() - t0, how

        tt = asyncio.ensure_future(asyncio.to_thread(trickle))
        ti = asyncio.ensure_future(asyncio.to_thread(idle))
        # Meanwhile the normal user is served, more than once.
        for i in range(3):
            await normal_user_ok("slowloris %d" % i)
            await asyncio.sleep(0.3)
        (dt_t, how_t), (dt_i, how_i) = await tt, await ti
        # Closed while it still trickled (a timer restarted by each byte
        # never fires), and not before --http-timeout (0.5 s: serve's timer
        # granularity).
        check(how_t in ("eof", "reset"), "slowloris connection %s after %.1f s of a byte every "
              "0.3 s (--http-timeout %ds)" % (how_t, dt_t, HTTP_TIMEOUT))
        check(dt_t >= HTTP_TIMEOUT - 0.5,
              "slowloris closed after %.2f s, before --http-timeout %ds" % (dt_t, HTTP_TIMEOUT))
        check(how_i in ("eof", "reset"), "idle connection %s after %.1f s" % (how_i, dt_i))
        check(dt_i >= HTTP_TIMEOUT - 0.5,
              "idle connection closed after %.2f s, before --http-timeout %ds" % (dt_i, HTTP_TIMEOUT))
        # Counted when serve's close completes, which may follow the EOF.
        closed = []
        await esme.await_until(
            lambda: closed.append(dig(srv.stats(), "connections", "closed") -
                                  dig(st0, "connections", "closed")) or closed[-1] >= 2,
            what=lambda: "connections.closed grew by %d, not by the two closes" % closed[-1])
        await normal_user_ok("slowloris closed")

    await r.case("slowloris_closed_by_http_timeout", slowloris, needs=need, timeout=SLOW_WINDOW + 60)

    # ---------------------------------------------------------------- forged tokens
    async def forged_tokens():
        now = int(time.time())
        pid = S["pid"]
        forged = {
            "alg_none": lambda role, uid: role + ":" + esme.make_jwt(esme.claims(uid), alg="none"),
            "wrong_signature": lambda role, uid: role + ":" + esme.make_jwt(esme.claims(uid), secret="forged-secret"),
            "expired": lambda role, uid: role + ":" + esme.make_jwt(
                esme.claims(uid, exp_in=-3600, now=now - 7200)),
        }
        st0 = srv.stats()
        e0 = st0["errors"]
        n_rest = 0
        for name, make in forged.items():
            ptok, otok = make("participant", pid), make("organizer", 1)
            # The organizer API refuses with 403, the Go services with 401.
            for what, method, url, body, tok, want in (
                    ("organizer /profile", "GET", srv.org + "/profile", None, otok, 403),
                    ("participant /profile", "GET", srv.part + "/profile", None, ptok, 401),
                    ("chat request", "POST", srv.part + "/chat-requests",
                     {"eventId": 1, "description": "forged"}, ptok, 401),
                    ("messenger /participant/chats", "GET", srv.msg + "/participant/chats", None, ptok, 401),
                    ("messenger /agency/chats", "GET", srv.msg + "/agency/chats", None, otok, 401)):
                st, js = await esme.acurl(method, url, body, token=tok)
                check(st == want, "%s with a %s token: %s %s" % (what, name, st, short(js)))
                n_rest += 1
            for role, tok in (("participant", ptok), ("organizer", otok)):
                w = await esme.WS.open(srv, tok, "forged-%s-%s" % (name, role))
                code, got = await w.expect_closed()
                check(not got, "%s %s token: frames before the close: %s" % (name, role, short(got)))
                check_eq(code, 1006, "%s %s token: close code (no close frame)" % (name, role))
        st1 = srv.stats()
        e1 = st1["errors"]
        check_eq(delta(e1, e0, "auth_failed"), 6, "errors.auth_failed after 6 forged WS authorizations")
        check(delta(e1, e0, "http_4xx") >= n_rest,
              "errors.http_4xx grew by %d after %d refused REST calls" % (delta(e1, e0, "http_4xx"), n_rest))
        check_eq(st1["chat_requests"], st0["chat_requests"], "chat requests accepted with forged tokens")
        check_eq(dig(st1, "connections", "participant"), dig(st0, "connections", "participant"),
                 "authorized participant connections")
        await normal_user_ok("forged tokens")

    await r.case("forged_tokens_rest_and_ws_refused", forged_tokens, needs=need)

    # ---------------------------------------------------------------- another user's chat
    async def foreign_chat():
        pid, tok, _ = await asyncio.to_thread(srv.new_participant, "intruder")
        w = await esme.WS.open(srv, tok, "intruder")
        e0 = stat_errs(srv)
        m0 = dig(srv.stats(), "messages", "stored")
        await w.send_msg("send_message", {"chatId": S["chat"], "message": "intrusion"})
        err = await w.expect("error")
        check_eq(err["payload"].get("message"), "you have no access to chat %s" % S["chat"], "error text")
        await S["pw"].expect_none("user_message", pred=lambda p: p.get("content") == "intrusion")
        await S["org"].expect_none("user_message", pred=lambda p: p.get("content") == "intrusion")
        st = srv.stats()
        check_eq(delta(st["errors"], e0, "no_access"), 1, "errors.no_access")
        check_eq(dig(st, "messages", "stored"), m0, "messages.stored after a refused message")
        await w.close()
        await normal_user_ok("foreign chat")

    await r.case("other_users_chat_no_access", foreign_chat, needs=need)

    # ---------------------------------------------------------------- invalid frame flood
    async def flood():
        pid, tok, _ = await asyncio.to_thread(srv.new_participant, "flood")
        s = esme.raw_ws_connect(srv, rcvbuf=4096)
        s.sendall(esme.ws_frame(json.dumps({"Authorization": "Bearer " + tok})))
        kinds = ("malformed_message", "invalid_message_type", "invalid_message_payload")
        frames = [esme.ws_frame("{not json " + "x" * 1000),
                  esme.ws_frame(json.dumps({"type": "no_such_type", "payload": ""})),
                  esme.ws_frame(json.dumps({"type": "send_message", "payload": "not an object"}))]
        blob = b"".join(frames[i % 3] for i in range(FLOOD))
        expect = {k: sum(1 for i in range(FLOOD) if i % 3 == j) for j, k in enumerate(kinds)}

        def send_and_drain(data, nframes):
            """Sends data (nframes invalid frames) while reading serve's answers:
            (error frames read, how it ended)."""
            t = threading.Thread(target=s.sendall, args=(data,), daemon=True)
            t.start()
            errors, how = 0, "ok"
            s.settimeout(30)
            try:
                while errors < nframes:
                    op, pl = read_frame(s)
                    if op == 8:
                        how = "closed by serve (code %s)" % (
                            struct.unpack(">H", pl[:2])[0] if len(pl) >= 2 else None)
                        break
                    if op == 1 and json.loads(pl).get("type") == "error":
                        errors += 1
            except (socket.timeout, EOFError, ConnectionResetError) as e:
                how = "%s after %d error frames" % (type(e).__name__, errors)
            t.join(60)
            return errors, how

        # The authorization is processed first.
        check(await asyncio.to_thread(get_chats_answered, s), "no chats reply after the authorization")
        rss0 = srv.vmrss_kib()
        sampler = RssSampler(srv)
        # Warm-up: serve's shared receive ring (4096 x 4 KiB provided buffers)
        # is used in turn, so its pages join VmRSS as input flows, until 16 MiB
        # have passed. Past that, further floods must not grow memory.
        warm = esme.ws_frame("{not json " + "w" * 8000)
        n_warm = 2500
        errors, how = await asyncio.to_thread(send_and_drain, warm * n_warm, n_warm)
        check(errors == n_warm, "warm-up flood: %d of %d answered (%s)" % (errors, n_warm, how))
        rss_warm = srv.vmrss_kib()
        st0 = srv.stats()
        rss_after = []
        for round_ in (1, 2):
            task = asyncio.ensure_future(asyncio.to_thread(send_and_drain, blob, FLOOD))
            # Other users' chats keep working during the flood.
            await roundtrip(S["org"], S["pw"], S["chat"], "flood %d" % round_)
            errors, how = await asyncio.wait_for(task, 120)
            rss_after.append(srv.vmrss_kib())
            st = srv.stats()
            got = {k: delta(st["errors"], st0["errors"], k) for k in kinds}
            want = {k: v * round_ for k, v in expect.items()}
            check_eq(got, want, "round %d: /stats errors after %d invalid frames" % (round_, FLOOD))
            check(dig(st, "frames", "in") - dig(st0, "frames", "in") >= FLOOD * round_,
                  "frames.in counted the flood")
            dropped = dig(st, "frames", "dropped") - dig(st0, "frames", "dropped")
            # One error frame per invalid frame, unless serve dropped some
            # (counted) or closed the connection: both allowed.
            check(errors == FLOOD or how.startswith("closed") or errors + dropped >= FLOOD,
                  "round %d: %d error frames read (%s), %d dropped" % (round_, errors, how, dropped))
            if how == "ok":
                check(await asyncio.to_thread(get_chats_answered, s),
                      "flooding connection no longer answers get_chats")
            await roundtrip(S["org"], S["pw"], S["chat"], "after flood %d" % round_)
        peak = sampler.done()
        s.close()
        print("  flood: VmRSS %d KiB before, %d after the warm-up, %s after each round, peak %d" % (
            rss0, rss_warm, rss_after, peak), flush=True)
        check(peak - rss0 < RSS_TOTAL_KIB, "VmRSS grew %d KiB during the floods (bound %d KiB)"
              % (peak - rss0, RSS_TOTAL_KIB))
        check(rss_after[-1] - rss_warm < RSS_LEAK_KIB,
              "VmRSS grew %d KiB over %d invalid frames after the warm-up (bound %d KiB): "
              "a per-frame leak?" % (rss_after[-1] - rss_warm, 2 * FLOOD, RSS_LEAK_KIB))
        await normal_user_ok("flood")

    await r.case("invalid_frame_flood_2000_memory_bounded", flood, needs=need, timeout=200)

    async def protocol_flood():
        pid, tok, _ = await asyncio.to_thread(srv.new_participant, "badproto")
        s = esme.raw_ws_connect(srv)
        s.sendall(esme.ws_frame(json.dumps({"Authorization": "Bearer " + tok})))
        check(await asyncio.to_thread(get_chats_answered, s), "no chats reply after the authorization")
        e0 = stat_errs(srv)
        # Unmasked client frames: a protocol violation (RFC 6455 5.1).
        bad = bytes([0x81, 20]) + b'{"type":"get_chats"}'
        t0 = time.monotonic()
        try:
            s.sendall(bad * FLOOD)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data, how = await asyncio.to_thread(read_until_close, s)
        dt = time.monotonic() - t0
        s.close()
        check(how in ("eof", "reset"), "connection still open %.1f s after %d unmasked frames" % (dt, FLOOD))
        e1 = stat_errs(srv)
        check_eq(delta(e1, e0, "websocket_protocol"), 1, "errors.websocket_protocol (closed at the first)")
        check_eq(delta(e1, e0, "malformed_message"), 0, "no frame after the violation was processed")
        await normal_user_ok("protocol flood")

    await r.case("protocol_violation_flood_closed", protocol_flood, needs=need)

    for k in ("pw", "org"):
        if k in S:
            await S[k].close()
    srv.kill()

    # ---------------------------------------------------------------- --max-conns
    async def max_conns():
        lim = esme.Server("--quiet", "--max-conns", str(MAX_CONNS), "--http-timeout", "30s",
                          name="maxconns").start()
        held = []
        try:
            tok, _ = await asyncio.to_thread(lim.org_token)
            org = await esme.WS.open(lim, tok, "lim-org")
            pid, ptok, _ = await asyncio.to_thread(lim.new_participant, "lim")
            st, js = await esme.acurl("POST", lim.part + "/chat-requests",
                                      {"eventId": 1, "description": "limit"}, token=ptok)
            check(st == 200, "chat request: %s %s" % (st, short(js)))
            pw = await esme.WS.open(lim, ptok, "lim-part")
            await org.send_msg("start_chat")
            nc = await org.expect("new_chat")
            chat = nc["payload"]["id"]

            def open_conns():
                """Connections serve counts open, or None while it refuses /stats."""
                try:
                    st = lim.stats()
                except Fail:
                    return None
                return dig(st, "connections", "http") + dig(st, "connections", "pending") + \
                    dig(st, "connections", "organizer") + dig(st, "connections", "participant")
            # Until curl's connections are closed on serve's side too: the two
            # WebSockets, and maybe the /stats connection itself.
            seen = []
            await esme.await_until(lambda: seen.append(open_conns()) or seen[-1] in (2, 3),
                                   what=lambda: "open connections before the test: %s" % seen[-5:])
            extra = 3 * MAX_CONNS
            for i in range(extra):
                try:
                    s = raw_conn(lim.msg)
                    s.sendall(b"GET /stats HTTP/1.1\r\nHost: x\r\n")   # never finished
                    held.append(s)
                except OSError as e:
                    held.append(e)

            def state(s):
                if isinstance(s, OSError):
                    return "refused"
                s.settimeout(0.05)
                try:
                    return "refused" if s.recv(1) == b"" else "data"
                except socket.timeout:
                    return "open"
                except (ConnectionResetError, BrokenPipeError):
                    return "refused"
            room = MAX_CONNS - 2
            # Until serve has refused all it must (a refused socket stays
            # refused); the checks below then say what went wrong, if anything.
            deadline = time.monotonic() + esme.WAIT
            while True:
                states = [state(s) for s in held]
                n_open, n_refused = states.count("open"), states.count("refused")
                if n_refused >= extra - room or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
            check(n_open <= room, "%d extra connections stayed open, only %d slots were free (--max-conns %d)"
                  % (n_open, room, MAX_CONNS))
            check(n_open >= room - 2, "only %d of %d free slots could be used" % (n_open, room))
            check(n_refused >= extra - room, "%d of %d connections past the limit refused (states %s)"
                  % (n_refused, extra - room, states))
            # At the limit, the open chat keeps working.
            text = "at the connection limit"
            await pw.send_msg("send_message", {"chatId": chat, "message": text})
            await pw.expect("user_message", pred=lambda p: p.get("content") == text, what="echo at the limit")
            await org.expect("user_message", pred=lambda p: p.get("content") == text)
            for s in held:
                if not isinstance(s, OSError):
                    s.close()
            held = []
            # Until serve has seen the closes: the two WebSockets (and maybe
            # the /stats connection) are all it counts open.
            seen = []
            await esme.await_until(lambda: seen.append(open_conns()) or seen[-1] in (2, 3),
                                   what=lambda: "connections open after closing the extra ones: %s"
                                   % seen[-5:])
            st = lim.stats()
            check(dig(st, "errors", "connection_limit") >= n_refused,
                  "errors.connection_limit %d, %d connections refused" % (dig(st, "errors", "connection_limit"), n_refused))
            # serve accepts again: a whole new user flow.
            pid2, ptok2, _ = await asyncio.to_thread(lim.new_participant, "lim2")
            st2, js = await esme.acurl("POST", lim.part + "/chat-requests",
                                       {"eventId": 1, "description": "after"}, token=ptok2)
            check(st2 == 200, "chat request after the limit: %s %s" % (st2, short(js)))
            pw2 = await esme.WS.open(lim, ptok2, "lim-part2")
            await org.send_msg("start_chat")
            nc2 = await org.expect("new_chat", pred=lambda p: p.get("participantId") == pid2)
            text = "after the connection limit"
            await pw2.send_msg("send_message", {"chatId": nc2["payload"]["id"], "message": text})
            await pw2.expect("user_message", pred=lambda p: p.get("content") == text)
            print("  max-conns %d: %d held open, %d refused, errors.connection_limit %d" % (
                MAX_CONNS, n_open, n_refused, dig(st, "errors", "connection_limit")), flush=True)
            for w in (org, pw, pw2):
                await w.close()
        finally:
            for s in held:
                if not isinstance(s, OSError):
                    s.close()
            lim.kill()

    await r.case("max_conns_extra_refused_and_counted", max_conns, timeout=150)


if __name__ == "__main__":
    esme.main("test_serve_hostile", run)
