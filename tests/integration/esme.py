"""Shared harness for the `esmeload serve` integration tests.

Run by Debian's /usr/bin/python3 with python3-websockets 10.4 (asyncio API).
REST calls go through the `curl` command, WebSocket traffic through
`websockets.connect`. Protocol: docs/protocol.md sections 3-4; CLI: the
`esmeload serve` contract (--write-config, --jwt-secret, --api-key, ...).

What it gives a test script:
  Server        starts `esmeload serve` on port 0 in a temp dir, waits (bounded
                poll) for the --write-config file, and is always killed at exit.
  curl()        one REST call -> (status, body): body is the parsed JSON, the raw
                text when it is not JSON, or None when it is empty.
  WS            a messenger connection: every receive has a timeout; frames that a
                wait does not ask for are kept in an inbox for later waits, and
                `log` keeps every frame in arrival order (for ordering checks).
  make_jwt()    forges HS256 / alg-none tokens (expired, wrong secret, ...).
  Runner        prints "PASS name" / "FAIL name: reason" / "SKIP name: reason",
                bounds the whole script with an alarm and sets the exit status.
  wait_until()  polls a condition until it holds, within a generous bound
                (await_until() is the same for async code).
  load_summary()  reads a run's <unix>_performance_test_summary.json and
                checks it against docs/summary.schema.json (python3-jsonschema);
                summary_errors() lists how a document breaks the schema.

Time bounds: the suite runs on machines busy with other work (two cores
shared with several builds and test runs; tests/busy.sh reproduces it), so
a test waits for the condition it needs, never for a fixed time, and every
bound here is generous: a passing test never reaches one, and a failing
one is still reported instead of hanging. Nothing in a test asserts how
fast something was: performance claims live in bench/.
"""

import asyncio
import atexit
import base64
import hashlib
import hmac
import inspect
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

import websockets

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ESMELOAD = os.environ.get("ESMELOAD") or os.path.join(REPO, "build", "esmeload")

# Chosen by the tests and passed to serve, so tokens can be checked and forged.
JWT_SECRET = "esme-it-secret-9f2c1d7a"
API_KEY = "esme-it-api-key-41b7"
ORG_EMAIL = "jan@kowalski.com"
# The seeded organizer password: serve's default, the ESME Go tool's example
# config.json password (the organizer API wants 16 to 128 characters).
ORG_PASSWORD = "&Y+sFaS{&d>8ycO)FLhF41qiQk{IYEb?"
PHONE = "+48100200300"

HEX24 = re.compile(r"^[0-9a-f]{24}$")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
ZERO_TIME = "0001-01-01T00:00:00Z"

RECV_TIMEOUT = 20.0     # default bound on one WebSocket wait (a frame that is due)
QUIET_WINDOW = 0.3      # how long "nothing else arrives" is watched
WAIT = 30.0             # default bound on wait_until: a condition that is due


class Fail(Exception):
    """A failed assertion; its text is the reason printed after FAIL."""


class Skip(Exception):
    """A missing prerequisite (printed as SKIP)."""


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def check_eq(actual, expected, what):
    if actual != expected:
        raise Fail("%s: expected %r, got %s" % (what, expected, short(repr(actual))))


def wait_until(cond, timeout=WAIT, what="the condition", interval=0.02):
    """Polls cond() until it returns a true value, which is returned; Fail
    naming `what` (a string, or a function giving one) after timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Fail("%s: not within %.0f s" % (what() if callable(what) else what, timeout))
        time.sleep(interval)


async def await_until(cond, timeout=WAIT, what="the condition", interval=0.02):
    """wait_until for async code: cond() may be a plain function or return
    an awaitable; the event loop runs between polls."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if inspect.isawaitable(v):
            v = await v
        if v:
            return v
        if time.monotonic() > deadline:
            raise Fail("%s: not within %.0f s" % (what() if callable(what) else what, timeout))
        await asyncio.sleep(interval)


def short(v, n=300):
    s = v if isinstance(v, str) else repr(v)
    return s if len(s) <= n else s[:n] + "...(%d chars)" % len(s)


# ---------------------------------------------------------------- server

_servers = []


def _kill_all():
    for s in list(_servers):
        s.kill()


atexit.register(_kill_all)


def end_process(srv):
    """Kill srv.proc if it still runs (a bounded wait) and drop srv from the
    servers killed at exit."""
    if srv.proc is not None and srv.proc.poll() is None:
        srv.proc.kill()
        try:
            srv.proc.wait(20)
        except subprocess.TimeoutExpired:
            pass
    if srv in _servers:
        _servers.remove(srv)


class Server:
    """One `esmeload serve` process on free loopback ports.

    start() waits for the config file written by --write-config; the URLs come
    from it (the Go tool's keys, docs/protocol.md section 5).
    """

    def __init__(self, *extra, name="serve"):
        self.extra = [str(a) for a in extra]
        self.name = name
        self.proc = None
        self.dir = None
        self.config = None

    def start(self, timeout=60.0):
        if not (os.path.isfile(ESMELOAD) and os.access(ESMELOAD, os.X_OK)):
            raise Skip("%s is not built" % ESMELOAD)
        self.dir = tempfile.mkdtemp(prefix="esme-it-")
        cfg = os.path.join(self.dir, "config.json")
        args = [ESMELOAD, "serve", "--host", "127.0.0.1",
                "--organizer-port", "0", "--participant-port", "0",
                "--messenger-port", "0", "--write-config", cfg,
                "--jwt-secret", JWT_SECRET, "--api-key", API_KEY] + self.extra
        self.args = args
        self.out_path = os.path.join(self.dir, "stdout")
        self.err_path = os.path.join(self.dir, "stderr")
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err)
        _servers.append(self)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise Fail("serve exited with %s before writing its config; stderr: %s"
                           % (self.proc.returncode, self.stderr_tail()))
            if os.path.exists(cfg):
                try:
                    with open(cfg) as f:
                        self.config = json.load(f)
                    break
                except ValueError:
                    pass    # renamed into place atomically, so this should not happen
            if time.monotonic() > deadline:
                raise Fail("no config file after %.0f s; stderr: %s"
                           % (timeout, self.stderr_tail()))
            time.sleep(0.02)
        c = self.config
        try:
            self.org = c["organizer_api_url"].rstrip("/")
            self.part = c["participant_api_url"].rstrip("/")
            self.ws = c["messenger_ws_url"].rstrip("/")
        except (KeyError, AttributeError, TypeError):
            raise Fail("config file lacks URL keys: %r" % (c,))
        check(self.ws.startswith("ws://"), "messenger_ws_url is not ws://: %r" % self.ws)
        self.msg = "http://" + self.ws[len("ws://"):]
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stdout_lines(self):
        try:
            with open(self.out_path, "rb") as f:
                return f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return []

    def stderr_tail(self, n=600):
        try:
            with open(self.err_path, "rb") as f:
                data = f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""
        return data[-n:].strip().replace("\n", " | ")

    def banner(self, timeout=20.0):
        """The one start line on stdout (bounded poll: it may lag the config)."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.stdout_lines()
            if lines:
                return lines[0]
            if time.monotonic() > deadline:
                return None
            time.sleep(0.02)

    def death(self):
        """Why serve is gone: exit status or signal, and the end of its stderr."""
        rc = self.proc.poll()
        how = "killed by signal %d" % -rc if rc is not None and rc < 0 else "exit status %s" % rc
        lines = self.stdout_lines()
        if rc == 0 and len(lines) >= 2 and lines[-1].startswith("{"):
            how += ", after printing its stats line: SIGINT/SIGTERM from outside this test"
        return "serve died (%s); stderr: %s" % (how, self.stderr_tail() or "(empty)")

    def vmrss_kib(self):
        check(self.alive(), self.death())
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        check(self.alive(), self.death())
        raise Fail("no VmRSS in /proc/%d/status" % self.pid)

    def stop(self, timeout=20.0):
        """SIGTERM; returns the exit status (None if it had to be killed)."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self):
        end_process(self)
        if self.dir and not os.environ.get("ESME_IT_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    # REST shortcuts -------------------------------------------------------

    def stats(self):
        st, js = curl("GET", self.msg + "/stats")
        check(st == 200 and isinstance(js, dict), "GET /stats: %s %s" % (st, short(js)))
        return js

    def org_sign_in(self, email=ORG_EMAIL, password=ORG_PASSWORD):
        return curl("POST", self.org + "/auth/sign-in", {"email": email, "password": password})

    def org_token(self, email=ORG_EMAIL, password=ORG_PASSWORD):
        st, js = self.org_sign_in(email, password)
        check(st == 200 and isinstance(js, dict) and "token" in js,
              "organizer sign-in %s: %s %s" % (email, st, short(js)))
        return js["token"], js["user"]

    def sign_up(self, email, password="performance", confirm=None, phone=PHONE):
        body = {"email": email, "password": password,
                "confirmPassword": password if confirm is None else confirm,
                "phoneNumber": phone}
        return curl("POST", self.part + "/auth/sign-up", body)

    def new_participant(self, tag="p"):
        """Signs up a fresh participant; returns (id, token, email)."""
        email = unique_email(tag)
        st, js = self.sign_up(email)
        check(st == 201 and isinstance(js, dict) and "token" in js,
              "sign-up %s: %s %s" % (email, st, short(js)))
        return js["user"]["id"], js["token"], email

    def chat_request(self, token, event_id=1, description="Integration test: need help", **extra):
        body = {"eventId": event_id, "description": description}
        body.update(extra)
        return curl("POST", self.part + "/chat-requests", body, token=token)


class FaultServer:
    """tests/integration/fault_server.py, the misbehaving ESME imitation, in a
    subprocess on free loopback ports, with its config.json in a temporary
    directory under parent; killed at exit like every Server."""

    PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fault_server.py")

    def __init__(self, mode, *extra, parent=None):
        self.mode = mode
        self.extra = [str(a) for a in extra]
        self.parent = parent
        self.proc = None

    def start(self, timeout=60.0):
        self.dir = tempfile.mkdtemp(prefix="fault-server-", dir=self.parent)
        self.cfg_path = os.path.join(self.dir, "config.json")
        self.err_path = os.path.join(self.dir, "server.err")
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, self.PATH, "--fault", self.mode,
                 "--write-config", self.cfg_path] + self.extra,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        _servers.append(self)
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.cfg_path):
            if self.proc.poll() is not None:
                raise Fail("fault_server %s exited with %s: %s"
                           % (self.mode, self.proc.returncode, self.log()))
            if time.monotonic() > deadline:
                raise Fail("fault_server %s wrote no config in %.0f s" % (self.mode, timeout))
            time.sleep(0.02)
        with open(self.cfg_path) as f:
            self.config = json.load(f)
        return self

    def text(self):
        """Everything it logged on stderr."""
        try:
            with open(self.err_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log(self, n=400):
        return self.text()[-n:].strip().replace("\n", " | ")

    def injected(self):
        """How many times the fault was injected (the server logs each)."""
        return self.text().count("fault_server: fault ")

    def faults(self, pattern):
        """How many logged lines match the regular expression pattern."""
        return len(re.findall(pattern, self.text()))

    def kill(self):
        end_process(self)


_email_seq = [0]


def unique_email(tag="p"):
    _email_seq[0] += 1
    return "%s_%d_%d_%d@it.esme.com" % (tag, os.getpid(), int(time.time() * 1000) % 10**9, _email_seq[0])


# ---------------------------------------------------------------- curl

def curl(method, url, body=None, token=None, headers=(), timeout=20.0):
    """One HTTP request via the curl command -> (status, body).

    body: dict/list -> JSON; str/bytes -> sent as is. The reply body comes back
    parsed as JSON, as text when it is not JSON, or None when empty.
    """
    args = ["curl", "-sS", "--max-time", str(timeout), "-X", method,
            "-o", "-", "-w", "\n%{http_code}", "-H", "Accept: application/json"]
    if token is not None:
        args += ["-H", "Authorization: Bearer " + token]
    for h in headers:
        args += ["-H", h]
    data = None
    if body is not None:
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body
        args += ["-H", "Content-Type: application/json", "--data-binary", "@-"]
    args.append(url)
    try:
        r = subprocess.run(args, input=data if data is not None else b"",
                           capture_output=True, timeout=timeout + 3)
    except subprocess.TimeoutExpired:
        raise Fail("curl %s %s: timed out" % (method, url))
    out = r.stdout
    nl = out.rfind(b"\n")
    try:
        status = int(out[nl + 1:])
    except ValueError:
        status = 0
    if status == 0:
        raise Fail("curl %s %s failed (rc %d): %s" % (method, url, r.returncode,
                                                      r.stderr.decode(errors="replace").strip()))
    raw = out[:nl].decode("utf-8", "replace")
    if not raw.strip():
        return status, None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


async def acurl(*a, **kw):
    """curl() off the event loop, so WebSocket readers keep running."""
    return await asyncio.to_thread(curl, *a, **kw)


def check_rest_error(st, js, status, message=None, what="", contains=None):
    """REST error shape {"statusCode","message","error"} with the given status/text."""
    check(st == status, "%s: expected status %d, got %d %s" % (what, status, st, short(js)))
    check(isinstance(js, dict), "%s: error body is not a JSON object: %r" % (what, short(js)))
    check(js.get("statusCode") == status,
          "%s: statusCode %r != %d in %s" % (what, js.get("statusCode"), status, short(js)))
    names = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}
    if status in names:
        check(js.get("error") == names[status],
              "%s: error %r, expected %r" % (what, js.get("error"), names[status]))
    if message is not None:
        check(js.get("message") == message,
              "%s: message %r, expected %r" % (what, js.get("message"), message))
    if contains is not None:
        m = js.get("message")
        check(isinstance(m, str) and contains.lower() in m.lower(),
              "%s: message %r does not mention %r" % (what, m, contains))


# ---------------------------------------------------------------- JWT

def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64url_dec(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def claims(sub, exp_in=86400, nbf_in=0, now=None):
    now = int(time.time()) if now is None else now
    return {"sub": sub, "iat": now, "nbf": now + nbf_in, "exp": now + exp_in,
            "iss": "esme.com", "aud": ["esme.com"]}


def make_jwt(payload, secret=JWT_SECRET, alg="HS256"):
    head = b64url(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64url(json.dumps(payload, separators=(",", ":")).encode())
    signing_input = head + "." + body
    if alg == "none":
        return signing_input + "."
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(mac)


def jwt_decode(token, secret=JWT_SECRET):
    """(header, payload, signature_ok) of a bare or role-prefixed token."""
    if ":" in token:
        token = token.split(":", 1)[1]
    parts = token.split(".")
    check(len(parts) == 3, "token is not three dot-separated parts: %r" % short(token))
    head = json.loads(b64url_dec(parts[0]))
    payload = json.loads(b64url_dec(parts[1]))
    mac = hmac.new(secret.encode(), (parts[0] + "." + parts[1]).encode(), hashlib.sha256).digest()
    return head, payload, hmac.compare_digest(b64url(mac), parts[2])


# ---------------------------------------------------------------- WebSocket

# Frames sent by type, over every WS of the process (for /stats cross-checks).
sent_by_type = {}


class Closed(Exception):
    def __init__(self, code, reason):
        super().__init__("connection closed (code %s %r)" % (code, reason))
        self.code = code
        self.reason = reason


class WS:
    """One messenger connection with bounded waits and an inbox."""

    def __init__(self, conn, name):
        self.conn = conn
        self.name = name
        self.inbox = []     # received, not yet claimed by a wait
        self.log = []       # every received frame, in order

    @classmethod
    async def open(cls, srv, token=None, name="ws", timeout=20.0):
        try:
            conn = await asyncio.wait_for(websockets.connect(
                srv.ws + "/connect", open_timeout=timeout, close_timeout=1,
                ping_interval=None, max_size=None, max_queue=None,
                compression=None), timeout + 1)
        except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) as e:
            raise Fail("%s: WebSocket connect failed: %r" % (name, e))
        ws = cls(conn, name)
        if token is not None:
            await ws.send({"Authorization": "Bearer " + token})
        return ws

    async def send(self, obj):
        await self.send_raw(json.dumps(obj))

    async def send_raw(self, text):
        try:
            await asyncio.wait_for(self.conn.send(text), RECV_TIMEOUT)
        except websockets.exceptions.ConnectionClosed as e:
            raise Fail("%s: send failed, %s" % (self.name, Closed(e.code, e.reason)))

    async def send_msg(self, type_, payload=""):
        sent_by_type[type_] = sent_by_type.get(type_, 0) + 1
        await self.send({"type": type_, "payload": payload})

    async def recv(self, timeout=RECV_TIMEOUT):
        """The next frame from the socket (not the inbox); raises Closed/Fail."""
        try:
            data = await asyncio.wait_for(self.conn.recv(), timeout)
        except asyncio.TimeoutError:
            raise Fail("%s: nothing received within %.1f s" % (self.name, timeout))
        except websockets.exceptions.ConnectionClosed as e:
            raise Closed(e.code, e.reason)
        if isinstance(data, bytes):
            raise Fail("%s: binary frame from server: %r" % (self.name, data[:80]))
        try:
            frame = json.loads(data)
        except ValueError:
            raise Fail("%s: non-JSON frame: %r" % (self.name, short(data)))
        if not (isinstance(frame, dict) and isinstance(frame.get("type"), str) and "payload" in frame):
            raise Fail("%s: frame is not an envelope {type,payload}: %r" % (self.name, short(data)))
        self.log.append(frame)
        return frame

    def _take(self, type_, pred):
        for i, f in enumerate(self.inbox):
            if f["type"] == type_ and (pred is None or pred(f["payload"])):
                return self.inbox.pop(i)
        return None

    async def expect(self, type_, pred=None, timeout=RECV_TIMEOUT, what=None):
        """Waits for a frame of type_ whose payload satisfies pred; returns the frame.

        Other frames go to the inbox for later waits. A stray `error` frame is
        reported in the failure text, because it usually explains the miss.
        """
        f = self._take(type_, pred)
        if f is not None:
            return f
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise Fail("timeout")
                f = await self.recv(left)
            except (Fail, Closed) as e:
                raise Fail("%s: no %s%s within %.1f s (%s); unclaimed: %s" % (
                    self.name, type_, " (" + what + ")" if what else "", timeout, e,
                    short([x for x in self.inbox][-6:], 400)))
            if f["type"] == type_ and (pred is None or pred(f["payload"])):
                return f
            self.inbox.append(f)

    async def expect_none(self, type_=None, pred=None, window=QUIET_WINDOW):
        """Asserts that no frame of type_ (any frame when None) arrives within window."""
        def match(f):
            return (type_ is None or f["type"] == type_) and (pred is None or pred(f["payload"]))
        for f in self.inbox:
            check(not match(f), "%s: unexpected %s" % (self.name, short(f)))
        deadline = time.monotonic() + window
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                f = await self.recv(left)
            except Fail:
                return
            except Closed as e:
                raise Fail("%s: closed while expecting silence: %s" % (self.name, e))
            check(not match(f), "%s: unexpected %s" % (self.name, short(f)))
            self.inbox.append(f)

    async def expect_closed(self, timeout=RECV_TIMEOUT):
        """Waits for the server to close; returns (code, frames received meanwhile)."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail("%s: still open after %.1f s (frames: %s)" % (self.name, timeout, short(got)))
            try:
                got.append(await self.recv(left))
            except Closed as e:
                return e.code, got
            except Fail as e:
                if "nothing received" in str(e):
                    continue
                got.append(str(e))

    async def request(self, type_, payload, reply_type, timeout=RECV_TIMEOUT, pred=None):
        await self.send_msg(type_, payload)
        return (await self.expect(reply_type, pred=pred, timeout=timeout))["payload"]

    async def close(self):
        try:
            await asyncio.wait_for(self.conn.close(), 2)
        except Exception:
            pass


def check_chat(c, what="chat"):
    check(isinstance(c, dict), "%s is not an object: %r" % (what, short(c)))
    for k in ("id", "agencyId", "eventId", "organizerId", "participantId", "ended", "timeStart", "timeEnd"):
        check(k in c, "%s lacks %r: %s" % (what, k, short(c)))
    check(isinstance(c["id"], str) and HEX24.match(c["id"]), "%s id not 24 hex: %r" % (what, c["id"]))
    check(c["ended"] in (0, 1) and not isinstance(c["ended"], bool), "%s ended not 0|1: %r" % (what, c["ended"]))
    check(isinstance(c["timeStart"], str) and RFC3339.match(c["timeStart"]),
          "%s timeStart not RFC 3339: %r" % (what, c["timeStart"]))
    check(isinstance(c["timeEnd"], str) and RFC3339.match(c["timeEnd"]),
          "%s timeEnd not RFC 3339: %r" % (what, c["timeEnd"]))
    if c["ended"] == 0:
        check(c["timeEnd"] == ZERO_TIME, "%s open but timeEnd %r" % (what, c["timeEnd"]))


def check_message(m, what="message"):
    check(isinstance(m, dict), "%s is not an object: %r" % (what, short(m)))
    for k in ("id", "chatId", "authorId", "fromOrganizer", "content", "timeSent"):
        check(k in m, "%s lacks %r: %s" % (what, k, short(m)))
    check(isinstance(m["id"], str) and HEX24.match(m["id"]), "%s id not 24 hex: %r" % (what, m["id"]))
    check(isinstance(m["chatId"], str) and HEX24.match(m["chatId"]), "%s chatId not 24 hex: %r" % (what, m["chatId"]))
    check(m["fromOrganizer"] in (0, 1) and not isinstance(m["fromOrganizer"], bool),
          "%s fromOrganizer not 0|1: %r" % (what, m["fromOrganizer"]))
    check(isinstance(m["authorId"], int), "%s authorId not an integer: %r" % (what, m["authorId"]))
    check(isinstance(m["content"], str), "%s content not a string" % what)
    check(isinstance(m["timeSent"], str) and RFC3339.match(m["timeSent"]),
          "%s timeSent not RFC 3339: %r" % (what, m["timeSent"]))


def list_of(js, key):
    """REST list replies: accepts a bare list or {key: list}."""
    if isinstance(js, list):
        return js
    if isinstance(js, dict) and isinstance(js.get(key), list):
        return js[key]
    raise Fail("expected a list or {%r: [...]}, got %s" % (key, short(js)))


# ---------------------------------------------------------------- summaries

SUMMARY_SCHEMA = os.path.join(REPO, "docs", "summary.schema.json")
_summary_validator = []


def summary_errors(doc):
    """How doc breaks docs/summary.schema.json: one "where: what" text per
    error (empty when it matches). Needs Debian's python3-jsonschema."""
    if not _summary_validator:
        try:
            import jsonschema
        except ImportError:
            raise Fail("python3-jsonschema is not installed (build.sh installs it): "
                       "summaries cannot be checked against docs/summary.schema.json")
        with open(SUMMARY_SCHEMA) as f:
            schema = json.load(f)
        jsonschema.Draft202012Validator.check_schema(schema)
        _summary_validator.append(jsonschema.Draft202012Validator(schema))
    out = []
    for e in sorted(_summary_validator[0].iter_errors(doc), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(k) for k in e.absolute_path) or "(top)"
        out.append("%s: %s" % (where, short(e.message, 160)))
    return out


def check_summary_schema(doc, what="the summary"):
    """Fail naming each key of doc that breaks docs/summary.schema.json."""
    errs = summary_errors(doc)
    if errs:
        raise Fail("%s does not match docs/summary.schema.json: %s"
                   % (what, "; ".join(errs[:8]) + (" (and %d more)" % (len(errs) - 8)
                                                    if len(errs) > 8 else "")))


def load_summary(path):
    """A run's summary file, parsed and checked against the schema."""
    with open(path) as f:
        doc = json.load(f)
    check_summary_schema(doc, path)
    return doc


def run_tester(config, args, exe=None, timeout=120, prefix="esme-run-"):
    """`esmeload run` with args in a fresh directory holding config (the Go
    tool's config.json, e.g. Server.config); it must exit 0 and write one
    summary file. Returns that summary, checked against the schema. exe:
    another program in place of esmeload (a wrapper)."""
    d = tempfile.mkdtemp(prefix=prefix)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f)
    p = subprocess.run([exe or ESMELOAD] + list(args), cwd=d, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout)
    err = p.stderr.decode(errors="replace")
    check_eq(p.returncode, 0, "exit status with %s (stderr: %s)" % (args, err[-300:]))
    name = [n for n in os.listdir(d)
            if re.match(r"^\d{10}_performance_test_summary\.json$", n)]
    check_eq(len(name), 1, "one summary file with %s" % (args,))
    return load_summary(os.path.join(d, name[0]))


def run_failing(config, args, timeout=120, prefix="esme-run-"):
    """`esmeload run --quiet` with args beside config, as run_tester, for a
    run that may fail: (exit status, stderr, its summary or None)."""
    d = tempfile.mkdtemp(prefix=prefix)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f)
    p = subprocess.run([ESMELOAD, "run", "--quiet"] + list(args), cwd=d,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    name = [n for n in os.listdir(d) if n.endswith("_performance_test_summary.json")]
    check(len(name) <= 1, "one summary file at most: %s" % name)
    return (p.returncode, p.stderr.decode(errors="replace"),
            load_summary(os.path.join(d, name[0])) if name else None)


def check_bad_flags(config, cases):
    """Each (args, flag) of cases: `esmeload run args` exits 2 with one
    line on stderr that names flag, and writes no summary."""
    for args, flag in cases:
        rc, err, s = run_failing(config, args, timeout=30, prefix="esme-bad-flag-")
        check_eq(rc, 2, "%s: exit status (stderr %r)" % (args, err))
        check(flag in err and err.count("\n") == 1, "%s: %r" % (args, err))
        check(s is None, "%s: a summary was written" % (args,))


def dig(d, *path):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            raise Fail("/stats lacks %s: %s" % (".".join(path), short(d, 500)))
        d = d[p]
    return d


# ---------------------------------------------------------------- raw WS client

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def ws_frame(text, opcode=1):
    """One masked client frame (RFC 6455 5.2)."""
    data = text.encode() if isinstance(text, str) else text
    mask = os.urandom(4)
    n = len(data)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    masked = bytes(b ^ mask[i & 3] for i, b in enumerate(data))
    return head + mask + masked


def raw_ws_connect(srv, rcvbuf=None, timeout=20.0):
    """A blocking socket upgraded to WebSocket by hand; returns it.

    SO_RCVBUF is set before connect so the advertised window stays small.
    """
    hostport = srv.ws[len("ws://"):]
    host, port = hostport.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16))
    req = (b"GET /connect HTTP/1.1\r\nHost: " + hostport.encode() +
           b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
           b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    s.sendall(req)
    resp = b""
    while b"\r\n\r\n" not in resp:
        chunk = s.recv(1)   # byte by byte: nothing past the headers is consumed
        if not chunk:
            raise Fail("raw WS: closed during handshake: %r" % resp)
        resp += chunk
        check(len(resp) < 8192, "raw WS: handshake response too long")
    status = resp.split(b"\r\n", 1)[0]
    check(b" 101 " in status + b" ", "raw WS: handshake status %r" % status)
    want = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
    check(want in resp, "raw WS: wrong or missing Sec-WebSocket-Accept in %r" % resp)
    return s


# ---------------------------------------------------------------- runner

class Runner:
    """Runs named cases, prints one line each, bounds the script in time.

    limit (s) stays below tests/run.sh's bound on a script (300 s), so that a
    script that overruns says so itself. A case's timeout applies to async
    cases; a plain one is bounded by the waits inside it and by limit.
    """

    def __init__(self, script, limit=240):
        self.script = script
        self.limit = limit
        self.failed = 0
        self.passed = 0
        self.state = {}
        self.done = set()
        signal.signal(signal.SIGALRM, self._alarm)
        signal.signal(signal.SIGTERM, self._term)
        signal.alarm(limit)

    def _alarm(self, *_):
        print("FAIL %s: whole-script time limit (%d s) exceeded" % (self.script, self.limit), flush=True)
        _kill_all()
        os._exit(1)

    def _term(self, *_):
        print("FAIL %s: terminated" % self.script, flush=True)
        _kill_all()
        os._exit(1)

    def line(self, s):
        print(s, flush=True)

    async def case(self, name, fn, needs=(), timeout=60.0):
        """Runs fn (plain or async); needs names earlier cases that must have passed."""
        missing = [n for n in needs if n not in self.done]
        if missing:
            self.line("SKIP %s: prerequisite case failed: %s" % (name, ", ".join(missing)))
            return False
        try:
            if inspect.iscoroutinefunction(fn):
                await asyncio.wait_for(fn(), timeout)
            else:
                fn()
        except Skip as e:
            self.line("SKIP %s: %s" % (name, e))
            return False
        except Fail as e:
            self.failed += 1
            self.line("FAIL %s: %s" % (name, str(e).replace("\n", " ")))
            return False
        except asyncio.TimeoutError:
            self.failed += 1
            self.line("FAIL %s: case timed out after %.0f s" % (name, timeout))
            return False
        except Exception as e:
            self.failed += 1
            tb = traceback.extract_tb(e.__traceback__)
            where = "%s:%d" % (os.path.basename(tb[-1].filename), tb[-1].lineno) if tb else "?"
            self.line("FAIL %s: %s: %s (at %s)" % (name, type(e).__name__, short(str(e)), where))
            return False
        self.passed += 1
        self.done.add(name)
        self.line("PASS %s" % name)
        return True

    def exit_code(self):
        return 1 if self.failed else 0


def main(script, coro_fn, limit=240):
    """Entry point for a test script: coro_fn(runner) does the cases."""
    r = Runner(script, limit)
    code = 1
    try:
        asyncio.run(coro_fn(r))
        code = r.exit_code()
    except Skip as e:
        print("SKIP %s: %s" % (script, e), flush=True)
        code = 77 if not r.failed else 1
    except Fail as e:
        print("FAIL %s: %s" % (script, e), flush=True)
        code = 1
    finally:
        _kill_all()
    sys.exit(code)


if __name__ == "__main__":
    # python3 esme.py check-summary FILE...: each FILE against
    # docs/summary.schema.json, for the shell tests; exit 1 naming the
    # keys of the first that does not match.
    if len(sys.argv) < 3 or sys.argv[1] != "check-summary":
        sys.exit("usage: esme.py check-summary SUMMARY.json...")
    try:
        for path in sys.argv[2:]:
            load_summary(path)
    except (Fail, OSError, ValueError) as e:
        sys.exit("esme.py: %s" % e)
