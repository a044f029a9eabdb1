#!/usr/bin/python3
"""`esmeload serve` against ESME's own services, call for call.

Each case sends what a client sends to the real organizer API (NestJS), the
participant API or the messenger (Go, gorilla/websocket), and expects the
status, body and frames those services answer with, as read from their
sources; docs/protocol.md gives the call-by-call reference and the places
where serve differs on purpose (those have cases here too, named
deliberate_*). The issue-12 items map to the cases:
  1 no-access answers       ws_no_access_*, ws_missing_*
  2 failed authorization    ws_auth_failure_no_close_frame*
  3 organizer /profile      org_profile_bad_token_403
  4 organizer sign-in       org_sign_in_*, seeded_password_*
  5 chat requests           chat_request_*
  6 service key, /users     delete_chat_request_*, users_*
  7 agency chats            rest_*, ws_organizer_get_chats_*
  8 further differences     the rest
and the organizer pool (--organizers N) has the pool_* cases.

The server is started with the organizer given explicitly, so the cases run
the same against any build (ESMELOAD names it).
"""

import asyncio
import os
import socket
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True   # keep the tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esme  # noqa: E402
from esme import check, check_eq, check_rest_error, short  # noqa: E402

ORG = "%s:%s:2:1" % (esme.ORG_EMAIL, esme.ORG_PASSWORD)
ORG2 = ("second@agency.com", "second-agency-password-16")
ADMIN = ("admin@esme.com", "administrator-password-16")
FORBIDDEN = {"statusCode": 403, "message": "Forbidden resource", "error": "Forbidden"}


def err400(messages):
    return {"statusCode": 400, "message": messages, "error": "Bad Request"}


def raw_http(url, request, timeout=3.0):
    """One raw request (bytes) on a fresh connection; the whole reply until
    the head and Content-Length bytes are in. -> (status, headers, body)."""
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    try:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            b = s.recv(65536)
            check(b, "closed before the reply head: %r" % data)
            data += b
        head, body = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        hdrs = {}
        for ln in lines[1:]:
            k, v = ln.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
        n = int(hdrs.get("content-length", "0"))
        while len(body) < n:
            b = s.recv(65536)
            check(b, "closed inside the body")
            body += b
        return int(lines[0].split()[1]), hdrs, body
    finally:
        s.close()


def read_frame(s):
    """One server frame from a raw socket: (opcode, payload) or None at EOF."""
    def exact(n):
        buf = b""
        while len(buf) < n:
            b = s.recv(n - len(buf))
            if not b:
                return None
            buf += b
        return buf
    h = exact(2)
    if h is None:
        return None
    n = h[1] & 0x7f
    if n == 126:
        n = struct.unpack(">H", exact(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", exact(8))[0]
    return h[0] & 0x0f, exact(n) if n else b""


def read_eof(s, timeout=3.0):
    """Bytes until the peer closes: (data, 'eof'|'reset'|'timeout')."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return data, "eof"
            data += b
    except ConnectionResetError:
        return data, "reset"
    except socket.timeout:
        return data, "timeout"


async def run(r):
    srv = esme.Server("--organizer", ORG, "--organizer", "%s:%s:3:2" % ORG2,
                      "--organizer", "%s:%s:1:1" % ADMIN,
                      "--event", "1:1", "--event", "2:2", "--quiet").start()
    S = r.state
    S["org_token"], S["org_user"] = srv.org_token()
    S["org2_token"], _ = srv.org_token(*ORG2)
    J = esme.json.dumps

    # ================================================================ organizer API
    def org_profile_403():
        for name, tok in (("none", None), ("garbage", "organizer:x.y.z"),
                          ("forged", "organizer:" + esme.make_jwt(esme.claims(1), secret="nope"))):
            st, js = esme.curl("GET", srv.org + "/profile", token=tok)
            check_eq((st, js), (403, FORBIDDEN), "GET /profile with a %s token" % name)

    await r.case("org_profile_bad_token_403", org_profile_403)

    def org_sign_in_short_password():
        st, js = srv.org_sign_in(esme.ORG_EMAIL, "performance")
        check_eq((st, js), (400, err400(["password must be longer than or equal to 16 characters"])),
                 "sign-in with an 11-character password")

    await r.case("org_sign_in_short_password_400_validation", org_sign_in_short_password)

    def org_sign_in_empty_body():
        st, js = esme.curl("POST", srv.org + "/auth/sign-in", {})
        check_eq((st, js), (400, err400([
            "email must be shorter than or equal to 320 characters",
            "email must be an email",
            "password must be shorter than or equal to 128 characters",
            "password must be longer than or equal to 16 characters",
            "password must be a string"])), "sign-in with {}")

    await r.case("org_sign_in_empty_body_every_rule_listed", org_sign_in_empty_body)

    def org_sign_in_unknown_property_and_bad_email():
        st, js = esme.curl("POST", srv.org + "/auth/sign-in",
                           {"email": esme.ORG_EMAIL, "password": esme.ORG_PASSWORD, "remember": True})
        check_eq((st, js), (400, err400(["property remember should not exist"])), "extra key")
        st, js = srv.org_sign_in("not-an-email", esme.ORG_PASSWORD)
        check_eq((st, js), (400, err400(["email must be an email"])), "bad email")

    await r.case("org_sign_in_whitelist_and_email_rules", org_sign_in_unknown_property_and_bad_email)

    def org_sign_in_wrong_credentials():
        st, js = srv.org_sign_in(esme.ORG_EMAIL, "a-wrong-password-of-16+")
        check_rest_error(st, js, 400, "invalid email or password", "wrong password")
        st, js = srv.org_sign_in("nobody@nowhere.com", esme.ORG_PASSWORD)
        check_rest_error(st, js, 400, "invalid email or password", "unknown email")

    await r.case("org_sign_in_wrong_credentials_400", org_sign_in_wrong_credentials)

    def org_user_times():
        u = S["org_user"]
        for k in ("timeCreated", "timeSignOut"):
            check(isinstance(u[k], str) and len(u[k]) == 24 and u[k][19] == "." and u[k].endswith("Z"),
                  "%s %r is not Date.toISOString form (YYYY-MM-DDTHH:MM:SS.mmmZ)" % (k, u[k]))
        check_eq(u["timeSignOut"], u["timeCreated"], "a seeded account starts signed out at creation")

    await r.case("org_user_times_js_form_signed_out_at_creation", org_user_times)

    def seeded_password():
        check(16 <= len(esme.ORG_PASSWORD) <= 128, "the test's password")
        d = esme.tempfile.mkdtemp(prefix="esme-conf-")
        try:
            cfg = os.path.join(d, "c.json")
            p = subprocess.Popen([esme.ESMELOAD, "serve", "--organizer-port", "0",
                                  "--participant-port", "0", "--messenger-port", "0",
                                  "--write-config", cfg, "--quiet"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                deadline = time.monotonic() + 10
                while not os.path.exists(cfg):
                    check(p.poll() is None and time.monotonic() < deadline, "serve wrote no config")
                    time.sleep(0.02)
                with open(cfg) as f:
                    c = esme.json.load(f)
                pw = c["organizer_password"]
                check(16 <= len(pw) <= 128, "default seeded password %r: %d characters" % (pw, len(pw)))
                st, js = esme.curl("POST", c["organizer_api_url"] + "/auth/sign-in",
                                   {"email": c["organizer_email"], "password": pw})
                check_eq(st, 200, "sign-in with the default account (%s)" % short(js))
            finally:
                p.kill()
                p.wait(5)
        finally:
            esme.shutil.rmtree(d, ignore_errors=True)

    await r.case("seeded_password_default_passes_sign_in_rules", seeded_password)

    def seeded_short_refused():
        p = subprocess.run([esme.ESMELOAD, "serve", "--organizer", "a@b.com:performance",
                            "--organizer-port", "0", "--participant-port", "0", "--messenger-port", "0"],
                           capture_output=True, timeout=10)
        check_eq(p.returncode, 2, "exit status for an organizer password the API would refuse")
        err = p.stderr.decode()
        check("--organizer" in err and "16" in err and err.count("\n") == 1,
              "one-line error naming the option and the rule: %r" % err)

    await r.case("seeded_password_short_refused_exit_2", seeded_short_refused)

    # ================================================================ participant API
    def part_sign_in():
        S["p1"], S["p1_token"], S["p1_email"] = srv.new_participant("conf1")
        for body, status, msg in (
                ({"email": S["p1_email"], "password": "wrong-password"}, 401, "invalid email or password"),
                ({"email": "nobody@nowhere.com", "password": "performance"}, 401, "invalid email or password"),
                ({"email": "not-an-email", "password": "performance"}, 400, "invalid email address"),
                ({"email": S["p1_email"], "password": "short"}, 400, "password must be at least 8 characters")):
            st, js = esme.curl("POST", srv.part + "/auth/sign-in", body)
            check_rest_error(st, js, status, msg, "participant sign-in %s" % short(body, 80))

    await r.case("participant_sign_in_401_and_validation", part_sign_in)

    def sign_up_signed_out_at_creation():
        st, js = srv.sign_up(esme.unique_email("so"))
        check_eq(st, 201, "sign-up (%s)" % short(js))
        u = js["user"]
        check(u["timeSignOut"] != esme.ZERO_TIME and u["timeSignOut"] == u["timeCreated"],
              "timeSignOut %r, timeCreated %r: the participant API sets both to now"
              % (u["timeSignOut"], u["timeCreated"]))

    await r.case("participant_sign_up_time_sign_out_is_creation", sign_up_signed_out_at_creation)

    def part_token_errors():
        url = srv.part + "/profile"
        for name, headers, msg in (
                ("no header", [], "invalid authorization header"),
                ("no Bearer", ["Authorization: " + S["p1_token"]], "invalid authorization header"),
                ("two spaces", ["Authorization: Bearer  " + S["p1_token"]], "invalid authorization header"),
                ("organizer token", ["Authorization: Bearer " + S["org_token"]], "invalid token"),
                ("forged", ["Authorization: Bearer participant:" +
                            esme.make_jwt(esme.claims(S["p1"]), secret="x")], "invalid token")):
            st, js = esme.curl("GET", url, headers=headers)
            check_rest_error(st, js, 401, msg, "GET /profile, %s" % name)

    await r.case("participant_token_errors_named", part_token_errors, needs=["participant_sign_in_401_and_validation"])

    def chat_request_event_id():
        _, tok, _ = srv.new_participant("ev")
        for body, msg in (({"description": "no event"}, "event with id 0 not found"),
                          ({"eventId": None, "description": "null"}, "event with id 0 not found"),
                          ({"eventId": -1}, "event with id -1 not found")):
            st, js = esme.curl("POST", srv.part + "/chat-requests", body, token=tok)
            check_rest_error(st, js, 404, msg, "chat request %s" % short(body))
        st, js = esme.curl("POST", srv.part + "/chat-requests", {"eventId": "1"}, token=tok)
        check_rest_error(st, js, 400, what="eventId as a string")

    await r.case("chat_request_missing_event_id_404", chat_request_event_id)

    def chat_request_description_bytes():
        _, tok, _ = srv.new_participant("desc")
        st, js = srv.chat_request(tok, 2, "\u00e9" * 1001)   # 1001 characters, 2002 bytes
        check_rest_error(st, js, 400, "description must be at most 2000 characters", "2002 bytes")
        st, js = srv.chat_request(tok, 2, "\u00e9" * 1000)   # 2000 bytes
        check(st == 200 and js is None, "2000 bytes accepted: %s %s" % (st, short(js)))

    await r.case("chat_request_description_limit_in_bytes", chat_request_description_bytes)

    def delete_chat_request():
        pid, tok, _ = srv.new_participant("del")
        check_eq(srv.chat_request(tok, 2, "lock")[0], 200, "request")
        url = srv.part + "/chat-requests"
        body = {"participantId": pid, "eventId": 2}
        st, js = esme.curl("DELETE", url, body, headers=["X-Api-Key: " + esme.API_KEY])
        check_rest_error(st, js, 401, "invalid authorization header", "X-Api-Key")
        st, js = esme.curl("DELETE", url, body, token="not-the-key")
        check_rest_error(st, js, 401, "invalid api key", "wrong key")
        st, js = esme.curl("DELETE", url, body, token=esme.API_KEY)
        check_eq((st, js), (200, None), "Bearer key")
        check_eq(srv.chat_request(tok, 2, "again")[0], 200, "request after the release")
        st, js = esme.curl("DELETE", url, {"participantId": 999999, "eventId": 77}, token=esme.API_KEY)
        check_eq((st, js), (200, None), "no such lock: the DELETE statement deletes nothing")

    await r.case("delete_chat_request_bearer_key_200", delete_chat_request)

    def users_by_ids():
        ids = [srv.new_participant("u%d" % i)[0] for i in range(3)]
        url = srv.part + "/users"
        st, js = esme.curl("GET", url, {"ids": [ids[2], ids[0], 999999, ids[0]]}, token=esme.API_KEY)
        check_eq(st, 200, "GET /users (%s)" % short(js))
        want = sorted(str(i) for i in (ids[0], ids[2]))
        check_eq(list(js.keys()), want, "keys: the ids found, sorted as strings")
        for k in want:
            u = js[k]
            check_eq(sorted(u.keys()), sorted(["id", "email", "phoneNumber", "timeCreated", "timeSignOut"]),
                     "user keys")
            check_eq(u["id"], int(k), "id")
        st, js = esme.curl("GET", url, {"ids": []}, token=esme.API_KEY)
        check_rest_error(st, js, 400, "invalid request body", "no ids")
        st, js = esme.curl("GET", url, {"ids": [ids[0]]})
        check_rest_error(st, js, 401, "invalid authorization header", "no key")

    await r.case("users_by_ids_service_key", users_by_ids)

    def go_plain_not_found():
        for url in (srv.part + "/no/such/path", srv.msg + "/no/such/path"):
            st, js = esme.curl("GET", url)
            check_eq((st, js), (404, "404 page not found\n"), "GET " + url)
        st, js = esme.curl("POST", srv.msg + "/connect")
        check_eq((st, js), (405, "Method Not Allowed\n"), "POST /connect")
        st, js = esme.curl("GET", srv.org + "/no/such/path")
        check_rest_error(st, js, 404, "Cannot GET /no/such/path", "organizer API (NestJS)")

    await r.case("unknown_routes_answered_per_service", go_plain_not_found)

    def upgrade_bad_version():
        host = srv.msg.split("://", 1)[1]
        st, hdrs, body = raw_http(srv.msg, (
            "GET /connect HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 12\r\n\r\n"
            % host).encode())
        check_eq((st, body), (400, b"Bad Request\n"), "upgrade with version 12")
        check_eq(hdrs.get("sec-websocket-version"), "13", "Sec-WebSocket-Version header")
        check(hdrs.get("content-type", "").startswith("text/plain"), "content type %r" % hdrs)

    await r.case("upgrade_bad_version_400_plain", upgrade_bad_version)

    # ================================================================ messenger WebSocket
    async def auth_failure_no_close_frame():
        for frame in ('{"Authorization": "Bearer organizer:garbage"}', "not json"):
            s = await asyncio.to_thread(esme.raw_ws_connect, srv)
            try:
                s.sendall(esme.ws_frame(frame))
                data, how = await asyncio.to_thread(read_eof, s)
                check(how in ("eof", "reset"), "%r: socket %s" % (frame, how))
                check_eq(data, b"", "%r: bytes before the close (a close frame would show here)" % frame)
            finally:
                s.close()

    await r.case("ws_auth_failure_no_close_frame", auth_failure_no_close_frame)

    async def auth_failure_pipelined():
        # Upgrade and a bad authorization in one write: the 101 still arrives.
        host = srv.ws.split("://", 1)[1]
        hp = host.rsplit(":", 1)
        s = socket.create_connection((hp[0], int(hp[1])), timeout=3)
        try:
            s.sendall(("GET /connect HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n" % host).encode()
                      + esme.ws_frame('{"Authorization": "Bearer x"}'))
            data, how = await asyncio.to_thread(read_eof, s)
            check(how in ("eof", "reset"), "socket %s" % how)
            head, _, rest = data.partition(b"\r\n\r\n")
            check(head.startswith(b"HTTP/1.1 101"), "no 101 first: %r" % data[:60])
            check_eq(rest, b"", "bytes after the 101")
        finally:
            s.close()

    await r.case("ws_auth_failure_no_close_frame_pipelined", auth_failure_pipelined)

    async def setup_chat():
        S["o"] = await esme.WS.open(srv, S["org_token"], "org")
        S["o2"] = await esme.WS.open(srv, S["org2_token"], "org2")
        S["pa_id"], tok, S["pa_email"] = srv.new_participant("wsa")
        S["pa_token"] = tok
        S["pa"] = await esme.WS.open(srv, tok, "partA")
        await S["pa"].request("get_chats", "", "chats")
        await S["o"].request("get_chats", "", "chats")
        st, js = srv.chat_request(tok, 1, "conformance")
        check_eq(st, 200, "chat request (%s)" % short(js))
        await S["o"].send_msg("start_chat", "")
        f = await S["o"].expect("new_chat")
        S["chat"] = f["payload"]["id"]
        await S["pa"].expect("new_chat")
        for w in ("o", "pa"):
            await S[w].expect("user_message", pred=lambda p: p.get("content", "").startswith("Problem"))

    await r.case("ws_setup_chat", setup_chat)
    need = ["ws_setup_chat"]

    async def lat_without_lng():
        _, tok, _ = srv.new_participant("lat")
        st, js = srv.chat_request(tok, 1, "", lat=52.5)
        check_eq(st, 200, "chat request (%s)" % short(js))
        await S["o"].send_msg("start_chat", "")
        f = await S["o"].expect("new_chat", pred=lambda p: p.get("id") != S["chat"])
        check_eq(f["payload"].get("latStart"), 52.5, "latStart")
        check("lngStart" not in f["payload"], "lngStart without a lng: %s" % short(f["payload"]))

    await r.case("chat_request_lat_without_lng_kept", lat_without_lng, needs=need)

    def errors_with(w, frame, message):
        async def fn():
            await S[w].send_raw(frame)
            f = await S[w].expect("error")
            check_eq(f["payload"], {"message": message}, "error for %s" % frame)
        return fn

    await r.case("ws_no_access_unknown_chat",
                 errors_with("pa", J({"type": "send_message", "payload": {
                     "chatId": "0123456789abcdef01234567", "message": "x"}}),
                     "you have no access to chat 0123456789abcdef01234567"), needs=need)
    await r.case("ws_no_access_non_hex_chat_id_echoed",
                 errors_with("pa", J({"type": "send_message", "payload": {"chatId": "no such <chat>",
                                                                          "message": "x"}}),
                             "you have no access to chat no such <chat>"), needs=need)
    await r.case("ws_missing_chat_id_no_access_empty_id",
                 errors_with("pa", J({"type": "send_message", "payload": {"message": "x"}}),
                             "you have no access to chat "), needs=need)
    await r.case("ws_missing_null_payload_no_access_empty_id",
                 errors_with("o", J({"type": "close_chat", "payload": None}),
                             "you have no access to chat "), needs=need)
    await r.case("ws_missing_payload_invalid",
                 errors_with("pa", J({"type": "get_chat_history"}), "invalid message payload"), needs=need)
    await r.case("ws_missing_type_invalid_type",
                 errors_with("pa", J({"payload": ""}), "invalid message type"), needs=need)
    await r.case("ws_null_frame_invalid_type",
                 errors_with("pa", "null", "invalid message type"), needs=need)
    await r.case("ws_number_type_malformed",
                 errors_with("pa", J({"type": 5, "payload": ""}), "malformed message"), needs=need)
    await r.case("ws_other_agency_no_access",
                 errors_with("o2", J({"type": "send_message", "payload": {
                     "chatId": S.get("chat", ""), "message": "intruder"}}),
                     "you have no access to chat %s" % S.get("chat", "")), needs=need)

    async def missing_message_empty_text():
        await S["pa"].send_msg("send_message", {"chatId": S["chat"]})
        for w in ("pa", "o"):
            f = await S[w].expect("user_message", pred=lambda p: p.get("content") == "")
            check_eq(f["payload"]["chatId"], S["chat"], w + " chatId")

    await r.case("ws_missing_message_sent_as_empty_text", missing_message_empty_text, needs=need)

    async def organizer_no_location():
        await S["o"].send_msg("send_message", {"chatId": S["chat"], "message": "org loc", "lat": 1.5, "lng": 2.5})
        f = await S["pa"].expect("user_message", pred=lambda p: p.get("content") == "org loc")
        check("lat" not in f["payload"] and "lng" not in f["payload"],
              "organizer message kept a location: %s" % short(f["payload"]))
        await S["pa"].send_msg("send_message", {"chatId": S["chat"], "message": "part lat", "lat": 1.5})
        f = await S["o"].expect("user_message", pred=lambda p: p.get("content") == "part lat")
        check(f["payload"].get("lat") == 1.5 and "lng" not in f["payload"],
              "participant lat only: %s" % short(f["payload"]))

    await r.case("ws_organizer_message_carries_no_location", organizer_no_location, needs=need)

    async def binary_frame():
        await S["pa"].conn.send(J({"type": "get_chats", "payload": ""}).encode())
        pl = (await S["pa"].expect("chats"))["payload"]
        check_eq([c["id"] for c in pl["chats"]], [S["chat"]], "chats for a binary get_chats")

    await r.case("ws_binary_frame_read_like_text", binary_frame, needs=need)

    async def get_chats_participant_field():
        pl = await S["o"].request("get_chats", "", "chats")
        c = next(c for c in pl["chats"] if c["id"] == S["chat"])
        check_eq(c.get("participant"), {"id": S["pa_id"], "email": S["pa_email"], "phoneNumber": esme.PHONE},
                 "organizer get_chats participant")
        pl = await S["pa"].request("get_chats", "", "chats")
        check("participant" not in pl["chats"][0], "participant get_chats has a participant field")

    await r.case("ws_organizer_get_chats_names_participant", get_chats_participant_field, needs=need)

    def rest_before_close():
        st, js = esme.curl("GET", srv.msg + "/agency/chats", token=S["org_token"])
        check_eq((st, js), (200, []), "GET /agency/chats with only an open chat")
        st, js = esme.curl("GET", srv.msg + "/agency/chats/%s/messages" % S["chat"], token=S["org_token"])
        check(st == 200 and isinstance(js, list) and js and js[0]["content"].startswith("Problem"),
              "messages of the open chat, a bare array oldest first: %s %s" % (st, short(js)))

    await r.case("rest_agency_chats_lists_only_ended", rest_before_close, needs=need)

    async def close_then_no_access():
        await S["o"].send_msg("close_chat", {"chatId": S["chat"]})
        for w in ("o", "pa"):
            await S[w].expect("closed_chat")
        no = {"message": "you have no access to chat %s" % S["chat"]}
        for w, type_, pl in (("pa", "send_message", {"chatId": S["chat"], "message": "late"}),
                             ("pa", "get_chat_history", {"chatId": S["chat"]}),
                             ("o", "close_chat", {"chatId": S["chat"]})):
            await S[w].send_msg(type_, pl)
            f = await S[w].expect("error")
            check_eq(f["payload"], no, "%s to the closed chat" % type_)

    await r.case("ws_no_access_closed_chat", close_then_no_access, needs=need)

    def rest_after_close():
        st, js = esme.curl("GET", srv.msg + "/agency/chats", token=S["org_token"])
        check_eq(st, 200, "status")
        check(isinstance(js, list) and [c["id"] for c in js] == [S["chat"]], "ended chats: %s" % short(js))
        c = js[0]
        check_eq((c["ended"], c["timeEnd"]), (1, esme.ZERO_TIME), "ended, timeEnd left at the zero time")
        check_eq(c.get("participant"), {"id": S["pa_id"], "email": S["pa_email"], "phoneNumber": esme.PHONE},
                 "participant")
        st, js = esme.curl("GET", srv.msg + "/participant/chats", token=S["pa_token"])
        check(st == 200 and isinstance(js, list) and [c["id"] for c in js] == [S["chat"]],
              "/participant/chats: %s %s" % (st, short(js)))
        for tok, chat in ((S["org2_token"], S["chat"]), (S["org_token"], "0123456789abcdef01234567"),
                          (S["org_token"], "xyz")):
            st, js = esme.curl("GET", srv.msg + "/agency/chats/%s/messages" % chat, token=tok)
            check_rest_error(st, js, 400, "chat not found", "messages of %s" % chat)

    await r.case("rest_ended_chats_bare_array_with_participant", rest_after_close,
                 needs=["ws_no_access_closed_chat"])

    def rest_auth_messages():
        url = srv.msg + "/agency/chats"
        _, adm = srv.org_sign_in(*ADMIN)
        for name, tok, msg in (
                ("none", None, "malformed token"),
                ("participant", S.get("pa_token"), "invalid token type"),
                ("forged", "organizer:" + esme.make_jwt(esme.claims(1), secret="x"), "unknown user"),
                ("admin", adm.get("token") if isinstance(adm, dict) else None, "invalid role")):
            st, js = esme.curl("GET", url, token=tok)
            check_rest_error(st, js, 401, msg, "GET /agency/chats, %s token" % name)

    await r.case("rest_messenger_auth_errors_named", rest_auth_messages, needs=need)

    async def close_echo_empty():
        s = await asyncio.to_thread(esme.raw_ws_connect, srv)
        try:
            s.sendall(esme.ws_frame('{"Authorization": "Bearer %s"}' % S["org_token"]))
            s.sendall(esme.ws_frame(b"", opcode=8))
            f = await asyncio.to_thread(read_frame, s)
            check_eq(f, (8, b""), "reply to an empty close frame")
        finally:
            s.close()

    await r.case("ws_empty_close_echoed_empty", close_echo_empty)

    # ================================================================ deliberate differences
    async def deliberate_order_and_counts():
        st0 = srv.stats()
        _, tok, _ = srv.new_participant("ord")
        check_eq(srv.chat_request(tok, 1, "")[0], 200, "request")
        p = await esme.WS.open(srv, tok, "ord")
        await p.request("get_chats", "", "chats")
        await S["o"].send_msg("start_chat", "")
        cid = (await p.expect("new_chat"))["payload"]["id"]
        texts = ["order %d" % i for i in range(20)]
        for t in texts:
            await p.send_msg("send_message", {"chatId": cid, "message": t})
        got = [(await p.expect("user_message", pred=lambda x: x.get("content", "").startswith("order")))
               ["payload"]["content"] for _ in texts]
        check_eq(got, texts, "echo order (serve keeps it; the messenger sends each in its own goroutine)")
        for _ in texts:
            await S["o"].expect("user_message", pred=lambda x: x.get("content", "").startswith("order"))
        st1 = srv.stats()
        d_org = st1["messages"]["sent_organizer"] - st0["messages"]["sent_organizer"]
        d_part = st1["messages"]["sent_participant"] - st0["messages"]["sent_participant"]
        check_eq((d_org, d_part), (20, 20), "messages.sent_organizer / sent_participant deltas")
        await p.close()

    await r.case("deliberate_order_kept_and_sent_per_side", deliberate_order_and_counts, needs=need)

    async def sent_organizer_quiet():
        # No organizer connection open: the copies for the organizer go nowhere.
        st0 = srv.stats()
        _, tok, _ = srv.new_participant("quiet")
        check_eq(srv.chat_request(tok, 1, "")[0], 200, "request")
        p = await esme.WS.open(srv, tok, "quiet")
        await p.request("get_chats", "", "chats")
        o = await esme.WS.open(srv, S["org_token"], "org-once")
        await o.send_msg("start_chat", "")
        cid = (await p.expect("new_chat"))["payload"]["id"]
        for w in (o, S["o"], S["o2"]):
            await w.close()
        deadline = time.monotonic() + 5
        while esme.dig(srv.stats(), "connections", "organizer") > 0:
            check(time.monotonic() < deadline, "organizer connections still open")
            await asyncio.sleep(0.05)
        st0 = srv.stats()
        await p.send_msg("send_message", {"chatId": cid, "message": "nobody reads the org side"})
        await p.expect("user_message")
        st1 = srv.stats()
        check_eq(st1["messages"]["sent_organizer"] - st0["messages"]["sent_organizer"], 0, "sent_organizer")
        check_eq(st1["messages"]["sent_participant"] - st0["messages"]["sent_participant"], 1, "sent_participant")
        await p.close()

    await r.case("deliberate_sent_organizer_quiet_without_organizer", sent_organizer_quiet,
                 needs=["deliberate_order_kept_and_sent_per_side"])
    for w in ("o2", "pa"):
        if w in S:
            await S[w].close()
    srv.kill()

    lim = esme.Server("--organizer", ORG, "--max-message", "64", "--history", "3", "--quiet",
                      name="limits").start()

    async def deliberate_limits():
        otok, _ = lim.org_token()
        _, tok, _ = lim.new_participant("lim")
        check_eq(lim.chat_request(tok, 1, "")[0], 200, "request")
        p = await esme.WS.open(lim, tok, "lim")
        o = await esme.WS.open(lim, otok, "limorg")
        await p.request("get_chats", "", "chats")
        await o.send_msg("start_chat", "")
        cid = (await p.expect("new_chat"))["payload"]["id"]
        await p.send_msg("send_message", {"chatId": cid, "message": "x" * 65})
        f = await p.expect("error")
        check_eq(f["payload"], {"message": "message could not be saved"}, "over --max-message")
        for i in range(5):
            await p.send_msg("send_message", {"chatId": cid, "message": "h%d" % i})
            await p.expect("user_message", pred=lambda x, i=i: x.get("content") == "h%d" % i)
        pl = await p.request("get_chat_history", {"chatId": cid}, "chat_history")
        check_eq([m["content"] for m in pl["messages"]], ["h2", "h3", "h4"], "history kept to --history 3")
        await p.send_raw("x" * 20000)
        try:
            await p.recv(3)
            raise esme.Fail("still open after a 20000-byte frame")
        except esme.Closed as e:
            check_eq(e.code, 1009, "close code for a frame over the 16 KiB limit")
        await o.close()

    await r.case("deliberate_message_frame_and_history_bounds", deliberate_limits)

    async def deliberate_utf8():
        otok, _ = lim.org_token()
        s = await asyncio.to_thread(esme.raw_ws_connect, lim)
        try:
            s.sendall(esme.ws_frame('{"Authorization": "Bearer %s"}' % otok))
            s.sendall(esme.ws_frame(b"\xff\xfe", opcode=1))
            f = await asyncio.to_thread(read_frame, s)
            check(f is not None and f[0] == 8 and f[1][:2] == struct.pack(">H", 1007),
                  "close 1007 for a text frame that is not UTF-8: %r" % (f,))
        finally:
            s.close()

    await r.case("deliberate_invalid_utf8_text_closed_1007", deliberate_utf8)
    lim.kill()

    # ================================================================ organizer pool
    pool = esme.Server("--organizer", ORG, "--organizers", "3", "--quiet", name="pool").start()

    async def pool_fifo():
        orgs = pool.config.get("organizers")
        local, domain = esme.ORG_EMAIL.split("@")
        want = [esme.ORG_EMAIL] + ["%s+%d@%s" % (local, k, domain) for k in (2, 3)]
        check(isinstance(orgs, list) and [o.get("email") for o in orgs] == want,
              "config organizers: %s" % short(orgs))
        check(all(o.get("password") == esme.ORG_PASSWORD for o in orgs), "pool passwords")
        check_eq((pool.config["organizer_email"], pool.config["organizer_password"]),
                 (esme.ORG_EMAIL, esme.ORG_PASSWORD), "the Go tool's keys name account 1")
        socks, ids = [], []
        for o in orgs:
            tok, user = pool.org_token(o["email"], o["password"])
            check_eq((user["agencyId"], user["role"]), (1, 2), "%s agency and role" % o["email"])
            ids.append(user["id"])
            socks.append(await esme.WS.open(pool, tok, o["email"]))
        check_eq(len(set(ids)), 3, "distinct organizer ids %s" % ids)
        parts = []
        for i in range(6):
            pid, tok, _ = pool.new_participant("pool%d" % i)
            check_eq(pool.chat_request(tok, 1, "")[0], 200, "request %d" % i)
            parts.append(pid)
        got = []
        for i in range(6):
            w = socks[i % 3]
            await w.send_msg("start_chat", "")
            f = await w.expect("new_chat")
            check_eq(f["payload"]["organizerId"], ids[i % 3], "organizerId of chat %d" % i)
            got.append(f["payload"]["participantId"])
        check_eq(got, parts, "participants in request order (one FIFO queue per agency)")
        pl = await socks[1].request("start_chat", "", "info")
        check_eq(pl, {"message": "no new chats"}, "queue empty after 6")
        for w in socks:
            await w.close()

    await r.case("pool_accounts_sign_in_and_share_the_fifo_queue", pool_fifo)
    pool.kill()

    def pool_default_and_collision():
        one = esme.Server("--organizer", ORG, "--quiet", name="pool1").start()
        try:
            check_eq(one.config.get("organizers"), [{"email": esme.ORG_EMAIL, "password": esme.ORG_PASSWORD}],
                     "organizers without --organizers")
        finally:
            one.kill()
        local, domain = esme.ORG_EMAIL.split("@")
        p = subprocess.run([esme.ESMELOAD, "serve", "--organizer", ORG,
                            "--organizer", "%s+2@%s:%s" % (local, domain, esme.ORG_PASSWORD),
                            "--organizers", "2", "--organizer-port", "0", "--participant-port", "0",
                            "--messenger-port", "0"], capture_output=True, timeout=10)
        check_eq(p.returncode, 2, "exit status when a pool address is taken")
        check(b"--organizers" in p.stderr, "error names --organizers: %r" % p.stderr)
        p = subprocess.run([esme.ESMELOAD, "serve", "--organizers", "1001"], capture_output=True, timeout=10)
        check_eq(p.returncode, 2, "exit status for --organizers 1001")

    await r.case("pool_default_one_account_and_collision_refused", pool_default_and_collision)


if __name__ == "__main__":
    esme.main("test_serve_conformance", run, limit=100)
