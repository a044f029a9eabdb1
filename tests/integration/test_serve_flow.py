#!/usr/bin/python3
"""`esmeload serve`: the happy path of docs/protocol.md sections 3-4, end to end.

REST sign-in/sign-up/profile/chat-request, then the messenger with two
connections per user (every frame for a user must reach all of them): start_chat,
the problem description, messages both ways, get_chats, get_chat_history,
close_chat and its consequences, the REST chat endpoints of the messenger, the
/stats counters cross-checked against what this script sent, and the stats line
printed on SIGTERM. The cases share one server and run in order; a case whose
prerequisite failed is reported as SKIP.
"""

import os
import re
import sys

sys.dont_write_bytecode = True   # keep the tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esme  # noqa: E402
from esme import check, check_eq, check_chat, check_message, short  # noqa: E402

DESC1 = "Flow test: lost my group near gate B"
DESC2 = "Flow test: second event request"
DESC3 = "Flow test: after close"
USER_KEYS = ("id", "email", "firstName", "lastName", "phoneNumber",
             "timeCreated", "timeSignOut", "role", "agencyId")
PART_KEYS = ("id", "email", "phoneNumber", "timeCreated", "timeSignOut")
CHURN = 400     # back-to-back connections in the churn cases


async def run(r):
    srv = esme.Server("--event", "1:1", "--event", "2:1", "--quiet").start()
    S = r.state

    def config_file():
        c = srv.config
        for k in ("event_id", "messenger_ws_url", "organizer_api_url", "organizer_email",
                  "organizer_password", "participant_api_url"):
            check(k in c, "config lacks %r: %s" % (k, c))
        check_eq(c["event_id"], 1, "event_id")
        check_eq(c["organizer_email"], esme.ORG_EMAIL, "organizer_email")
        check_eq(c["organizer_password"], esme.ORG_PASSWORD, "organizer_password")
        check(re.match(r"^ws://127\.0\.0\.1:\d+$", c["messenger_ws_url"]),
              "messenger_ws_url %r is not ws://127.0.0.1:P (no /connect)" % c["messenger_ws_url"])
        for k in ("organizer_api_url", "participant_api_url"):
            check(re.match(r"^http://127\.0\.0\.1:\d+$", c[k]), "%s %r" % (k, c[k]))
        ports = {c["messenger_ws_url"], c["organizer_api_url"], c["participant_api_url"]}
        check(len({p.rsplit(":", 1)[1] for p in ports}) == 3, "ports not distinct: %s" % ports)

    def banner():
        line = srv.banner()
        check(line is not None, "no start line on stdout")
        want = "esmeload serve: organizer %s participant %s messenger %s" % (
            srv.org, srv.part, srv.ws)
        check_eq(line, want, "start line")

    await r.case("config_file", config_file)
    await r.case("start_line", banner)

    # ---------------------------------------------------------------- REST
    def organizer_sign_in():
        st, js = srv.org_sign_in()
        check_eq(st, 200, "status")
        check(isinstance(js, dict) and isinstance(js.get("token"), str), "no token: %s" % short(js))
        check(js["token"].startswith("organizer:"), "token prefix: %r" % js["token"][:20])
        u = js.get("user")
        for k in USER_KEYS:
            check(isinstance(u, dict) and k in u, "user lacks %r: %s" % (k, short(u)))
        check_eq(u["id"], 1, "user.id")
        check_eq(u["email"], esme.ORG_EMAIL, "user.email")
        check_eq(u["role"], 2, "user.role")
        check_eq(u["agencyId"], 1, "user.agencyId")
        S["org_token"], S["org_user"] = js["token"], u

    await r.case("organizer_sign_in", organizer_sign_in)

    def organizer_profile():
        st, js = esme.curl("GET", srv.org + "/profile", token=S["org_token"])
        check_eq(st, 200, "status")
        check_eq(js, S["org_user"], "profile vs sign-in user")

    await r.case("organizer_profile", organizer_profile, needs=["organizer_sign_in"])

    def participant_sign_up():
        email = esme.unique_email("flow")
        st, js = srv.sign_up(email)
        check_eq(st, 201, "status (%s)" % short(js))
        check(isinstance(js, dict) and isinstance(js.get("token"), str), "no token: %s" % short(js))
        check(js["token"].startswith("participant:"), "token prefix: %r" % js["token"][:20])
        u = js.get("user")
        for k in PART_KEYS:
            check(isinstance(u, dict) and k in u, "user lacks %r: %s" % (k, short(u)))
        check(isinstance(u["id"], int) and u["id"] >= 1, "user.id %r" % u["id"])
        check_eq(u["email"], email, "user.email")
        check_eq(u["phoneNumber"], esme.PHONE, "user.phoneNumber")
        check("password" not in u and "passwordHash" not in u, "password leaked in %s" % short(u))
        S["p_token"], S["p_user"], S["p_email"] = js["token"], u, email

    await r.case("participant_sign_up", participant_sign_up)

    def token_claims():
        for name, tok, uid in (("organizer", S["org_token"], S["org_user"]["id"]),
                               ("participant", S["p_token"], S["p_user"]["id"])):
            head, pl, ok = esme.jwt_decode(tok)
            check_eq(head.get("alg"), "HS256", name + " alg")
            check(ok, "%s token not signed with --jwt-secret" % name)
            check_eq(pl.get("sub"), uid, name + " sub")
            check_eq(pl.get("iss"), "esme.com", name + " iss")
            check_eq(pl.get("aud"), ["esme.com"], name + " aud")
            for k in ("iat", "nbf", "exp"):
                check(isinstance(pl.get(k), int), "%s %s not an integer: %r" % (name, k, pl.get(k)))
            check_eq(pl["exp"] - pl["iat"], 86400, name + " exp - iat")

    await r.case("token_claims", token_claims, needs=["organizer_sign_in", "participant_sign_up"])

    def participant_sign_in():
        st, js = esme.curl("POST", srv.part + "/auth/sign-in",
                           {"email": S["p_email"], "password": "performance"})
        check_eq(st, 200, "status (%s)" % short(js))
        check(js["token"].startswith("participant:"), "token prefix")
        check_eq(js["user"]["id"], S["p_user"]["id"], "user.id")
        check_eq(js["user"]["email"], S["p_email"], "user.email")
        for k in PART_KEYS:
            check(k in js["user"], "user lacks %r" % k)

    await r.case("participant_sign_in", participant_sign_in, needs=["participant_sign_up"])

    def participant_profile():
        st, js = esme.curl("GET", srv.part + "/profile", token=S["p_token"])
        check_eq(st, 200, "status")
        for k in PART_KEYS:
            check(isinstance(js, dict) and k in js, "profile lacks %r: %s" % (k, short(js)))
        check_eq(js["id"], S["p_user"]["id"], "id")
        check_eq(js["email"], S["p_email"], "email")

    await r.case("participant_profile", participant_profile, needs=["participant_sign_up"])

    def chat_request():
        st, js = srv.chat_request(S["p_token"], 1, DESC1, lat=52.2, lng=20.9)
        check_eq(st, 200, "status (%s)" % short(js))
        check(js is None, "body not empty: %r" % short(js))

    await r.case("chat_request", chat_request, needs=["participant_sign_up"])

    # ---------------------------------------------------------------- messenger
    async def ws_connect():
        S["o1"] = await esme.WS.open(srv, S["org_token"], "org1")
        S["o2"] = await esme.WS.open(srv, S["org_token"], "org2")
        S["p1"] = await esme.WS.open(srv, S["p_token"], "part1")
        S["p2"] = await esme.WS.open(srv, S["p_token"], "part2")
        # Authenticated connections answer get_chats (auth is processed in order).
        for w in ("o1", "o2", "p1", "p2"):
            pl = await S[w].request("get_chats", "", "chats")
            check(isinstance(pl, dict) and pl.get("chats") == [], "%s: initial chats %s" % (w, short(pl)))

    await r.case("ws_connect_two_per_user", ws_connect,
                 needs=["organizer_sign_in", "participant_sign_up"])
    allw = ("o1", "o2", "p1", "p2")
    pid = S.get("p_user", {}).get("id")

    async def start_chat_new_chat():
        await S["o1"].send_msg("start_chat", "")
        ids = set()
        for w in allw:
            f = await S[w].expect("new_chat", what="after start_chat")
            c = f["payload"]
            check_chat(c, "%s new_chat" % w)
            check_eq(c["participantId"], pid, w + " participantId")
            check_eq(c["organizerId"], 1, w + " organizerId")
            check_eq(c["agencyId"], 1, w + " agencyId")
            check_eq(c["eventId"], 1, w + " eventId")
            check_eq(c["ended"], 0, w + " ended")
            check_eq(c.get("participant"),
                     {"id": pid, "email": S["p_email"], "phoneNumber": esme.PHONE},
                     w + " participant")
            if "latStart" in c:
                check_eq((c["latStart"], c.get("lngStart")), (52.2, 20.9), w + " latStart/lngStart")
            ids.add(c["id"])
        check(len(ids) == 1, "different chat ids on the connections: %s" % ids)
        S["chat1"] = ids.pop()

    await r.case("start_chat_new_chat_to_all_connections", start_chat_new_chat,
                 needs=["ws_connect_two_per_user", "chat_request"])

    async def problem_description():
        mids = set()
        for w in allw:
            f = await S[w].expect("user_message", what="problem description")
            m = f["payload"]
            check_message(m, w + " description")
            check_eq(m["content"], "Problem description: " + DESC1, w + " content")
            check_eq(m["chatId"], S["chat1"], w + " chatId")
            check_eq(m["authorId"], pid, w + " authorId")
            check_eq(m["fromOrganizer"], 0, w + " fromOrganizer")
            log = S[w].log
            i_new = next(i for i, x in enumerate(log) if x["type"] == "new_chat")
            i_msg = next(i for i, x in enumerate(log) if x is f)
            check(i_new < i_msg, "%s: description arrived before new_chat" % w)
            mids.add(m["id"])
        check(len(mids) == 1, "different message ids: %s" % mids)

    await r.case("start_chat_problem_description", problem_description,
                 needs=["start_chat_new_chat_to_all_connections"])

    async def one_message(sender, text, from_org, author, extra=None):
        pl = {"chatId": S["chat1"], "message": text}
        pl.update(extra or {})
        await S[sender].send_msg("send_message", pl)
        mids = set()
        for w in allw:
            f = await S[w].expect("user_message", pred=lambda p: p.get("content") == text,
                                  what="echo of %r" % text)
            m = f["payload"]
            check_message(m, w + " user_message")
            check_eq(m["chatId"], S["chat1"], w + " chatId")
            check_eq(m["fromOrganizer"], from_org, w + " fromOrganizer")
            check_eq(m["authorId"], author, w + " authorId")
            if extra:
                for k, v in extra.items():
                    check_eq(m.get(k), v, "%s %s" % (w, k))
            mids.add(m["id"])
        check(len(mids) == 1, "different message ids for one message: %s" % mids)

    async def participant_message():
        await one_message("p1", "hello from the participant", 0, pid, {"lat": 52.25, "lng": 21.0})

    async def organizer_message():
        await one_message("o2", "hello from the organizer", 1, 1)

    await r.case("send_message_participant_to_all", participant_message,
                 needs=["start_chat_problem_description"])
    await r.case("send_message_organizer_to_all", organizer_message,
                 needs=["start_chat_problem_description"])

    burst = ["burst %d" % i for i in range(5)]

    async def message_order():
        for t in burst:
            await S["p2"].send_msg("send_message", {"chatId": S["chat1"], "message": t})
        for w in allw:
            got = []
            for t in burst:
                f = await S[w].expect("user_message", pred=lambda p: p.get("content", "").startswith("burst "))
                got.append(f["payload"]["content"])
            check_eq(got, burst, w + " order")

    await r.case("send_message_order_kept", message_order, needs=["start_chat_problem_description"])

    async def get_chats_one():
        for w in ("p1", "o1"):
            pl = await S[w].request("get_chats", "", "chats")
            chats = pl.get("chats") if isinstance(pl, dict) else None
            check(isinstance(chats, list), "%s: chats payload %s" % (w, short(pl)))
            check_eq([c.get("id") for c in chats], [S["chat1"]], w + " chat ids")
            check_chat(chats[0], w + " chat")

    await r.case("get_chats", get_chats_one, needs=["start_chat_new_chat_to_all_connections"])

    async def second_chat_newest_first():
        st, js = srv.chat_request(S["p_token"], 2, DESC2)
        check_eq(st, 200, "chat request for event 2 (%s)" % short(js))
        await S["o1"].send_msg("start_chat", "")
        for w in allw:
            f = await S[w].expect("new_chat", what="second chat")
            check_eq(f["payload"]["eventId"], 2, w + " eventId")
            S["chat2"] = f["payload"]["id"]
            await S[w].expect("user_message", pred=lambda p: p.get("content") == "Problem description: " + DESC2)
        check(S["chat2"] != S["chat1"], "second chat has the first one's id")
        for w in ("p1", "p2"):
            pl = await S[w].request("get_chats", "", "chats")
            check_eq([c.get("id") for c in pl["chats"]], [S["chat2"], S["chat1"]],
                     w + " chats (newest first)")
        pl = await S["o2"].request("get_chats", "", "chats")
        check_eq(sorted(c.get("id") for c in pl["chats"]), sorted([S["chat1"], S["chat2"]]),
                 "organizer chats")

    await r.case("get_chats_newest_first", second_chat_newest_first, needs=["get_chats"])

    async def history():
        want = ["Problem description: " + DESC1, "hello from the participant",
                "hello from the organizer"] + burst
        for w in ("p1", "o1"):
            pl = await S[w].request("get_chat_history", {"chatId": S["chat1"]}, "chat_history")
            check(isinstance(pl, dict), "%s payload %s" % (w, short(pl)))
            check_eq(pl.get("chatId"), S["chat1"], w + " chatId")
            msgs = pl.get("messages")
            check(isinstance(msgs, list), "%s messages %s" % (w, short(pl)))
            for m in msgs:
                check_message(m, w + " history message")
                check_eq(m["chatId"], S["chat1"], w + " history chatId")
            got = [m["content"] for m in msgs]
            # The messenger lists a chat's messages as stored: oldest first.
            check_eq(got, want, "%s history contents" % w)

    await r.case("get_chat_history", history, needs=["send_message_order_kept",
                                                     "send_message_participant_to_all",
                                                     "send_message_organizer_to_all"])

    async def close_chat():
        await S["o2"].send_msg("close_chat", {"chatId": S["chat1"]})
        for w in allw:
            f = await S[w].expect("closed_chat", what="close_chat")
            check_eq(f["payload"], {"chatId": S["chat1"]}, w + " closed_chat payload")

    await r.case("close_chat_to_both_sides", close_chat, needs=["get_chats_newest_first"])

    async def send_after_close():
        for w in ("p1", "o1"):
            text = "after close from " + w
            await S[w].send_msg("send_message", {"chatId": S["chat1"], "message": text})
            f = await S[w].expect("error", what="send_message to a closed chat")
            check(isinstance(f["payload"], dict) and isinstance(f["payload"].get("message"), str),
                  "error payload %s" % short(f["payload"]))
        for w in allw:
            await S[w].expect_none("user_message", pred=lambda p: p.get("content", "").startswith("after close"))

    await r.case("send_message_after_close_fails", send_after_close, needs=["close_chat_to_both_sides"])

    async def get_chats_after_close():
        for w in ("p1", "o1"):
            pl = await S[w].request("get_chats", "", "chats")
            check_eq([c.get("id") for c in pl["chats"]], [S["chat2"]], w + " active chats after close")

    await r.case("get_chats_only_active", get_chats_after_close, needs=["close_chat_to_both_sides"])

    async def request_again():
        st, js = srv.chat_request(S["p_token"], 1, DESC3)
        check_eq(st, 200, "chat request after close (%s)" % short(js))
        await S["o1"].send_msg("start_chat", "")
        f = await S["p1"].expect("new_chat", what="chat after re-request")
        check_eq(f["payload"]["eventId"], 1, "eventId")
        check(f["payload"]["id"] not in (S["chat1"], S["chat2"]), "reused a chat id")
        S["chat3"] = f["payload"]["id"]
        for w in allw:
            if w != "p1":
                await S[w].expect("new_chat", pred=lambda p: p.get("id") == S["chat3"])
            await S[w].expect("user_message", pred=lambda p: p.get("content") == "Problem description: " + DESC3)

    await r.case("chat_request_accepted_after_close", request_again, needs=["close_chat_to_both_sides"])

    async def empty_queue():
        await S["o1"].send_msg("start_chat", "")
        f = await S["o1"].expect("info", what="empty queue")
        check_eq(f["payload"], {"message": "no new chats"}, "info payload")
        for w in ("o2", "p1", "p2"):
            await S[w].expect_none("info")
            await S[w].expect_none("new_chat")

    await r.case("start_chat_empty_queue_info", empty_queue, needs=["ws_connect_two_per_user"])

    # ---------------------------------------------------------------- messenger REST
    def messenger_rest():
        st, js = esme.curl("GET", srv.msg + "/agency/chats", token=S["org_token"])
        check_eq(st, 200, "GET /agency/chats (%s)" % short(js))
        # The messenger's REST lists are the archive: ended chats only, a bare
        # array, each chat with its participant.
        check(isinstance(js, list), "/agency/chats is not a bare array: %s" % short(js))
        for c in js:
            check_chat(c, "agency chat")
        check_eq([c["id"] for c in js], [S["chat1"]], "/agency/chats ids (ended only)")
        check_eq(js[0]["ended"], 1, "/agency/chats ended")
        check_eq(js[0].get("participant"), {"id": pid, "email": S["p_email"], "phoneNumber": esme.PHONE},
                 "/agency/chats participant")

        st, js = esme.curl("GET", srv.msg + "/participant/chats", token=S["p_token"])
        check_eq(st, 200, "GET /participant/chats (%s)" % short(js))
        check(isinstance(js, list), "/participant/chats is not a bare array: %s" % short(js))
        check_eq([c["id"] for c in js], [S["chat1"]], "/participant/chats ids (ended only)")
        for c in js:
            check_chat(c, "participant chat")
            check_eq(c["ended"], 1, "/participant/chats ended")
        want = ["Problem description: " + DESC2]
        for path, tok in (("/agency/chats/%s/messages", S["org_token"]),
                          ("/participant/chats/%s/messages", S["p_token"])):
            url = srv.msg + path % S["chat2"]
            st, js = esme.curl("GET", url, token=tok)
            check_eq(st, 200, "GET %s (%s)" % (path, short(js)))
            check(isinstance(js, list), "%s is not a bare array: %s" % (path, short(js)))
            msgs = js
            for m in msgs:
                check_message(m, path)
            check_eq([m["content"] for m in msgs], want, path + " contents")

    await r.case("messenger_rest_endpoints", messenger_rest, needs=["chat_request_accepted_after_close"])

    # ---------------------------------------------------------------- stats
    def stats():
        js = srv.stats()
        sent_msgs = esme.sent_by_type.get("send_message", 0)
        check_eq(esme.dig(js, "messages", "received"), sent_msgs,
                 "messages.received vs send_message frames sent")
        check_eq(esme.dig(js, "connections", "organizer"), 2, "connections.organizer")
        check_eq(esme.dig(js, "connections", "participant"), 2, "connections.participant")
        check_eq(esme.dig(js, "chats", "total"), 3, "chats.total")
        check_eq(esme.dig(js, "chats", "active"), 2, "chats.active")
        # 7 accepted send_message (1 + 1 + 5 burst) + 3 problem descriptions; the 2
        # sent to the closed chat must not be stored.
        stored = esme.dig(js, "messages", "stored")
        check(stored in (7, 10), "messages.stored %r, expected 10 (or 7 without descriptions)" % stored)
        # Every accepted message and description went to 4 open connections.
        check_eq(esme.dig(js, "messages", "sent"), 40, "messages.sent (10 user_messages x 4 connections)")
        check_eq(esme.dig(js, "frames", "dropped"), 0, "frames.dropped")
        fin = esme.dig(js, "frames", "in")
        ours = sum(esme.sent_by_type.values()) + 4   # + 4 authorization frames
        check(fin >= ours, "frames.in %r < %d frames sent by this test" % (fin, ours))
        S["stats"] = js

    await r.case("stats_counts", stats, needs=["messenger_rest_endpoints"])

    # ---------------------------------------------------------------- connection churn
    # Clients reconnect at once (the load tester does): a new connection may get the
    # slot of one the server is still closing. Each must still be served.
    def http_churn():
        host, port = srv.msg[len("http://"):].rsplit(":", 1)
        bad = []
        for i in range(CHURN):
            s = esme.socket.create_connection((host, int(port)), timeout=20)
            try:
                s.sendall(b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    data += b
            except OSError as e:
                data = repr(e).encode()
            finally:
                s.close()
            if not data.startswith(b"HTTP/1.1 200"):
                bad.append((i, data[:40]))
        check(not bad, "%d of %d back-to-back GET /stats got no 200, e.g. %s" % (len(bad), CHURN, bad[:4]))

    async def ws_churn():
        bad = []
        for i in range(CHURN // 2):
            try:
                w = await esme.WS.open(srv, S["org_token"], "churn%d" % i)
                await w.request("get_chats", "", "chats")
                await w.close()
            except esme.Fail as e:
                bad.append((i, str(e)[:80]))
        check(not bad, "%d of %d back-to-back connect/auth/get_chats/close failed, e.g. %s"
              % (len(bad), CHURN // 2, bad[:3]))

    await r.case("http_back_to_back_connections_all_answered", http_churn)
    await r.case("ws_back_to_back_connections_all_work", ws_churn, needs=["organizer_sign_in"])

    for w in allw:
        if w in S:
            await S[w].close()

    def sigterm_stats():
        rc = srv.stop()
        check_eq(rc, 0, "exit status on SIGTERM")
        lines = [l for l in srv.stdout_lines() if l.strip()]
        check(len(lines) >= 2, "stdout: %s" % short(lines))
        try:
            js = esme.json.loads(lines[-1])
        except ValueError:
            raise esme.Fail("last stdout line is not JSON: %r" % short(lines[-1]))
        for k in ("connections", "chats", "messages", "frames"):
            check(k in js, "exit stats lack %r: %s" % (k, short(js)))
        if "stats" in S:
            check_eq(js["messages"]["received"], S["stats"]["messages"]["received"],
                     "messages.received at exit vs /stats")

    await r.case("sigterm_prints_stats", sigterm_stats)


if __name__ == "__main__":
    esme.main("test_serve_flow", run)
