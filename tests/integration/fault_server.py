#!/usr/bin/python3
"""A small ESME imitation that misbehaves on purpose, to test esmeload run.

It serves the organizer API, the participant API and the messenger
(docs/protocol.md sections 3-4, as much as esmeload's scenario uses) on three
loopback ports, written as a config.json like `esmeload serve --write-config`.
HTTP and WebSocket are done by hand over asyncio transports (no websockets library),
so a fault can be placed at the byte level. By default it behaves; with
--fault MODE it misbehaves in that one way:

REST (the participant sign-up; the organizer's sign-in stays correct)
  slow_signup        sign-up answered --delay seconds late (each on its own)
  slow_signin        the organizer's sign-in answered --delay seconds late
  idle_408           50 ms after each chat request's answer, an unasked-for
                     408 on that keep-alive connection, which stays open
  http500            sign-up answers 500
  bad_status_line    sign-up answers a malformed status line
  body_short         Content-Length larger than the body, then the close
  rest_stall         Content-Length larger than the body, connection kept
                     open and silent (only a request deadline ends it)
  body_long          a correct response followed by garbage before the next
  invalid_json       sign-up 201 with a body that is not JSON
  no_token           sign-up 201, JSON without "token"
Messenger handshake (every WebSocket upgrade, the organizer's included)
  ws_bad_accept      101 with a wrong Sec-WebSocket-Accept
  ws_not_101         the upgrade answered --status (default 403; 200 too)
  slow_bytes         the 101 response one byte per second
Messenger, finding the chat (no new_chat push to participants in these)
  slow_get_chats     get_chats answered --delay seconds late
  empty_get_chats    get_chats always answers an empty list
  silent_get_chats   get_chats never answered
Messenger, the participant's own messages
  slow_echo          each stored at once, its echo to the participant
                     --delay seconds later (to whatever connections it
                     has then)
Messenger, several connections of a user
  one_device         a frame for a user reaches only its oldest connection
Messenger, close_chat
  late_closed_chat   the participant's closed_chat --delay seconds after
                     the organizer's (its messages meanwhile refused)
  close_on_rejoin    a participant back on a new connection: its chat
                     closed right after its get_chats is answered, so
                     its get_chat_history is refused after the closed_chat
  close_on_rejoin_late  the same, the participant's closed_chat --delay
                     seconds late: the refusal comes first
Messenger, get_chat_history (it holds every message stored)
  history_faulty     a history without the participant's 2nd message,
                     with its 3rd twice, and one numbered 999999 it never
                     sent
Messenger, after --after (3) send_message frames of a participant connection
  server_error_midrun  an error frame "message could not be saved" instead
                     of the echo
  drop_echo          every second message is not echoed to its sender (the
                     organizer still gets it)
  ws_masked_from_server  the echo comes back in a masked frame
  ws_huge_frame      a frame header claiming 2^63-1 bytes
  ws_close_midrun    a close frame (1001)
  tcp_reset_midrun   RST (SO_LINGER 0)
  stop_reading       the server never reads that connection again (its
                     receive buffer is small, so the client's sends stall)
Connections
  connection_refused messenger_ws_url points at a bound port nobody listens on
  accept_full        the messenger port's accept queue is full: SYNs dropped
  unknown_host       messenger_ws_url uses a host name under .invalid

Usage: fault_server.py [--fault MODE] [--write-config FILE] [--after N]
                       [--status CODE] [--delay SECONDS]
Prints one line with the URLs when ready; logs each injected fault on stderr.
Stops on SIGTERM/SIGINT.
"""

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import struct
import sys
import time

MODES = ("none", "slow_signup", "slow_signin", "idle_408", "slow_get_chats",
         "empty_get_chats", "silent_get_chats", "server_error_midrun",
         "drop_echo", "http500", "bad_status_line", "body_short", "rest_stall",
         "body_long", "invalid_json", "no_token", "ws_bad_accept",
         "ws_not_101", "slow_bytes", "ws_masked_from_server", "ws_huge_frame",
         "ws_close_midrun", "tcp_reset_midrun", "stop_reading",
         "connection_refused", "accept_full", "unknown_host", "history_faulty",
         "late_closed_chat", "one_device", "slow_echo",
         "close_on_rejoin", "close_on_rejoin_late")

ORG_EMAIL = "jan@kowalski.com"
ORG_PASSWORD = "performance"
ORG_ID = 1
AGENCY = 1
EVENT = 1
SECRET = b"fault-server-secret"
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
ZERO_TIME = "0001-01-01T00:00:00Z"

REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 500: "Internal Server Error"}


def log(msg):
    sys.stderr.write("fault_server: %s\n" % msg)
    sys.stderr.flush()


def now3339():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def make_token(role, uid):
    """An HS256 JWT with ESME's claims, role-prefixed (docs/protocol.md section 2)."""
    now = int(time.time())
    head = b64url(b'{"alg":"HS256","typ":"JWT"}')
    body = b64url(json.dumps({"sub": uid, "iat": now, "nbf": now, "exp": now + 86400,
                              "iss": "esme.com", "aud": ["esme.com"]},
                             separators=(",", ":")).encode())
    sig = b64url(hmac.new(SECRET, (head + "." + body).encode(), hashlib.sha256).digest())
    return "%s:%s.%s.%s" % (role, head, body, sig)


def ws_accept(key):
    return base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()


def unmask(data, mask):
    if not data:
        return b""
    m = (mask * (len(data) // 4 + 1))[:len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(m, "big")).to_bytes(len(data), "big")


def ws_encode(payload, opcode=1, mask=None):
    """A server frame; masked only when a fault asks for it."""
    n = len(payload)
    b1 = 0x80 if mask else 0
    if n < 126:
        head = bytes([0x80 | opcode, b1 | n])
    elif n < 65536:
        head = bytes([0x80 | opcode, b1 | 126]) + struct.pack(">H", n)
    else:
        head = bytes([0x80 | opcode, b1 | 127]) + struct.pack(">Q", n)
    if mask:
        return head + mask + unmask(payload, mask)
    return head + payload


class State:
    def __init__(self, args):
        self.args = args
        self.mode = args.fault
        self.participants = {}      # id -> {"email", "phoneNumber", "timeCreated"}
        self.tokens = {}            # token -> (role, id)
        self.queue = []             # chat requests of agency 1, FIFO
        self.locks = set()          # participant ids with a pending request
        self.chats = {}             # chat id -> chat object
        self.history = {}           # chat id -> its messages, in order
        self.logins = {}            # (role, id) -> authorizations so far
        self.chat_seq = 0
        self.msg_seq = 0
        self.users = {}             # (role, id) -> its WS connections, oldest first
        self.faults = 0
        self.org_token = make_token("organizer", ORG_ID)
        self.tokens[self.org_token] = ("organizer", ORG_ID)

    def fault(self, what):
        self.faults += 1
        log("fault %s #%d: %s" % (self.mode, self.faults, what))


class Conn(asyncio.Protocol):
    """One connection on one of the three ports: HTTP, maybe upgraded."""

    def __init__(self, st, port):
        self.st = st
        self.port = port            # "org", "part", "msg"
        self.buf = bytearray()
        self.t = None
        self.ws = False
        self.dead = False
        self.role = None            # after WebSocket authorization
        self.uid = None
        self.sent_msgs = 0          # send_message frames from this connection
        self.frozen = False         # stop_reading: never read again

    # ------------------------------------------------------------ transport
    def connection_made(self, t):
        self.t = t

    def connection_lost(self, exc):
        self.dead = True
        if self.role:
            conns = self.st.users.get((self.role, self.uid), [])
            if self in conns:
                conns.remove(self)

    def write(self, data):
        if not self.dead and not self.t.is_closing():
            self.t.write(data)

    def close(self):
        self.dead = True
        self.t.close()

    def data_received(self, data):
        if self.dead or self.frozen:
            return
        self.buf += data
        if self.ws:
            self.ws_input()
        else:
            self.http_input()

    # ------------------------------------------------------------ HTTP
    def http_input(self):
        while not self.dead and not self.ws:
            i = self.buf.find(b"\r\n\r\n")
            if i < 0:
                if len(self.buf) > 65536:
                    self.close()
                return
            head = bytes(self.buf[:i]).decode("latin-1").split("\r\n")
            try:
                method, target, _ = head[0].split(" ", 2)
            except ValueError:
                self.reply(400, {"statusCode": 400, "message": "bad request",
                                 "error": "Bad Request"}, close=True)
                return
            hdr = {}
            for line in head[1:]:
                k, _, v = line.partition(":")
                hdr[k.strip().lower()] = v.strip()
            n = int(hdr.get("content-length", "0") or 0)
            if len(self.buf) < i + 4 + n:
                return
            body = bytes(self.buf[i + 4:i + 4 + n])
            del self.buf[:i + 4 + n]
            self.request(method, target.split("?")[0], hdr, body)
        if self.ws and self.buf:
            self.ws_input()

    def response(self, status, body=b"", ctype="application/json", extra=(), clen=None,
                 reason=None):
        head = "HTTP/1.1 %d %s\r\n" % (status, reason or REASONS.get(status, "Status"))
        if body or clen is not None:
            head += "Content-Type: %s\r\n" % ctype
        head += "Content-Length: %d\r\n" % (len(body) if clen is None else clen)
        for h in extra:
            head += h + "\r\n"
        return head.encode() + b"\r\n" + body

    def reply(self, status, obj=None, close=False):
        body = b"" if obj is None else json.dumps(obj).encode()
        self.write(self.response(status, body, extra=("Connection: close",) if close else ()))
        if close:
            self.close()

    def error(self, status, msg):
        self.reply(status, {"statusCode": status, "message": msg,
                            "error": REASONS.get(status, "Error")})

    def bearer(self, hdr):
        a = hdr.get("authorization", "")
        return self.st.tokens.get(a[7:]) if a.startswith("Bearer ") else None

    def request(self, method, path, hdr, body):
        st = self.st
        if self.port == "org":
            if method == "POST" and path == "/auth/sign-in":
                try:
                    js = json.loads(body)
                except ValueError:
                    return self.error(400, "malformed body")
                if js.get("email") != ORG_EMAIL or js.get("password") != ORG_PASSWORD:
                    return self.error(400, "invalid email or password")
                if st.mode == "slow_signin" and not getattr(self, "delayed", False):
                    st.fault("sign-in answered %gs late" % st.args.delay)
                    self.delayed = True
                    asyncio.get_running_loop().call_later(
                        st.args.delay, self.request, method, path, hdr, body)
                    return
                return self.reply(200, {"user": {
                    "id": ORG_ID, "email": ORG_EMAIL, "firstName": "Jan", "lastName": "Kowalski",
                    "phoneNumber": "+48100200300", "timeCreated": now3339(),
                    "timeSignOut": ZERO_TIME, "role": 2, "agencyId": AGENCY},
                    "token": st.org_token})
        elif self.port == "part":
            if method == "POST" and path == "/auth/sign-up":
                return self.sign_up(body)
            if method == "POST" and path == "/chat-requests":
                who = self.bearer(hdr)
                if not who or who[0] != "participant":
                    return self.error(401, "Unauthorized")
                try:
                    js = json.loads(body)
                except ValueError:
                    return self.error(400, "malformed body")
                if js.get("eventId") != EVENT:
                    return self.error(404, "event with id %s not found" % js.get("eventId"))
                if who[1] in st.locks:
                    return self.error(400, "chat request already exists")
                st.locks.add(who[1])
                st.queue.append((who[1], js.get("description") or ""))
                self.reply(200)
                if st.mode == "idle_408":
                    st.fault("408 on an idle REST connection")
                    asyncio.get_running_loop().call_later(
                        0.05, self.write,
                        b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
                return
        elif self.port == "msg":
            if method == "GET" and path == "/connect" and \
                    hdr.get("upgrade", "").lower() == "websocket":
                return self.upgrade(hdr)
        self.error(404, "Cannot %s %s" % (method, path))

    def sign_up(self, body, late=False):
        st = self.st
        try:
            js = json.loads(body)
        except ValueError:
            return self.error(400, "malformed body")
        if st.mode == "slow_signup" and not late:
            asyncio.get_running_loop().call_later(st.args.delay, self.sign_up, body, True)
            return
        uid = len(st.participants) + 1
        user = {"id": uid, "email": js.get("email"), "phoneNumber": js.get("phoneNumber"),
                "timeCreated": now3339(), "timeSignOut": ZERO_TIME}
        tok = make_token("participant", uid)
        good = json.dumps({"user": user, "token": tok}).encode()
        mode = st.mode
        if mode == "http500":
            st.fault("sign-up of %s answered 500" % user["email"])
            self.write(self.response(500, json.dumps({
                "statusCode": 500, "message": "internal server error",
                "error": "Internal Server Error"}).encode()))
            return
        if mode == "bad_status_line":
            st.fault("sign-up answered with a bad status line")
            self.write(b"HTTP/1.1 2O1 Created\r\nContent-Type: application/json\r\n"
                       b"Content-Length: %d\r\n\r\n" % len(good) + good)
            return
        if mode in ("body_short", "rest_stall"):
            st.fault("sign-up: Content-Length %d, body %d bytes%s" % (
                len(good) + 100, len(good), ", then close" if mode == "body_short" else
                ", then silence"))
            self.write(self.response(201, good, clen=len(good) + 100))
            if mode == "body_short":
                self.close()
            return
        if mode == "invalid_json":
            st.fault("sign-up body is not JSON")
            self.write(self.response(201, b"<html><body>201 Created</body></html>"))
            return
        if mode == "no_token":
            st.fault("sign-up body has no token")
            self.write(self.response(201, json.dumps({"user": user}).encode()))
            return
        st.participants[uid] = user
        st.tokens[tok] = ("participant", uid)
        resp = self.response(201, good)
        if mode == "body_long":
            st.fault("sign-up response followed by garbage")
            resp += b"GARBAGE, NOT HTTP\r\nX: y\r\n\r\n"
        self.write(resp)

    # ------------------------------------------------------------ upgrade
    def upgrade(self, hdr):
        st = self.st
        key = hdr.get("sec-websocket-key", "")
        accept = ws_accept(key)
        if st.mode == "ws_bad_accept":
            st.fault("101 with a wrong Sec-WebSocket-Accept")
            accept = ws_accept(key + "x")
        if st.mode == "ws_not_101":
            code = st.args.status
            st.fault("upgrade answered %d" % code)
            if code == 200:
                self.write(self.response(200, b"<html>messenger</html>", ctype="text/html"))
            else:
                self.error(code, "forbidden")
            return
        resp = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n" % accept).encode()
        self.ws = True
        if st.mode == "slow_bytes":
            st.fault("101 response one byte per second")
            self.frozen = True      # nothing is read until the response is out
            asyncio.ensure_future(self.trickle(resp))
            return
        self.write(resp)

    async def trickle(self, data):
        for i in range(len(data)):
            if self.dead or self.t.is_closing():
                return
            self.write(data[i:i + 1])
            await asyncio.sleep(1.0)
        self.frozen = False

    # ------------------------------------------------------------ WebSocket
    def ws_input(self):
        b = self.buf
        while not self.dead and not self.frozen:
            if len(b) < 2:
                return
            op, n, off = b[0] & 0x0F, b[1] & 0x7F, 2
            if n == 126:
                if len(b) < 4:
                    return
                n, off = struct.unpack(">H", b[2:4])[0], 4
            elif n == 127:
                if len(b) < 10:
                    return
                n, off = struct.unpack(">Q", b[2:10])[0], 10
            masked = b[1] & 0x80
            if not masked:
                self.write(ws_encode(struct.pack(">H", 1002), 8))
                return self.close()
            if len(b) < off + 4 + n:
                return
            mask = bytes(b[off:off + 4])
            payload = unmask(bytes(b[off + 4:off + 4 + n]), mask)
            del b[:off + 4 + n]
            if op == 8:
                self.write(ws_encode(payload[:2], 8))
                return self.close()
            if op == 9:
                self.write(ws_encode(payload, 10))
            elif op == 1:
                self.text(payload)

    def send_obj(self, typ, payload):
        self.write(ws_encode(json.dumps({"type": typ, "payload": payload}).encode()))

    def to_user(self, role, uid, typ, payload):
        conns = list(self.st.users.get((role, uid), ()))
        if self.st.mode == "one_device" and len(conns) > 1:
            self.st.fault("a frame to %s %d reached 1 of its %d connections"
                          % (role, uid, len(conns)))
            conns = conns[:1]
        for c in conns:
            c.deliver(typ, payload)

    def deliver(self, typ, payload):
        """A frame to this connection; the mid-run faults hook in here."""
        st = self.st
        data = json.dumps({"type": typ, "payload": payload}).encode()
        if self.role == "participant" and typ == "user_message" and \
                st.mode == "ws_masked_from_server" and self.sent_msgs >= st.args.after:
            st.fault("masked frame to participant %d" % self.uid)
            self.write(ws_encode(data, 1, mask=os.urandom(4)))
            return
        self.write(ws_encode(data))

    def text(self, payload):
        st = self.st
        try:
            js = json.loads(payload)
        except ValueError:
            return self.send_obj("error", {"message": "malformed message"})
        if not isinstance(js, dict):
            return self.send_obj("error", {"message": "malformed message"})
        if self.role is None:
            a = js.get("Authorization", "")
            who = st.tokens.get(a[7:]) if isinstance(a, str) and a.startswith("Bearer ") else None
            if not who:
                self.write(ws_encode(struct.pack(">H", 1008), 8))
                return self.close()
            self.role, self.uid = who
            st.users.setdefault(who, []).append(self)
            st.logins[who] = st.logins.get(who, 0) + 1
            return
        typ, pl = js.get("type"), js.get("payload")
        if typ == "get_chats":
            mine = [c for c in st.chats.values() if c["ended"] == 0 and
                    (c["participantId"] if self.role == "participant" else c["organizerId"]) == self.uid]
            mine.reverse()
            if self.role == "participant" and st.mode == "silent_get_chats":
                st.fault("get_chats of participant %d not answered" % self.uid)
                return
            if self.role == "participant" and st.mode == "empty_get_chats":
                st.fault("get_chats of participant %d answered []" % self.uid)
                mine = []
            if self.role == "participant" and st.mode == "slow_get_chats":
                asyncio.get_running_loop().call_later(
                    st.args.delay, self.send_obj, "chats", {"chats": mine})
                return
            self.send_obj("chats", {"chats": mine})
            if self.role == "participant" and st.mode.startswith("close_on_rejoin") and \
                    st.logins.get(("participant", self.uid), 0) > 1 and mine:
                self.close_now(mine[0], st.args.delay if st.mode.endswith("_late") else 0)
            return
        if typ == "start_chat" and self.role == "organizer":
            if not st.queue:
                return self.send_obj("info", {"message": "no new chats"})
            pid, desc = st.queue.pop(0)
            st.chat_seq += 1
            chat = {"id": "%024x" % (0xfa17 << 64 | st.chat_seq), "agencyId": AGENCY,
                    "eventId": EVENT, "organizerId": self.uid, "participantId": pid,
                    "ended": 0, "timeStart": now3339(), "timeEnd": ZERO_TIME}
            st.chats[chat["id"]] = chat
            p = st.participants.get(pid, {})
            nc = dict(chat, participant={"id": pid, "email": p.get("email"),
                                         "phoneNumber": p.get("phoneNumber")})
            self.to_user("organizer", self.uid, "new_chat", nc)
            if st.mode not in ("slow_get_chats", "empty_get_chats", "silent_get_chats"):
                self.to_user("participant", pid, "new_chat", nc)
            if desc:
                self.message(chat, pid, 0, "Problem description: " + desc)
            return
        if typ == "send_message" and isinstance(pl, dict):
            chat = st.chats.get(pl.get("chatId"))
            mine = chat and chat["ended"] == 0 and \
                (chat["participantId"] if self.role == "participant" else chat["organizerId"]) == self.uid
            if not mine:
                return self.send_obj("error", {"message": "you have no access to chat %s" % pl.get("chatId")})
            self.sent_msgs += 1
            if self.role == "participant" and self.sent_msgs >= st.args.after and self.midrun():
                return
            self.message(chat, self.uid, 1 if self.role == "organizer" else 0, str(pl.get("message")))
            return
        if typ == "close_chat" and self.role == "organizer" and isinstance(pl, dict):
            chat = st.chats.get(pl.get("chatId"))
            if chat and chat["organizerId"] == self.uid and chat["ended"] == 0:
                chat["ended"] = 1
                chat["timeEnd"] = now3339()
                st.locks.discard(chat["participantId"])
                self.to_user("organizer", chat["organizerId"], "closed_chat", {"chatId": chat["id"]})
                if st.mode == "late_closed_chat":
                    st.fault("closed_chat of chat %s to its participant %.1f s late"
                             % (chat["id"], st.args.delay))
                    asyncio.get_running_loop().call_later(
                        st.args.delay, self.to_user, "participant", chat["participantId"],
                        "closed_chat", {"chatId": chat["id"]})
                    return
                self.to_user("participant", chat["participantId"], "closed_chat", {"chatId": chat["id"]})
                return
            return self.send_obj("error", {"message": "chat could not be closed"})
        if typ == "get_chat_history" and isinstance(pl, dict):
            chat = st.chats.get(pl.get("chatId"))
            mine = chat and chat["ended"] == 0 and \
                (chat["participantId"] if self.role == "participant"
                 else chat["organizerId"]) == self.uid
            if not mine:
                return self.send_obj("error", {"message": "you have no access to chat %s" % pl.get("chatId")})
            msgs = list(st.history.get(chat["id"], ()))
            if st.mode == "history_faulty":
                # the participant's 2nd message left out, its 3rd twice
                own = [m for m in msgs if m["fromOrganizer"] == 0 and
                       m["content"].startswith("connection ")]
                if len(own) >= 3:
                    st.fault("history of chat %s lacks a message and doubles one" % chat["id"])
                    msgs.remove(own[1])
                    msgs.insert(msgs.index(own[2]), own[2])
                    msgs.append(dict(own[2], content=own[2]["content"].rsplit(" ", 1)[0] +
                                     " 999999"))
            return self.send_obj("chat_history", {"chatId": chat["id"], "messages": msgs})
        self.send_obj("error", {"message": "invalid message type"})

    def close_now(self, chat, late):
        """The organizer closes chat: its participant's closed_chat late
        seconds after the organizer's."""
        st = self.st
        st.fault("chat %s closed as its participant came back%s"
                 % (chat["id"], " (its closed_chat %.1f s late)" % late if late else ""))
        chat["ended"] = 1
        st.locks.discard(chat["participantId"])
        self.to_user("organizer", chat["organizerId"], "closed_chat", {"chatId": chat["id"]})
        if late:
            asyncio.get_running_loop().call_later(
                late, self.to_user, "participant", chat["participantId"], "closed_chat",
                {"chatId": chat["id"]})
        else:
            self.to_user("participant", chat["participantId"], "closed_chat", {"chatId": chat["id"]})

    def message(self, chat, author, from_org, content):
        st = self.st
        st.msg_seq += 1
        m = {"id": "%024x" % (0xbeef << 64 | st.msg_seq), "chatId": chat["id"],
             "authorId": author, "fromOrganizer": from_org, "content": content,
             "timeSent": now3339()}
        st.history.setdefault(chat["id"], []).append(m)
        self.to_user("organizer", chat["organizerId"], "user_message", m)
        if st.mode == "slow_echo" and not from_org:
            asyncio.get_running_loop().call_later(
                st.args.delay, self.to_user, "participant", chat["participantId"],
                "user_message", m)
            return
        self.to_user("participant", chat["participantId"], "user_message", m)

    def midrun(self):
        """The faults that strike a participant connection mid-run; True: no echo."""
        st = self.st
        mode = st.mode
        if mode == "ws_huge_frame":
            st.fault("frame header of 2^63-1 bytes to participant %d" % self.uid)
            self.write(b"\x81\x7f" + struct.pack(">Q", 2**63 - 1) + b"x" * 32)
            return True
        if mode == "ws_close_midrun":
            st.fault("close frame to participant %d" % self.uid)
            self.write(ws_encode(struct.pack(">H", 1001) + b"going away", 8))
            self.frozen = True      # no close handshake: the client must act on it
            return True
        if mode == "tcp_reset_midrun":
            st.fault("RST to participant %d" % self.uid)
            sock = self.t.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.dead = True
            self.t.abort()
            return True
        if mode == "server_error_midrun":
            st.fault("error frame to participant %d" % self.uid)
            self.send_obj("error", {"message": "message could not be saved"})
            return True
        if mode == "drop_echo" and self.sent_msgs % 2 == 0:
            chat = next(c for c in st.chats.values() if c["participantId"] == self.uid)
            st.msg_seq += 1
            m = {"id": "%024x" % (0xbeef << 64 | st.msg_seq), "chatId": chat["id"],
                 "authorId": self.uid, "fromOrganizer": 0, "content": "dropped",
                 "timeSent": now3339()}
            self.to_user("organizer", chat["organizerId"], "user_message", m)
            return True
        if mode == "stop_reading":
            if not self.frozen:
                st.fault("stopped reading participant %d" % self.uid)
            self.frozen = True
            self.t.pause_reading()
            return True
        return False


def listener(port_rcvbuf=None, backlog=128):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if port_rcvbuf:
        # Accepted sockets inherit it: a small window, so a client's sends
        # stall soon after the server stops reading.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, port_rcvbuf)
    s.bind(("127.0.0.1", 0))
    s.listen(backlog)
    return s


async def main():
    ap = argparse.ArgumentParser(description="A misbehaving ESME imitation")
    ap.add_argument("--fault", default="none", choices=MODES)
    ap.add_argument("--write-config", metavar="FILE")
    ap.add_argument("--after", type=int, default=3,
                    help="send_message frames of a participant before a mid-run fault")
    ap.add_argument("--status", type=int, default=403, help="ws_not_101: the status")
    ap.add_argument("--delay", type=float, default=1.0,
                    help="slow_*: seconds an answer is held")
    args = ap.parse_args()
    st = State(args)
    loop = asyncio.get_running_loop()
    keep = []       # sockets held open for the fault's lifetime

    socks = {"org": listener(), "part": listener()}
    if args.fault == "stop_reading":
        socks["msg"] = listener(port_rcvbuf=4096)
    else:
        socks["msg"] = listener()
    servers = []
    for name, s in socks.items():
        servers.append(await loop.create_server(lambda n=name: Conn(st, n), sock=s))
    port = {k: s.getsockname()[1] for k, s in socks.items()}
    msg_url = "ws://127.0.0.1:%d" % port["msg"]
    if args.fault == "connection_refused":
        # Bound, never listening: nobody else gets the port, connects are refused.
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        keep.append(s)
        msg_url = "ws://127.0.0.1:%d" % s.getsockname()[1]
        st.fault("messenger_ws_url points at %s (bound, not listening)" % msg_url)
    elif args.fault == "accept_full":
        # listen(0) and never accept; one connection fills the queue, so
        # the kernel drops every later SYN and connects time out.
        s = listener(backlog=0)
        keep.append(s)
        filler = socket.create_connection(s.getsockname(), timeout=2)
        keep.append(filler)
        msg_url = "ws://127.0.0.1:%d" % s.getsockname()[1]
        st.fault("messenger_ws_url points at %s (accept queue full)" % msg_url)
    elif args.fault == "unknown_host":
        msg_url = "ws://esme-fault-server.invalid:%d" % port["msg"]
        st.fault("messenger_ws_url is %s" % msg_url)
    cfg = {"event_id": EVENT, "messenger_ws_url": msg_url,
           "organizer_api_url": "http://127.0.0.1:%d" % port["org"],
           "organizer_email": ORG_EMAIL, "organizer_password": ORG_PASSWORD,
           "participant_api_url": "http://127.0.0.1:%d" % port["part"]}
    if args.write_config:
        tmp = args.write_config + ".tmp"
        with open(tmp, "w") as f:
            json.dump(cfg, f, indent=2)
        os.rename(tmp, args.write_config)
    print("fault_server: fault %s: organizer %s participant %s messenger %s" % (
        args.fault, cfg["organizer_api_url"], cfg["participant_api_url"], msg_url), flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for srv in servers:
        srv.close()
    for s in keep:
        s.close()
    log("stopped after %d injected faults" % st.faults)


if __name__ == "__main__":
    asyncio.run(main())
