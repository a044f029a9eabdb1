#!/usr/bin/env python3
"""Write the seed corpora of tests/fuzz/corpus/<target>/ (small, realistic
inputs: RFC examples and what esmeload and serve exchange). Run from the
repository root: python3 tests/fuzz/make_corpus.py. Deterministic."""
import base64
import hashlib
import hmac
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
JWT_KEY = b"fuzz-key-0123456789abcdef"  # the key of fuzz_jwt.c


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def req(method, target, host, body=None, extra=""):
    s = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n{extra}"
    if body is not None:
        s += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    s += "\r\n"
    return s + (body or "")


def resp(status, reason, body="", extra="", ctype="application/json"):
    s = f"HTTP/1.1 {status} {reason}\r\n"
    if ctype:
        s += f"Content-Type: {ctype}\r\n"
    s += f"Content-Length: {len(body.encode())}\r\nConnection: keep-alive\r\n{extra}\r\n"
    return s + body


def frame(op, payload, fin=True, mask=None, rsv=0, length_form=None):
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload)
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    mbit = 0x80 if mask else 0
    if length_form == 64 or (length_form is None and n > 0xFFFF):
        hdr = bytes([b0, mbit | 127]) + struct.pack(">Q", n)
    elif length_form == 16 or (length_form is None and n >= 126):
        hdr = bytes([b0, mbit | 126]) + struct.pack(">H", n)
    else:
        hdr = bytes([b0, mbit | n])
    if mask:
        hdr += mask
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return hdr + payload


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=")


def jwt(claims, key=JWT_KEY, header=b'{"alg":"HS256","typ":"JWT"}'):
    si = b64u(header) + b"." + b64u(claims)
    return si + b"." + b64u(hmac.new(key, si, hashlib.sha256).digest())


# ---- HTTP requests (serve reads these) ----
signup = json.dumps({"email": "participant_1700000000_1@performance.com",
                     "password": "performance", "confirmPassword": "performance",
                     "phoneNumber": "+48100200300"}, separators=(",", ":"))
put("http_request", "signup", req("POST", "/auth/sign-up", "localhost:8100", signup))
put("http_request", "signin", req("POST", "/auth/sign-in", "localhost:8000",
                                  '{"email":"jan@kowalski.com","password":"secret"}'))
put("http_request", "chat_request", req(
    "POST", "/chat-requests", "localhost:8100",
    '{"eventId":1,"description":"Performance test chat request"}',
    "Authorization: Bearer participant:eyJhbGciOiJIUzI1NiJ9.e30.x\r\n"))
put("http_request", "profile", req("GET", "/profile", "127.0.0.1:8100",
                                   extra="Authorization: Bearer organizer:abc\r\n"))
put("http_request", "ws_upgrade", req(
    "GET", "/connect", "localhost:8300",
    extra="Upgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"))
put("http_request", "http10_keepalive",
    "GET /stats HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
put("http_request", "pipelined", req("GET", "/agency/chats", "h") +
    req("GET", "/participant/chats/0123456789abcdef01234567/messages", "h"))
put("http_request", "te_chunked",
    "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
put("http_request", "dup_cl",
    "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab")

# ---- HTTP responses (esmeload reads these) ----
user = {"id": 7, "email": "jan@kowalski.com", "firstName": "Jan", "lastName": "Kowalski",
        "phoneNumber": "+48100200300", "timeCreated": "2023-01-02T15:04:05Z",
        "timeSignOut": "0001-01-01T00:00:00Z", "role": 2, "agencyId": 1}
put("http_response", "signin_200", resp(200, "OK", json.dumps(
    {"user": user, "token": "organizer:" + jwt(b'{"sub":7}').decode()})))
put("http_response", "signup_201", resp(201, "Created", '{"user":{"id":8},"token":"participant:x"}'))
put("http_response", "empty_200", resp(200, "OK", "", ctype=None))
put("http_response", "bad_400", resp(400, "Bad Request", "chat request already exists", ctype="text/plain"))
put("http_response", "switching_101",
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
put("http_response", "chunked_rfc9112",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    "4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n")
put("http_response", "chunked_ext_trailer",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n"
    "1a; name=value\r\nabcdefghijklmnopqrstuvwxyz\r\n10 \r\n1234567890abcdef\r\n"
    "0\r\nExpires: never\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
put("http_response", "http10_close", "HTTP/1.0 200\r\nServer: x\r\n\r\nbody")

# ---- URLs ----
for i, u in enumerate(["http://localhost:8000", "ws://localhost:8300/connect",
                       "http://127.0.0.1:8100/api/v1?x=1", "ws://[::1]:8300/connect#frag",
                       "https://esme.com", "wss://[2001:db8::1]:443/ws", "HTTP://Example.COM:65535/"]):
    put("url", f"url{i}", u)

# ---- WebSocket frames ----
M = b"\x37\xfa\x21\x3d"  # RFC 6455 §5.7
auth = '{"Authorization":"Bearer participant:' + jwt(b'{"sub":8}').decode() + '"}'
env = '{"type":"send_message","payload":{"chatId":"0123456789abcdef01234567","message":"connection 127.0.0.1:40000: message number 1"}}'
srv = {  # server role: the client's masked frames; 2 bytes of limits first
    "rfc_masked_hello": frame(1, "Hello", mask=M),
    "auth": frame(1, auth, mask=b"\x01\x02\x03\x04"),
    "send_message": frame(1, env, mask=b"\xa1\xb2\xc3\xd4"),
    "fragmented": frame(1, "Hel", fin=False, mask=M) + frame(9, "ping", mask=M) +
                  frame(0, "lo", mask=M),
    "pong_close": frame(10, "Hello", mask=M) + frame(8, b"\x03\xe8bye", mask=M),
    "binary_256": frame(2, bytes(range(256)), mask=M),
}
cli = {  # client role: the server's unmasked frames
    "rfc_hello": frame(1, "Hello"),
    "rfc_fragmented": frame(1, "Hel", fin=False) + frame(0, "lo"),
    "rfc_ping": frame(9, "Hello"),
    "rfc_binary_256": frame(2, bytes(256)),
    "user_message": frame(1, '{"type":"user_message","payload":{"id":"0123456789abcdef01234567",'
                             '"chatId":"0123456789abcdef01234567","authorId":8,"fromOrganizer":0,'
                             '"content":"hi","timeSent":"2023-01-02T15:04:05.123Z"}}'),
    "close_1000": frame(8, b"\x03\xe8"),
    "nonminimal_len": frame(1, "abc", length_form=16),
    "binary_64k": frame(2, bytes(65536 + 1), length_form=64)[:10] + b"\x00" * 16,
}
for k, v in srv.items():
    put("ws_frame_server", k, b"\xff\x40" + v)
    put("ws_diff", "srv_" + k, b"\x06" + v)
for k, v in cli.items():
    put("ws_frame_client", k, b"\xff\x40" + v)
    put("ws_diff", "cli_" + k, b"\x07" + v)
put("ws_diff", "cli_close_1012", b"\x07" + frame(8, b"\x03\xf4"))
put("ws_diff", "cli_bad_utf8_fragment", b"\x07" + frame(1, b"\xed\xa0", fin=False) +
    frame(9, "") + frame(0, b"\x80"))
put("ws_frame_server", "small_limits", b"\x05\x02" + frame(1, "Hel", fin=False, mask=M) +
    frame(0, "lo", mask=M))

# ---- close payloads, UTF-8 ----
for k, v in {"close_normal": b"\x03\xe8normal closure", "close_1001": b"\x03\xe9going away",
             "close_4000": b"\x0f\xa0app \xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",
             "kosme": "κόσμε".encode(), "emoji": "😀 ok".encode(),
             "surrogate": b"\xed\xa0\x80", "overlong": b"\xc0\xaf", "above_max": b"\xf4\x90\x80\x80",
             "ws_key": b"dGhlIHNhbXBsZSBub25jZQ=="}.items():
    put("ws_close_utf8", k, v)

# ---- JSON ----
config = {"event_id": 1, "messenger_ws_url": "ws://localhost:8300",
          "organizer_api_url": "http://localhost:8000", "organizer_email": "jan@kowalski.com",
          "organizer_password": "secret", "participant_api_url": "http://localhost:8100"}
put("json", "config", json.dumps(config, indent=1))
put("json", "signin", json.dumps({"user": user, "token": "organizer:x"}))
put("json", "chats", '{"type":"chats","payload":{"chats":[{"id":"0123456789abcdef01234567",'
                     '"agencyId":1,"eventId":1,"organizerId":7,"participantId":8,"ended":0,'
                     '"latStart":52.2297,"lngStart":21.0122,"timeStart":"2023-01-02T15:04:05Z",'
                     '"timeEnd":"0001-01-01T00:00:00Z"}]}}')
put("json", "send_message", env)
put("json", "rfc8259_image", '{"Image":{"Width":800,"Height":600,"Title":"View from 15th Floor",'
                             '"Thumbnail":{"Url":"http://www.example.com/image/481989943",'
                             '"Height":125,"Width":100},"Animated":false,"IDs":[116,943,234,38793]}}')
put("json", "rfc8259_array", '[{"precision":"zip","Latitude":37.7668,"Longitude":-122.3959,'
                             '"Address":"","City":"SAN FRANCISCO","State":"CA","Zip":"94107",'
                             '"Country":"US"},{"precision":"zip","Latitude":37.371991,'
                             '"Longitude":-122.026020,"Address":"","City":"SUNNYVALE","State":"CA",'
                             '"Zip":"94085","Country":"US"}]')
put("json", "escapes", '{"a\\u0000b":"\\ud83d\\ude00\\n\\t\\"\\\\\\/","a":1,"a":-9223372036854775808,'
                       '"n":null,"t":true,"f":false,"e":-1.5e-3,"big":1e400}')
put("json", "top_primitive", " 12345 ")

# ---- JWT (byte 0 picks the mode of fuzz_jwt.c) ----
esme = b'{"sub":8,"iat":1700000000,"nbf":1700000000,"exp":1700086400,"iss":"esme.com","aud":["esme.com"]}'
put("jwt", "raw_valid", b"\x00" + jwt(esme))
put("jwt", "raw_rfc7519", b"\x00" + b"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
    b"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
    b"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
put("jwt", "raw_alg_none", b"\x00" + b64u(b'{"alg":"none"}') + b"." + b64u(esme) + b".")
put("jwt", "selfsigned_crit", b"\x01" + b'{"alg":"HS256","crit":["exp"]}' + b"\x00" + esme)
put("jwt", "selfsigned_std", b"\x01" + b'{"alg":"HS256","typ":"JWT"}' + b"\x00" + esme)
put("jwt", "sign_esme", b"\x02" + esme)
put("jwt", "sign_aud_string", b"\x02" + esme.replace(b'["esme.com"]', b'"esme.com"'))
put("jwt", "issue", b"\x03" + struct.pack(">qqqq", 8, 1700000000, 86400, 1700000100))

# ---- durations and RFC 3339 times ----
for i, s in enumerate(["300ms", "1.5h", "2h45m", "-1s", "1µs", "1us", "0", "+0",
                       "2562047h47m16.854775807s", "-2562047h47m16.854775808s", ".5s",
                       "2m23.810203s", "2023-01-02T15:04:05Z", "0001-01-01T00:00:00Z",
                       "2023-01-02T15:04:05.123456789+05:30", "1999-12-31t23:59:59.5-08:00",
                       "2024-02-29T00:00:00Z", "9999-12-31T23:59:59.999999999Z"]):
    put("duration_and_time", f"t{i:02d}", s)

# ---- config.json ----
put("config", "spec", json.dumps(config))
put("config", "ipv6", json.dumps(dict(config, messenger_ws_url="ws://[::1]:8300",
                                      organizer_api_url="http://127.0.0.1:8000/api")))
put("config", "tls", json.dumps(dict(config, organizer_api_url="https://esme.com")))
put("config", "missing", '{"event_id":1}')
put("config", "escaped", '{"event_id":4294967295,"messenger_ws_url":"ws:\\/\\/localhost:1",'
                         '"organizer_api_url":"http://localhost","organizer_email":"\\u00e9@x",'
                         '"organizer_password":"p","participant_api_url":"http://localhost:2"}')

# ---- scenario files (--scenario; docs/scenario.schema.json) ----
SCEN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "docs", "scenarios")
for n in sorted(os.listdir(SCEN_DIR)):
    if n.endswith(".json"):
        with open(os.path.join(SCEN_DIR, n), "rb") as f:
            put("scenfile", "doc-" + n[:-5], f.read())
put("scenfile", "every_key", json.dumps({
    "name": "every key \u00e9", "description": "d",
    "load": {"start_chat_interval": 10, "create_participant_interval": "20ms",
             "send_message_interval": "1.5s", "organizers": 2, "max_participants": 6,
             "duration": "1m30s"},
    "replies": {"every": 2, "think": "250ms", "think_dist": "fixed"},
    "chats": {"lifetime": "30s", "messages": 20, "reopen_after": "2s"},
    "reconnects": {"uptime": "20s", "dist": "exp", "backoff": "500ms"},
    "devices": {"participant": 2, "organizer": 8}}, separators=(",", ":")))
put("scenfile", "empty", "{}")
put("scenfile", "unknown", '{"chats":{"lifetme":"1s"}}')
put("scenfile", "bad_value", '{"chats":{"lifetime":"abc"},"devices":{"participant":9}}')
put("scenfile", "both_arrivals", '{"load":{"arrival_rate":0.5,"create_participant_interval":1}}')
put("scenfile", "twice", '{"replies":{"every":1,"every":2}}')
put("scenfile", "escapes", '{"name":"a\\u0000b","lo\\u0061d":{"duration":"1\\u00b5s"}}')
put("scenfile", "not_whole_ms", '{"load":{"send_message_interval":"1500us"}}')

# ---- argv (NUL-separated) ----
for i, a in enumerate([["-sci", "10", "-cpi", "20", "-smi", "100"],
                       ["--logWs", "--quiet=false", "--duration", "90s", "--threads=2"],
                       ["--threshold", "p99<50ms", "--threshold=delivered_ratio>=0.99",
                        "--max-errors", "10", "--organizers", "3"],
                       ["--source-ip", "127.0.0.2-127.0.0.9", "--max-conns=1000", "--sndbuf", "65536",
                        "--http-conns", "8", "--connect-timeout=5s", "--handshake-timeout", "1m"],
                       ["--config", "config.json"], ["-h"], ["--", "x"], ["-bogus"]]):
    put("argv", f"argv{i}", b"\x00".join(x.encode() for x in a))

# ---- thresholds (byte 0: reason buffer size) ----
for i, t in enumerate(["p99<50ms", "delivered_ratio>=0.99", "errors==0", "actual_p99_9<=1.5s",
                       "lag_max<200us", "cpu_percent<80", "delivery_ratio>0.5", "max>1e3µs",
                       "p50<", "p42<1"]):
    put("threshold", f"t{i}", b"\x80" + t.encode())

# ---- histograms of a summary (src/histjson.c's form) ----
for i, hj in enumerate([
        '{"count":0,"sum":0,"min":null,"max":null,"buckets":[]}',
        '{"count":3,"sum":390,"min":90,"max":200,"buckets":[90,1,100,1,164,1]}',
        '{"count":2,"sum":5000000000,"min":4294967296,"max":4294967296,"buckets":[1727,2]}',
        '{"count":1,"sum":7,"min":7,"max":7,"buckets":[7,1],"count":1}',
        '{"count":2,"sum":3,"min":1,"max":2,"buckets":[2,1,1,1]}']):
    put("histjson", f"h{i}", hj)

# ---- echo (4 bytes user id LE, 1 byte address choice, the frame) ----
def echo_seed(uid, which, frame):
    return struct.pack("<IB", uid, which) + frame.encode()


echo_msg = {"id": "0123456789abcdef01234567", "chatId": "76543210fedcba9876543210",
            "authorId": 42, "fromOrganizer": 0,
            "content": "connection 127.0.0.1:40001: message number 7",
            "timeSent": "2026-11-26T12:00:00.123456789Z"}
compact = (",", ":")
put("echo", "serve", echo_seed(42, 0, json.dumps({"type": "user_message", "payload": echo_msg},
                                                 separators=compact)))
put("echo", "spaced", echo_seed(42, 0, json.dumps({"type": "user_message", "payload": echo_msg})))
put("echo", "other_author", echo_seed(43, 0, json.dumps({"type": "user_message", "payload": echo_msg},
                                                        separators=compact)))
put("echo", "other_addr", echo_seed(42, 1, json.dumps({"type": "user_message", "payload": echo_msg},
                                                      separators=compact)))
put("echo", "escaped_keys", echo_seed(42, 0, '{"type":"user_message","payload":{"authorId":1,'
                                      '"content":"\\"authorId\\":42,\\"content\\":\\"connection '
                                      '127.0.0.1:40001: message number 7\\""}}'))
put("echo", "new_chat", echo_seed(42, 0, '{"type":"new_chat","payload":{"id":"0123456789abcdef01234567"}}'))
