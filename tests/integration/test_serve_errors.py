#!/usr/bin/python3
"""`esmeload serve`: every error path of docs/protocol.md sections 3-4 that a client can reach.

REST: wrong credentials, sign-up validation, bad/forged/expired/alg-none/
cross-role tokens (403 from the organizer API, 401 from the others),
chat-request errors (duplicate lock, unknown event, description length),
DELETE /chat-requests with and without the service key.
Messenger: authorization failures close the connection without a close frame
(the client sees 1006), frame-level
errors keep it open, access control between chats, the REST chat endpoints'
auth, and the auth/idle timeouts (on a second server with short timeouts).

Seeded accounts: organizer 1 (agency 1, role 2), organizer 2 (agency 2, role 3),
organizer 3 (agency 1, role 1 = admin, may not chat). Events: 1 (agency 1),
3 (agency 2), 4 (agency 3, no organizer: its queue is never popped).
"""

import asyncio
import os
import sys
import time

sys.dont_write_bytecode = True   # keep the tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esme  # noqa: E402
from esme import check, check_eq, check_rest_error, short  # noqa: E402

ORG2 = ("other@agency.com", "password2-of-agency-two")
ADMIN = ("admin@esme.com", "adminpass1-of-the-admin")


async def run(r):
    srv = esme.Server("--organizer", "%s:%s:2:1" % (esme.ORG_EMAIL, esme.ORG_PASSWORD),
                      "--organizer", "%s:%s:3:2" % ORG2,
                      "--organizer", "%s:%s:1:1" % ADMIN,
                      "--event", "1:1", "--event", "3:2", "--event", "4:3",
                      "--quiet").start()
    S = r.state
    S["org_token"], _ = srv.org_token()
    S["org2_token"], _ = srv.org_token(*ORG2)
    S["pa_id"], S["pa_token"], S["pa_email"] = srv.new_participant("erra")
    S["pb_id"], S["pb_token"], _ = srv.new_participant("errb")
    now = int(time.time())

    # ---------------------------------------------------------------- organizer REST
    def org_wrong_password():
        st, js = srv.org_sign_in(esme.ORG_EMAIL, "wrong-password-but-16-chars")
        check_rest_error(st, js, 400, "invalid email or password", "wrong password")
        st, js = srv.org_sign_in("nobody@nowhere.com", esme.ORG_PASSWORD)
        check_rest_error(st, js, 400, "invalid email or password", "unknown email")

    await r.case("organizer_sign_in_wrong_password_400", org_wrong_password)

    def org_malformed_body():
        st, js = esme.curl("POST", srv.org + "/auth/sign-in", "{not json")
        check_eq(st, 400, "status for a non-JSON body (%s)" % short(js))

    await r.case("organizer_sign_in_malformed_body_400", org_malformed_body)

    def bad_tokens(role_prefix, uid):
        good = make = esme.make_jwt
        return [
            ("none", None),
            ("garbage", role_prefix + ":not.a.jwt"),
            ("wrong_secret", role_prefix + ":" + make(esme.claims(uid), secret="not-the-secret")),
            ("alg_none", role_prefix + ":" + make(esme.claims(uid), alg="none")),
            ("expired", role_prefix + ":" + make(esme.claims(uid, exp_in=-3600, now=now - 7200))),
            ("no_prefix", good(esme.claims(uid))),
            ("unknown_user", role_prefix + ":" + make(esme.claims(99999))),
        ]

    def org_profile_403():
        # Positive control: a token forged with the right secret is accepted.
        st, js = esme.curl("GET", srv.org + "/profile",
                           token="organizer:" + esme.make_jwt(esme.claims(1)))
        check_eq(st, 200, "control: self-made token with --jwt-secret (%s)" % short(js))
        for name, tok in bad_tokens("organizer", 1) + [("participant_token", S["pa_token"])]:
            st, js = esme.curl("GET", srv.org + "/profile", token=tok)
            check_rest_error(st, js, 403, "Forbidden resource",
                             what="organizer /profile with %s token" % name)

    await r.case("organizer_profile_bad_tokens_403", org_profile_403)

    def part_profile_401():
        st, js = esme.curl("GET", srv.part + "/profile",
                           token="participant:" + esme.make_jwt(esme.claims(S["pa_id"])))
        check_eq(st, 200, "control: self-made token with --jwt-secret (%s)" % short(js))
        for name, tok in bad_tokens("participant", S["pa_id"]) + [("organizer_token", S["org_token"])]:
            st, js = esme.curl("GET", srv.part + "/profile", token=tok)
            check_rest_error(st, js, 401, what="participant /profile with %s token" % name)

    await r.case("participant_profile_bad_tokens_401", part_profile_401)

    # ---------------------------------------------------------------- sign-up validation
    def sign_up_invalid_email():
        for bad in ("not-an-email", "a@", "@b.com", ""):
            st, js = srv.sign_up(bad)
            check_rest_error(st, js, 400, what="sign-up email %r" % bad, contains="email")
            check(js.get("message") != "email already exists", "wrong message for %r" % bad)

    await r.case("sign_up_invalid_email_400", sign_up_invalid_email)

    def sign_up_short_password():
        st, js = srv.sign_up(esme.unique_email("short"), password="seven77")
        check_rest_error(st, js, 400, "password must be at least 8 characters", "7-char password")
        st, js = srv.sign_up(esme.unique_email("eight"), password="eight888")
        check_eq(st, 201, "8-char password accepted (%s)" % short(js))

    await r.case("sign_up_short_password_400", sign_up_short_password)

    def sign_up_mismatch():
        st, js = srv.sign_up(esme.unique_email("mis"), password="performance", confirm="performancf")
        check_rest_error(st, js, 400, "confirmPassword must match password", "confirm mismatch")

    await r.case("sign_up_confirm_mismatch_400", sign_up_mismatch)

    def sign_up_duplicate():
        st, js = srv.sign_up(S["pa_email"])
        check_rest_error(st, js, 400, "email already exists", "duplicate email")

    await r.case("sign_up_duplicate_email_400", sign_up_duplicate)

    def part_wrong_password():
        st, js = esme.curl("POST", srv.part + "/auth/sign-in",
                           {"email": S["pa_email"], "password": "wrong-password"})
        check_rest_error(st, js, 401, "invalid email or password", "participant wrong password")
        st, js = esme.curl("POST", srv.part + "/auth/sign-in",
                           {"email": "nobody@nowhere.com", "password": "performance"})
        check_rest_error(st, js, 401, "invalid email or password", "participant unknown email")

    await r.case("participant_sign_in_wrong_password_401", part_wrong_password)

    # ---------------------------------------------------------------- WS: auth failures
    async def ws_control():
        w = await esme.WS.open(srv, "organizer:" + esme.make_jwt(esme.claims(1)), "forged-ok")
        pl = await w.request("get_chats", "", "chats")
        check(isinstance(pl, dict) and isinstance(pl.get("chats"), list), "chats payload %s" % short(pl))
        await w.close()

    await r.case("ws_auth_self_made_valid_token_accepted", ws_control)

    # The admin (role 1) may sign in over REST; if the server refuses that, a token
    # made with the secret for its id (3) tests the same messenger rule.
    st, js = srv.org_sign_in(*ADMIN)
    admin_tok = js.get("token") if st == 200 and isinstance(js, dict) else None
    admin_tok = admin_tok or "organizer:" + esme.make_jwt(esme.claims(3))

    auth_frames = [
        ("garbage_token", {"Authorization": "Bearer organizer:garbage"}),
        ("wrong_secret", {"Authorization": "Bearer organizer:" +
                          esme.make_jwt(esme.claims(1), secret="not-the-secret")}),
        ("alg_none", {"Authorization": "Bearer organizer:" + esme.make_jwt(esme.claims(1), alg="none")}),
        ("expired", {"Authorization": "Bearer participant:" +
                     esme.make_jwt(esme.claims(S["pa_id"], exp_in=-3600, now=now - 7200))}),
        ("not_yet_valid", {"Authorization": "Bearer organizer:" +
                           esme.make_jwt(esme.claims(1, nbf_in=3600))}),
        ("unknown_organizer", {"Authorization": "Bearer organizer:" + esme.make_jwt(esme.claims(99999))}),
        ("unknown_participant", {"Authorization": "Bearer participant:" + esme.make_jwt(esme.claims(99999))}),
        ("no_role_prefix", {"Authorization": "Bearer " + esme.make_jwt(esme.claims(1))}),
        ("unknown_role_prefix", {"Authorization": "Bearer admin:" + esme.make_jwt(esme.claims(1))}),
        ("no_bearer", {"Authorization": S["org_token"]}),
        ("basic_scheme", {"Authorization": "Basic " + S["org_token"]}),
        ("no_authorization_key", {"Auth": "Bearer " + S["org_token"]}),
        ("envelope_first", {"type": "get_chats", "payload": ""}),
        ("admin_role_1", {"Authorization": "Bearer " + admin_tok}),
    ]

    def closes(frame_text):
        async def fn():
            w = await esme.WS.open(srv, None, "auth-fail")
            await w.send_raw(frame_text)
            code, got = await w.expect_closed()
            check(not got, "frames before the close: %s" % short(got))
            check_eq(code, 1006, "close code (closed without a close frame)")
        return fn

    for name, frame in auth_frames:
        await r.case("ws_auth_%s_closed" % name, closes(esme.json.dumps(frame)))
    await r.case("ws_auth_malformed_frame_closed", closes("this is not json"))
    await r.case("ws_auth_json_array_closed", closes("[1,2,3]"))

    async def alive_after_auth_failures():
        w = await esme.WS.open(srv, S["org_token"], "after-fail")
        await w.request("get_chats", "", "chats")
        await w.close()

    await r.case("ws_serves_after_auth_failures", alive_after_auth_failures)

    # ---------------------------------------------------------------- WS: frame errors
    async def open_all():
        S["o1"] = await esme.WS.open(srv, S["org_token"], "org1")
        S["o2"] = await esme.WS.open(srv, S["org2_token"], "org2")
        S["pa"] = await esme.WS.open(srv, S["pa_token"], "partA")
        S["pb"] = await esme.WS.open(srv, S["pb_token"], "partB")
        for w in ("o1", "o2", "pa", "pb"):
            await S[w].request("get_chats", "", "chats")

    await r.case("ws_open_connections", open_all)

    async def empty_queue():
        # Agency 2 has no request yet: organizer 2's start_chat finds its queue empty.
        pl = await S["o2"].request("start_chat", "", "info")
        check_eq(pl, {"message": "no new chats"}, "info payload")

    await r.case("ws_start_chat_empty_queue_info", empty_queue, needs=["ws_open_connections"])

    def expect_error(w, frame_text, message, then_alive=True):
        async def fn():
            await S[w].send_raw(frame_text)
            f = await S[w].expect("error")
            if message is not None:
                check_eq(f["payload"], {"message": message}, "error payload")
            else:
                check(isinstance(f["payload"], dict) and isinstance(f["payload"].get("message"), str),
                      "error payload %s" % short(f["payload"]))
            if then_alive:   # the connection stays open and usable
                await S[w].request("get_chats", "", "chats")
        return fn

    J = esme.json.dumps
    await r.case("ws_malformed_frame_error_stays_open",
                 expect_error("pa", "{this is not json", "malformed message"), needs=["ws_open_connections"])
    await r.case("ws_malformed_frame_organizer_stays_open",
                 expect_error("o1", "]]", "malformed message"), needs=["ws_open_connections"])
    await r.case("ws_invalid_message_type",
                 expect_error("pa", J({"type": "bogus_type", "payload": ""}), "invalid message type"),
                 needs=["ws_open_connections"])
    await r.case("ws_invalid_payload_send_message_string",
                 expect_error("pa", J({"type": "send_message", "payload": "x"}), "invalid message payload"),
                 needs=["ws_open_connections"])
    await r.case("ws_invalid_payload_history_number_chat_id",
                 expect_error("pa", J({"type": "get_chat_history", "payload": {"chatId": 5}}),
                              "invalid message payload"),
                 needs=["ws_open_connections"])
    await r.case("ws_invalid_payload_close_chat_list",
                 expect_error("o1", J({"type": "close_chat", "payload": []}), "invalid message payload"),
                 needs=["ws_open_connections"])
    await r.case("ws_participant_start_chat_error",
                 expect_error("pa", J({"type": "start_chat", "payload": ""}), None),
                 needs=["ws_open_connections"])
    await r.case("ws_send_to_unknown_chat_error",
                 expect_error("pa", J({"type": "send_message",
                                       "payload": {"chatId": "0123456789abcdef01234567", "message": "x"}}), None),
                 needs=["ws_open_connections"])
    await r.case("ws_close_unknown_chat_error",
                 expect_error("o1", J({"type": "close_chat", "payload": {"chatId": "0123456789abcdef01234567"}}),
                              None),
                 needs=["ws_open_connections"])

    # ---------------------------------------------------------------- access control
    async def start_for(org, participant_id):
        """start_chat until the new chat is the given participant's (queue may hold others)."""
        for _ in range(10):
            await S[org].send_msg("start_chat", "")
            f = await S[org].expect("new_chat", pred=lambda p: True)
            if f["payload"].get("participantId") == participant_id:
                return f["payload"]["id"]
        raise esme.Fail("no chat for participant %s after 10 start_chat" % participant_id)

    async def no_access():
        st, js = srv.chat_request(S["pa_token"], 1, "access test")
        check_eq(st, 200, "chat request (%s)" % short(js))
        cid = await start_for("o1", S["pa_id"])
        S["chatA"] = cid
        await S["pa"].expect("new_chat", pred=lambda p: p.get("id") == cid)
        # Participant B: not in the chat.
        await S["pb"].send_msg("send_message", {"chatId": cid, "message": "intruder"})
        f = await S["pb"].expect("error")
        check_eq(f["payload"], {"message": "you have no access to chat %s" % cid}, "participant B")
        # Organizer of another agency: not in the chat either.
        await S["o2"].send_msg("send_message", {"chatId": cid, "message": "intruder org"})
        f = await S["o2"].expect("error")
        check_eq(f["payload"], {"message": "you have no access to chat %s" % cid}, "organizer of agency 2")
        for w in ("pa", "o1"):
            await S[w].expect_none("user_message", pred=lambda p: p.get("content", "").startswith("intruder"))
        pl = await S["pb"].request("get_chats", "", "chats")
        check(cid not in [c.get("id") for c in pl["chats"]], "B sees A's chat in get_chats")

    await r.case("ws_no_access_to_other_chat", no_access, needs=["ws_open_connections"])

    async def no_history_access():
        await S["pb"].send_msg("get_chat_history", {"chatId": S["chatA"]})
        f = await S["pb"].expect("error")
        check(isinstance(f["payload"], dict), "payload %s" % short(f["payload"]))
        await S["pb"].expect_none("chat_history")

    await r.case("ws_no_history_of_other_chat", no_history_access, needs=["ws_no_access_to_other_chat"])

    async def participant_close():
        await S["pa"].send_msg("close_chat", {"chatId": S["chatA"]})
        await S["pa"].expect("error")
        await S["o1"].expect_none("closed_chat")
        await S["pa"].send_msg("send_message", {"chatId": S["chatA"], "message": "still open"})
        await S["o1"].expect("user_message", pred=lambda p: p.get("content") == "still open")

    await r.case("ws_participant_cannot_close_chat", participant_close, needs=["ws_no_access_to_other_chat"])

    async def other_org_close():
        await S["o2"].send_msg("close_chat", {"chatId": S["chatA"]})
        await S["o2"].expect("error")
        await S["pa"].expect_none("closed_chat")

    await r.case("ws_other_agency_cannot_close_chat", other_org_close, needs=["ws_no_access_to_other_chat"])

    # ---------------------------------------------------------------- messenger REST auth
    def messenger_rest_auth():
        m = srv.msg
        cases = [
            ("/agency/chats", None), ("/agency/chats", S["pa_token"]),
            ("/agency/chats", "organizer:" + esme.make_jwt(esme.claims(1), secret="nope")),
            ("/participant/chats", None), ("/participant/chats", S["org_token"]),
            ("/participant/chats", "participant:" + esme.make_jwt(esme.claims(S["pa_id"], exp_in=-10,
                                                                               now=now - 100))),
        ]
        if "chatA" in S:
            cases += [("/agency/chats/%s/messages" % S["chatA"], None),
                      ("/participant/chats/%s/messages" % S["chatA"], None)]
        for path, tok in cases:
            st, js = esme.curl("GET", m + path, token=tok)
            check_eq(st, 401, "GET %s with %s" % (path, "no token" if tok is None else tok[:24] + "..."))

    await r.case("messenger_rest_bad_token_401", messenger_rest_auth)

    def messenger_rest_foreign_chat():
        st, js = esme.curl("GET", srv.msg + "/participant/chats/%s/messages" % S["chatA"], token=S["pb_token"])
        check(st in (400, 403, 404), "participant B reading A's messages: status %d %s" % (st, short(js)))
        st, js = esme.curl("GET", srv.msg + "/agency/chats/%s/messages" % S["chatA"], token=S["org2_token"])
        check(st in (400, 403, 404), "agency-2 organizer reading agency-1 messages: status %d %s"
              % (st, short(js)))

    await r.case("messenger_rest_foreign_chat_refused", messenger_rest_foreign_chat,
                 needs=["ws_no_access_to_other_chat"])

    def stats_no_auth():
        st, js = esme.curl("GET", srv.msg + "/stats")
        check_eq(st, 200, "GET /stats without a token")
        check(isinstance(js, dict) and "errors" in js, "stats: %s" % short(js))
        errs = js["errors"]
        check(isinstance(errs, dict) and sum(v for v in errs.values() if isinstance(v, int)) > 0,
              "stats.errors counts nothing after the error cases: %s" % short(errs))

    await r.case("stats_no_auth_counts_errors", stats_no_auth)

    def unknown_path_404():
        for base in (srv.msg, srv.org, srv.part):
            st, _ = esme.curl("GET", base + "/no/such/path")
            check_eq(st, 404, "GET %s/no/such/path" % base)

    await r.case("unknown_path_404", unknown_path_404)

    # ---------------------------------------------------------------- chat requests
    def chat_request_errors():
        pid, tok, _ = srv.new_participant("cr")
        st, js = srv.chat_request(tok, 1, "first")
        check_eq(st, 200, "first request (%s)" % short(js))
        st, js = srv.chat_request(tok, 1, "second")
        check_rest_error(st, js, 400, "chat request already exists", "duplicate request")

    await r.case("chat_request_duplicate_400", chat_request_errors)

    def unknown_event():
        st, js = srv.chat_request(S["pb_token"], 999, "where?")
        check_rest_error(st, js, 404, "event with id 999 not found", "unknown event")

    await r.case("chat_request_unknown_event_404", unknown_event)

    def description_length():
        _, tok, _ = srv.new_participant("len")
        st, js = srv.chat_request(tok, 4, "x" * 2001)
        check_rest_error(st, js, 400, what="2001-char description")
        st, js = srv.chat_request(tok, 4, "y" * 2000)
        check_eq(st, 200, "2000-char description accepted (%s)" % short(js))

    await r.case("chat_request_description_over_2000_400", description_length)

    def chat_request_auth():
        st, js = srv.chat_request(None, 4, "no token")
        check_rest_error(st, js, 401, what="no token")
        st, js = srv.chat_request(S["org_token"], 4, "organizer token")
        check_rest_error(st, js, 401, what="organizer token")
        st, js = srv.chat_request("participant:" + esme.make_jwt(esme.claims(S["pb_id"]), secret="x"),
                                  4, "forged")
        check_rest_error(st, js, 401, what="forged token")

    await r.case("chat_request_needs_participant_token_401", chat_request_auth)

    def delete_lock():
        pid, tok, _ = srv.new_participant("del")
        st, js = srv.chat_request(tok, 4, "lock me")
        check_eq(st, 200, "first request (%s)" % short(js))
        body = {"participantId": pid, "eventId": 4}
        url = srv.part + "/chat-requests"
        st, js = esme.curl("DELETE", url, body)
        check_rest_error(st, js, 401, "invalid authorization header", "DELETE without a key")
        st, js = esme.curl("DELETE", url, body, token="wrong-key")
        check_rest_error(st, js, 401, "invalid api key", "DELETE with a wrong key")
        st, js = esme.curl("DELETE", url, body, token=tok)
        check_rest_error(st, js, 401, "invalid api key", "DELETE with a participant token")
        st, js = esme.curl("DELETE", url, body, headers=["X-Api-Key: " + esme.API_KEY])
        check_rest_error(st, js, 401, "invalid authorization header",
                         "DELETE with the key as X-Api-Key (not how ESME sends it)")
        st, js = srv.chat_request(tok, 4, "still locked")
        check_rest_error(st, js, 400, "chat request already exists", "lock kept after refused DELETEs")
        st, js = esme.curl("DELETE", url, body, token=esme.API_KEY)
        check(st == 200 and js is None, "DELETE with the key: status %d %s" % (st, short(js)))
        st, js = srv.chat_request(tok, 4, "again")
        check_eq(st, 200, "request after DELETE released the lock (%s)" % short(js))

    await r.case("delete_chat_request_releases_lock", delete_lock)

    for w in ("o1", "o2", "pa", "pb"):
        if w in S:
            await S[w].close()
    srv.kill()

    # ---------------------------------------------------------------- timeouts
    tsrv = esme.Server("--auth-timeout", "1s", "--idle-timeout", "2s", "--quiet", name="timeouts").start()
    ttok, _ = tsrv.org_token()

    # Each timeout must fire, and not before its time (0.5 s: serve's timer
    # granularity). t0 is taken before the connect or the last frame, so a
    # busy machine can only make dt longer; how much longer is not asserted
    # (the bound on each wait is only there to end a test that hangs).
    async def auth_timeout():
        t0 = time.monotonic()
        w = await esme.WS.open(tsrv, None, "silent")
        code, got = await w.expect_closed(timeout=30)
        dt = time.monotonic() - t0
        check(dt >= 0.5, "closed after %.2f s with --auth-timeout 1s" % dt)

    async def idle_timeout():
        w = await esme.WS.open(tsrv, ttok, "idle")
        t0 = time.monotonic()
        await w.request("get_chats", "", "chats")
        f = await w.expect("error", timeout=30)
        dt = time.monotonic() - t0
        check_eq(f["payload"], {"message": "timeout"}, "idle error payload")
        check(dt >= 1.5, "idle error after %.2f s with --idle-timeout 2s" % dt)
        await w.expect_closed()

    async def active_not_timed_out():
        w = await esme.WS.open(tsrv, ttok, "busy")
        # 3 s of activity, longer than the idle limit; a frame every 0.2 s
        # (plus its reply's time), far below it even on a busy machine.
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            await w.request("get_chats", "", "chats")
            await asyncio.sleep(0.2)
        await w.expect_none("error", window=0.1)
        await w.close()

    await asyncio.gather(r.case("ws_auth_timeout_closes", auth_timeout),
                         r.case("ws_idle_timeout_error_and_close", idle_timeout),
                         r.case("ws_active_connection_not_timed_out", active_not_timed_out))
    tsrv.kill()


if __name__ == "__main__":
    esme.main("test_serve_errors", run)
