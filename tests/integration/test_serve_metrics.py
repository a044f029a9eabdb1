#!/usr/bin/python3
"""`esmeload serve --metrics-port`: the counters in the Prometheus text format.

metrics_off_by_default: without the option there is no metrics line on
  stdout and the messenger port has no /metrics.
metrics_format: every sample belongs to a family announced by # HELP and
  # TYPE before it, names follow Prometheus's rules (esmeload_serve_ prefix,
  counters end in _total), values are integers; other paths are 404.
metrics_match_stats: after a chat with messages both ways, each counter
  equals the /stats value it exposes (messages by role, chats, participants,
  requests, queues, errors by kind, threads).
"""

import os
import re
import sys

sys.dont_write_bytecode = True   # keep the tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esme  # noqa: E402
from esme import check, check_eq, short  # noqa: E402

NAME = re.compile(r"^esmeload_serve_[a-z_]+$")
SAMPLE = re.compile(r'^(esmeload_serve_[a-z_]+)(\{[a-z_]+="[^"]*"\})? (\d+)$')


def metrics_url(srv):
    line = []

    def found():
        line[:] = [x for x in srv.stdout_lines() if x.startswith("esmeload serve: metrics ")]
        return bool(line)
    esme.wait_until(found, what="the metrics line on stdout")
    return line[0].split()[-1]


def scrape(url):
    st, body = esme.curl("GET", url)
    check_eq(st, 200, "GET %s" % url)
    check(isinstance(body, str), "metrics body is text: %s" % short(body))
    return body


def parse(text):
    """{(name, labels): value}, checking the exposition format on the way."""
    fams, types, out = set(), {}, {}
    for ln in text.splitlines():
        if ln.startswith("# HELP "):
            name = ln.split()[2]
            check(NAME.match(name), "metric name %r" % name)
            fams.add(name)
            continue
        if ln.startswith("# TYPE "):
            _, _, name, typ = ln.split()
            check(name in fams, "# TYPE %s before its # HELP" % name)
            check(typ in ("counter", "gauge"), "type %r of %s" % (typ, name))
            check((typ == "counter") == name.endswith("_total"),
                  "%s: counters and only counters end in _total (%s)" % (name, typ))
            types[name] = typ
            continue
        m = SAMPLE.match(ln)
        check(m is not None, "not a sample line: %r" % ln)
        check(m.group(1) in types, "sample of %s before its # TYPE" % m.group(1))
        out[(m.group(1), m.group(2) or "")] = int(m.group(3))
    return out


async def run(r):
    async def off():
        srv = esme.Server("--quiet").start()
        try:
            esme.wait_until(lambda: srv.banner() is not None, what="the start line")
            check(not [x for x in srv.stdout_lines() if "metrics" in x],
                  "metrics line without --metrics-port: %s" % srv.stdout_lines())
            st, _ = esme.curl("GET", srv.msg + "/metrics")
            check_eq(st, 404, "/metrics on the messenger port")
        finally:
            srv.stop()

    await r.case("metrics_off_by_default", off)

    srv = esme.Server("--quiet", "--metrics-port", "0").start()
    url = metrics_url(srv)

    def fmt():
        m = parse(scrape(url))
        check(("esmeload_serve_connections_accepted_total", "") in m, "accepted counter: %s" % short(m))
        st, _ = esme.curl("GET", url.rsplit("/", 1)[0] + "/nothing")
        check_eq(st, 404, "another path on the metrics port")

    await r.case("metrics_format", fmt)

    async def match():
        tok, _ = srv.org_token()
        o = await esme.WS.open(srv, tok, "org")
        await o.request("get_chats", "", "chats")
        pid, ptok, _ = srv.new_participant("metrics")
        p = await esme.WS.open(srv, ptok, "part")
        await p.request("get_chats", "", "chats")
        check_eq(srv.chat_request(ptok, 1, "metrics test")[0], 200, "chat request")
        await o.send_msg("start_chat", "")
        cid = (await o.expect("new_chat"))["payload"]["id"]
        await p.expect("new_chat")
        for i in range(5):
            await p.send_msg("send_message", {"chatId": cid, "message": "p%d" % i})
            await o.send_msg("send_message", {"chatId": cid, "message": "o%d" % i})
        await o.send_msg("send_message", {"chatId": "nope", "message": "x"})
        await o.expect("error")
        for w in (o, p):
            for _ in range(11):   # the description and the 10 messages
                await w.expect("user_message")
        st = srv.stats()
        m = parse(scrape(url))

        def g(name, labels=""):
            check((name, labels) in m, "no %s%s in the metrics" % (name, labels))
            return m[(name, labels)]
        msg = st["messages"]
        check_eq(g("esmeload_serve_messages_received_total"), msg["received"], "messages received")
        check_eq(g("esmeload_serve_messages_stored_total"), msg["stored"], "messages stored")
        check_eq(g("esmeload_serve_messages_sent_total", '{role="organizer"}'), msg["sent_organizer"], "sent to organizers")
        check_eq(g("esmeload_serve_messages_sent_total", '{role="participant"}'), msg["sent_participant"], "sent to participants")
        check_eq(g("esmeload_serve_messages_dropped_total"), msg["dropped"], "dropped")
        check_eq(g("esmeload_serve_messages_sent_cross_thread_total"), msg["sent_cross_thread"], "cross-thread")
        check_eq(g("esmeload_serve_chats_started_total"), st["chats"]["total"], "chats")
        check_eq(g("esmeload_serve_chats_active"), st["chats"]["active"], "active chats")
        check_eq(g("esmeload_serve_participants"), st["participants"], "participants")
        check_eq(g("esmeload_serve_chat_requests_total"), st["chat_requests"], "chat requests")
        check_eq(g("esmeload_serve_queue_requests", '{agency="1"}'), st["queues"]["1"], "queue of agency 1")
        check_eq(g("esmeload_serve_threads"), st["threads"]["count"], "threads")
        for kind, v in st["errors"].items():
            check_eq(g("esmeload_serve_errors_total", '{kind="%s"}' % kind), v, "errors %s" % kind)
        check(g("esmeload_serve_errors_total", '{kind="no_access"}') >= 1, "the bad chat id counted")
        check(msg["stored"] >= 11, "messages stored: %d" % msg["stored"])
        await o.close()
        await p.close()

    await r.case("metrics_match_stats", match, needs=["metrics_format"])
    srv.stop()


if __name__ == "__main__":
    esme.main("test_serve_metrics", run, limit=120)
