#!/usr/bin/python3
"""esmeload run --shard I/N and esmeload merge: one test over several
processes, read back as one result.

The load: 24 participants arriving 10 ms apart from a common start
(--start-at, a whole second), each sending one message a second from its
chat on, for 6.5 s. Arrivals are on the common schedule; messages are on
each participant's own schedule from its chat, so the seconds in which
every participant has its chat and sends once are compared one for one
(on a loaded machine the chats take longer, and those seconds are fewer).

three_shards_merge: shards 0, 1 and 2 of 3 against one serve (shard 0 by
  --shard, 1 by ESMELOAD_SHARD, 2 by ESMELOAD_SHARDS and
  JOB_COMPLETION_INDEX, as a Kubernetes Indexed Job sets them), each
  writing its own files; all start at the same instant; shard i signs in
  with organizer account i of the pool of 3. esmeload merge
  writes one summary, rates and series: sent, delivered, participants,
  chats and messages_sent are the sums of the shards'; serve counted as
  many messages as the merged sent; the merged histograms are the sums of
  the shards' bucket by bucket; the merged rates are the sums per second;
  the merged organizers are the pool's three; --threshold judges the
  merged figures (a pass; a fail exits 99 and still writes);
  the merged summary matches docs/summary.schema.json; report and compare
  read it, and report shows the shards beside it. The opt-in behaviours'
  objects (replies, chats, reconnects, devices), null in every shard, stay
  null; the merged rejoin histogram is the shards' (empty).
same_schedule_as_one_process: one process at the same flags (against
  another serve, same start) makes the same load: in every whole second
  after the last chat of either run, the same messages within one (24);
  in all, the same within one a participant; the same participant numbers
  (participant_<T>_<n> signs in for n = 1..24 on both serves, and each
  serve has 24).
merge_refuses_bad_input: a missing shard, a shard twice, a run of another
  test, a truncated summary, message rates that are not, a shard without
  its time series: exit 2, one line naming the cause, nothing written.
merge_judges_the_total: on edited copies of the shards, the merged
  cross-check passes when serve's count from the earliest start to the
  latest end is the merged sent and fails one short; the self-check
  verdict is one when the shards agree and each named when they differ.
  With the behaviours' objects written into the copies: their counts add
  up, chats.active and chats.accounted and history.passed are judged on
  the totals, the device counts per user are copied, the replies count
  in the cross-check, and the thresholds on them judge the totals.
replies_cross_check: one process with --org-reply-every 2 --org-think
  100ms against serve: serve counted the participants' messages and the
  organizers' replies, and the cross-check (its own and a merge of it)
  passes.
behaviours_series_merged: two shards with replies, chats that end,
  reconnects and two devices, merged: each merged line has the
  behaviours' keys, in a run's order; its counts are the sums of the
  shards' lines of that second and its running levels the sums of each
  shard's last; reply_p99_ms and rejoin_p99_ms come from the second's
  histograms together (null without samples); the counts over all lines
  are the merged summary's totals. The merged lines of the plain shards
  (three_shards_merge) have the keys of a shard's line but the
  histograms, none of the behaviours'.
shard_flags_refused: --shard 3/3, a bad ESMELOAD_SHARD, a --start-at an
  hour ago: exit 2 with one line naming the flag.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.dont_write_bytecode = True   # keep the tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esme  # noqa: E402
from esme import check, check_eq, short  # noqa: E402

P = 24
ORGS = 3
FLAGS = ["-sci", "10", "-cpi", "10", "-smi", "1000", "--max-participants", str(P),
         "--duration", "6500ms", "--threads", "1", "--quiet", "--organizers", str(ORGS)]
SUFFIX = "_performance_test_summary.json"


def tester(d, args, env=None):
    e = dict(os.environ)
    for k in ("ESMELOAD_SHARD", "ESMELOAD_SHARDS", "JOB_COMPLETION_INDEX", "ESMELOAD_START_AT"):
        e.pop(k, None)
    e.update(env or {})
    return subprocess.Popen([esme.ESMELOAD, "run"] + list(args), cwd=d, env=e,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def finish(p, what):
    try:
        out, err = p.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise esme.Fail("%s did not end within 90 s" % what)
    check_eq(p.returncode, 0, "%s exit status (stderr: %s)" % (what, err.decode(errors="replace")[-300:]))
    return out.decode()


def workdir(srv, tag):
    d = tempfile.mkdtemp(prefix="esme-shards-%s-" % tag)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(srv.config, f)
    return d


def summaries(d):
    return sorted(n for n in os.listdir(d) if n.endswith(SUFFIX))


def merge(args, out):
    os.makedirs(out, exist_ok=True)
    return subprocess.run([esme.ESMELOAD, "merge", "--quiet", "-o", out] + list(args),
                          capture_output=True, timeout=60)


def sign_in(srv, email):
    req = urllib.request.Request(srv.part + "/auth/sign-in", method="POST",
                                 data=json.dumps({"email": email, "password": "performance"}).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def rates_of(path, base):
    with open(path) as f:
        return {int(k) - base: v for k, v in json.load(f).items()}


async def run(r):
    state = {}
    a = esme.Server("--quiet", "--organizers", str(ORGS)).start()
    b = esme.Server("--quiet", "--organizers", str(ORGS)).start()
    try:
        def three_shards():
            start = int(time.time()) + 4
            state["start"] = start
            sd, od = workdir(a, "three"), workdir(b, "one")
            state["dir"], state["one_dir"] = sd, od
            received0 = a.stats()["messages"]["received"]
            at = ["--start-at", str(start)]
            ps = [tester(sd, FLAGS + at + ["--shard", "0/3"]),
                  tester(sd, FLAGS + at, {"ESMELOAD_SHARD": "1/3"}),
                  tester(sd, FLAGS + at, {"ESMELOAD_SHARDS": "3", "JOB_COMPLETION_INDEX": "2"}),
                  tester(od, FLAGS + at)]
            for i, p in enumerate(ps):
                finish(p, "shard %d" % i if i < 3 else "the one process")
            names = summaries(sd)
            check_eq(len(names), 3, "summary files of the shards: %s" % names)
            shards = []
            for i in range(3):
                n = [x for x in names if "_shard-%d-of-3_" % i in x]
                check_eq(len(n), 1, "shard %d's summary among %s" % (i, names))
                s = esme.load_summary(os.path.join(sd, n[0]))
                sh = s["esmeload"]["shard"]
                check_eq((sh["index"], sh["count"]), (i, 3), "shard %d's shard object" % i)
                check_eq(sh["t0_unix_ns"], start * 10**9, "shard %d's start" % i)
                for what in ("message_rates.json", "timeseries.jsonl"):
                    check(os.path.exists(os.path.join(sd, n[0].replace("summary.json", what))),
                          "shard %d wrote no %s" % (i, what))
                shards.append(s)
            check_eq(len({s["esmeload"]["shard"]["test"] for s in shards}), 1, "one test id")
            # the pool split: shard i signs in with account i of 3
            accounts = [o["email"] for o in a.config["organizers"]]
            check_eq(len(accounts), ORGS, "serve's pool")
            for i, s in enumerate(shards):
                check_eq([o["email"] for o in s["esmeload"]["organizers"]], [accounts[i]],
                         "shard %d's organizers" % i)
            out = os.path.join(sd, "merged")
            p = merge([sd], out)
            check_eq(p.returncode, 0, "merge: %s" % p.stderr.decode()[-300:])
            mnames = summaries(out)
            check_eq(len(mnames), 1, "merged summary files: %s" % mnames)
            m = esme.load_summary(os.path.join(out, mnames[0]))
            state["merged"] = m
            state["merged_path"] = os.path.join(out, mnames[0])
            e = m["esmeload"]
            for key in ("sent", "delivered", "in_flight", "lost", "organizer_received"):
                check_eq(e[key], sum(s["esmeload"][key] for s in shards), "merged esmeload.%s" % key)
            for key in ("messages_sent", "created_participants_count", "chats_count"):
                check_eq(m[key], sum(s[key] for s in shards), "merged %s" % key)
            check_eq(m["created_participants_count"], P, "participants of the whole test")
            check(e["sent"] > 0 and e["delivered"] == e["sent"], "merged sent %d delivered %d" % (e["sent"], e["delivered"]))
            check_eq(e["merged"]["shards"], 3, "esmeload.merged.shards")
            for key in ("replies", "chats", "reconnects", "devices"):
                check(all(s["esmeload"][key] is None for s in shards), "shards' esmeload.%s is null" % key)
                check(e[key] is None, "merged esmeload.%s stays null: %r" % (key, e[key]))
            check_eq(e["cross_check"]["replies_sent"], 0, "merged cross_check.replies_sent")
            check_eq(e["histograms"]["rejoin"]["count"], 0, "merged rejoin histogram")
            check_eq([o["email"] for o in e["organizers"]], accounts, "the merged organizers")
            check_eq(sum(o["user_messages"] for o in e["organizers"]), e["organizer_received"],
                     "the organizers' copies against organizer_received")
            esme.wait_until(lambda: a.stats()["messages"]["received"] - received0 == e["sent"],
                            what="serve received the merged sent (%d)" % e["sent"])
            for name in ("latency", "arrival_lag", "time_to_chat", "lag"):
                tot = {}
                for s in shards:
                    bk = s["esmeload"]["histograms"][name]["buckets"]
                    for i in range(0, len(bk), 2):
                        tot[bk[i]] = tot.get(bk[i], 0) + bk[i + 1]
                mb = e["histograms"][name]["buckets"]
                check_eq(dict(zip(mb[0::2], mb[1::2])), tot, "merged %s buckets" % name)
                check_eq(e["histograms"][name]["count"],
                         sum(s["esmeload"]["histograms"][name]["count"] for s in shards),
                         "merged %s count" % name)
                check_eq(e["histograms"][name]["max"],
                         max(s["esmeload"]["histograms"][name]["max"] or 0 for s in shards),
                         "merged %s max" % name)
            rates = {}
            for n in names:
                for k, v in rates_of(os.path.join(sd, n.replace("summary.json", "message_rates.json")), 0).items():
                    rates[k] = rates.get(k, 0) + v
            check_eq(rates_of(state["merged_path"].replace("summary.json", "message_rates.json"), 0),
                     rates, "merged message rates")
            with open(state["merged_path"].replace("summary.json", "timeseries.jsonl")) as f:
                lines = [json.loads(x) for x in f]
            check(lines, "the merged time series is empty")
            check_eq(sum(x["sent"] for x in lines),
                     sum(sum(json.loads(x)["sent"] for x in open(os.path.join(sd, n.replace("summary.json", "timeseries.jsonl"))))
                         for n in names), "the merged series' sent")
            check_eq(lines[-1]["participants_created"], P, "the merged series' last participants_created")
            # --threshold judges the merged figures: a pass, and a fail
            # that still writes the files (exit 99)
            p = merge([sd, "--threshold", "delivered_ratio>0.99", "--threshold",
                       "participants==%d" % P], os.path.join(sd, "judged"))
            check_eq(p.returncode, 0, "merge with passing thresholds: %s" % p.stderr.decode()[-300:])
            j = esme.load_summary(os.path.join(sd, "judged", summaries(os.path.join(sd, "judged"))[0]))
            check_eq([t["passed"] for t in j["esmeload"]["thresholds"]], [True, True], "thresholds")
            check_eq(j["esmeload"]["thresholds"][1]["measured"], P, "participants measured")
            p = merge([sd, "--threshold", "p99<0.001ms"], os.path.join(sd, "judged2"))
            check_eq(p.returncode, 99, "merge with a failing threshold")
            check_eq(len(summaries(os.path.join(sd, "judged2"))), 1, "files of a judged merge")
            # report and compare take the merged result, and the shards
            # side by side with it
            html = os.path.join(sd, "report.html")
            p = subprocess.run([esme.ESMELOAD, "report", "-o", html, sd, out], capture_output=True, timeout=60)
            check_eq(p.returncode, 0, "report of the shards and the merge: %s" % p.stderr.decode()[-300:])
            check("(4 runs)" in p.stdout.decode(), "report: %s" % p.stdout.decode())
            p = subprocess.run([esme.ESMELOAD, "compare", "--json", out, os.path.join(sd, names[0])],
                               capture_output=True, timeout=60)
            check_eq(p.returncode, 0, "compare of the merge and shard 0: %s" % p.stderr.decode()[-300:])

        await r.case("three_shards_merge", three_shards, timeout=150)

        def same_schedule():
            start, od = state["start"], state["one_dir"]
            one = summaries(od)
            check_eq(len(one), 1, "the one process's summary: %s" % one)
            o = esme.load_summary(os.path.join(od, one[0]))
            check_eq(o["esmeload"]["shard"]["count"], 1, "a run without --shard is shard 0 of 1")
            ro = rates_of(os.path.join(od, one[0].replace("summary.json", "message_rates.json")), start)
            rm = rates_of(state["merged_path"].replace("summary.json", "message_rates.json"), start)
            # the last chat of either run, in seconds after the start; from
            # the next whole second every participant sends once a second,
            # up to the last whole second of the duration (6.5 s)
            last = max(o["esmeload"]["time_to_chat_ms"]["max"],
                       state["merged"]["esmeload"]["time_to_chat_ms"]["max"]) / 1000 + (P - 1) * 0.010
            steady = [k for k in range(int(last) + 1, 6) if k >= last + 1]
            for k in steady:
                check(abs(ro.get(k, 0) - rm.get(k, 0)) <= 1 and abs(rm.get(k, 0) - P) <= 1,
                      "second %d after the start (all chats by %.2f s): %d messages in one process, "
                      "%d in three shards (%s / %s)" % (k, last, ro.get(k, 0), rm.get(k, 0), ro, rm))
            check(abs(sum(ro.values()) - sum(rm.values())) <= P,
                  "messages in all: %d in one process, %d in three shards" % (sum(ro.values()), sum(rm.values())))
            check_eq(o["created_participants_count"], state["merged"]["created_participants_count"],
                     "participants")
            for srv, name in ((a, "the shards' serve"), (b, "the one process's serve")):
                check_eq(srv.stats()["participants"], P, "participants on %s" % name)
                for n in range(1, P + 2):
                    st = sign_in(srv, "participant_%d_%d@performance.com" % (start, n))
                    check_eq(st, 200 if n <= P else 401,
                             "sign-in of participant %d on %s" % (n, name))

        await r.case("same_schedule_as_one_process", same_schedule, needs=["three_shards_merge"])

        def refuses():
            sd = state["dir"]
            names = summaries(sd)

            def refused(args, want, what):
                out = tempfile.mkdtemp(prefix="esme-merge-out-")
                p = merge(args, out)
                err = p.stderr.decode()
                check_eq(p.returncode, 2, "merge of %s: exit status (stderr %s)" % (what, err))
                check(re.fullmatch(r"esmeload merge: [^\n]+\n", err), "merge of %s: not one line: %r" % (what, err))
                check(want in err, "merge of %s: %r does not say %r" % (what, err, want))
                check_eq(os.listdir(out), [], "files written by a refused merge of %s" % what)

            two = tempfile.mkdtemp(prefix="esme-merge-two-")
            for n in names[:2]:
                for suf in ("summary.json", "message_rates.json", "timeseries.jsonl"):
                    shutil.copy(os.path.join(sd, n.replace("summary.json", suf)), two)
            refused([two], "shard 2 of 3 is missing", "two shards of three")
            dup = tempfile.mkdtemp(prefix="esme-merge-dup-")
            for n in names:
                for suf in ("summary.json", "message_rates.json", "timeseries.jsonl"):
                    shutil.copy(os.path.join(sd, n.replace("summary.json", suf)), dup)
            one = [n for n in names if "_shard-1-of-3_" in n][0]
            for suf in ("summary.json", "message_rates.json", "timeseries.jsonl"):
                shutil.copy(os.path.join(sd, one.replace("summary.json", suf)),
                            os.path.join(dup, "1000000000_copy_performance_test_" + suf))
            refused([dup], "shard 1 twice", "a shard given twice")
            od = state["one_dir"]
            refused([sd, os.path.join(od, summaries(od)[0])], "not shards of one test",
                    "the shards and a run of another test")
            cut = tempfile.mkdtemp(prefix="esme-merge-cut-")
            for n in names:
                for suf in ("summary.json", "message_rates.json", "timeseries.jsonl"):
                    shutil.copy(os.path.join(sd, n.replace("summary.json", suf)), cut)
            victim = os.path.join(cut, names[2])
            with open(victim, "rb") as f:
                data = f.read()
            with open(victim, "wb") as f:
                f.write(data[:len(data) // 2])
            refused([cut], "truncated", "a truncated summary")
            bad = tempfile.mkdtemp(prefix="esme-merge-rates-")
            for n in names:
                for suf in ("summary.json", "message_rates.json", "timeseries.jsonl"):
                    shutil.copy(os.path.join(sd, n.replace("summary.json", suf)), bad)
            with open(os.path.join(bad, names[1].replace("summary.json", "message_rates.json")), "w") as f:
                f.write('{"1796000000": 3, "soon": 4}')
            refused([bad], "entry 2 is not", "message rates with a key that is no second")
            os.remove(os.path.join(bad, names[1].replace("summary.json", "timeseries.jsonl")))
            with open(os.path.join(bad, names[1].replace("summary.json", "message_rates.json")), "w") as f:
                f.write('{}')
            refused([bad], "No such file", "a shard without its time series")

        await r.case("merge_refuses_bad_input", refuses, needs=["three_shards_merge"])

        def judged():
            # the merge's own verdicts on edited copies of the shards:
            # serve's count from the earliest start to the latest end
            # against the merged sent, and the shards' self-check verdicts
            sd = state["dir"]
            names = summaries(sd)
            total = state["merged"]["esmeload"]["sent"]

            def merged_with(ends, verdict2=None, objects=None, thresholds=(), rc=0):
                d = tempfile.mkdtemp(prefix="esme-merge-judged-")
                for i, n in enumerate(names):
                    for suf in ("message_rates.json", "timeseries.jsonl"):
                        shutil.copy(os.path.join(sd, n.replace("summary.json", suf)), d)
                    with open(os.path.join(sd, n)) as f:
                        doc = json.load(f)
                    cc = doc["esmeload"]["cross_check"]
                    cc["server_received_start"] = 100 + 10 * i
                    cc["server_received_end"] = ends[i]
                    # one text for all (the shards' own name their own
                    # figures), shard 2's changed when asked
                    doc["esmeload"]["self_check"]["verdict"] = "kept up"
                    if verdict2 is not None and doc["esmeload"]["shard"]["index"] == 2:
                        doc["esmeload"]["self_check"]["verdict"] = verdict2
                    if objects is not None:
                        doc["esmeload"].update(objects(doc["esmeload"]["shard"]["index"]))
                    with open(os.path.join(d, n), "w") as f:
                        json.dump(doc, f)
                out = os.path.join(d, "out")
                args = [d]
                for t in thresholds:
                    args += ["--threshold", t]
                p = merge(args, out)
                check_eq(p.returncode, rc, "merge: %s" % p.stderr.decode()[-300:])
                return esme.load_summary(os.path.join(out, summaries(out)[0]))["esmeload"]

            e = merged_with([100 + total - 5, 100 + total, 100 + total - 1])
            check_eq(e["cross_check"]["server_received"], total, "merged server_received")
            check_eq(e["cross_check"]["passed"], True, "merged cross-check, serve counted all")
            check_eq(e["self_check"]["verdict"], "kept up", "one verdict when they agree")
            e = merged_with([100 + total - 5, 100 + total - 1, 100 + total - 2], "shard two's own")
            check_eq(e["cross_check"]["passed"], False, "merged cross-check, serve one short")
            v = e["self_check"]["verdict"]
            check(v == "shard 0: kept up; shard 1: kept up; shard 2: shard two's own",
                  "each shard's verdict named when they differ: %r" % v)

            # the behaviours' objects, as shards with the options on write
            # them (shard i's figures made of i); replies serve counted
            def objects(i):
                q = {"p50": 1.0, "p90": 1.0, "p99": 1.0, "p99_9": 1.0, "max": 1.0}
                return {
                    "replies": {"scheduled": 4 + i, "sent": 3 + i, "received": 2, "in_flight": 1 + i,
                                "latency_ms": q, "dropped": i, "missed": 1 if i == 1 else 0},
                    # shard 2 closed more than it opened: accounted on
                    # the total, not or-ed
                    "chats": {"opened": 10, "closed": 4 + 4 * i, "active": max(0, 6 - 4 * i),
                              "reopened": i, "closes_sent": 5, "refused_after_close": i,
                              "accounted": i != 2},
                    "reconnects": {"drops_tester": 2, "drops_server": i, "rejoined": 2 + i,
                                   "back_in_chat_ms": q, "echoes_after_drop": 0,
                                   "history": {"checks": 0 if i == 0 else 3, "missing": 0,
                                               "duplicated": 0, "recovered": i, "unexpected": 0,
                                               "truncated": i,
                                               "passed": None if i == 0 else True}},
                    # the file the shards ran: copied, not summed
                    "scenario": {"path": "crowd.json", "name": "crowd",
                                 "file": {"load": {"organizers": 4, "max_participants": 2000}}},
                    "devices": {"participant": 3, "organizer": 2, "copies_expected": 20,
                                "copies_received": 20 - i, "organizer_copies_expected": 6,
                                "organizer_copies_received": 6},
                }
            replies = sum(3 + i for i in range(3))
            e = merged_with([100 + total + replies - 5, 100 + total + replies, 100 + total - 1],
                            objects=objects,
                            thresholds=("chats_closed==24", "chats_reopened==3", "reconnects==9",
                                        "history_missing==0", "history_duplicated==0",
                                        "device_copies_missing==3", "replies_missed==1",
                                        "history_truncated==3",
                                        "replies_sent==%d" % replies))
            check_eq(e["replies"], {"scheduled": 15, "sent": replies, "received": 6,
                                    "in_flight": replies - 6 - 1,
                                    "latency_ms": e["replies"]["latency_ms"], "dropped": 3, "missed": 1},
                     "merged replies")
            check_eq(e["scenario"], objects(0)["scenario"], "the scenario copied, not summed")
            check_eq(e["chats"], {"opened": 30, "closed": 24, "active": 6, "reopened": 3,
                                  "closes_sent": 15, "refused_after_close": 3, "accounted": True},
                     "merged chats")
            r = e["reconnects"]
            check_eq({k: v for k, v in r.items() if k != "back_in_chat_ms"},
                     {"drops_tester": 6, "drops_server": 3, "rejoined": 9, "echoes_after_drop": 0,
                      "history": {"checks": 6, "missing": 0, "duplicated": 0, "recovered": 3,
                                  "unexpected": 0, "truncated": 3, "passed": True}},
                     "merged reconnects")
            check_eq(sorted(r["back_in_chat_ms"]), sorted(["p50", "p90", "p99", "p99_9", "max"]),
                     "merged back_in_chat_ms (from the merged histogram)")
            check_eq(e["devices"], {"participant": 3, "organizer": 2, "copies_expected": 60,
                                    "copies_received": 57, "organizer_copies_expected": 18,
                                    "organizer_copies_received": 18}, "merged devices")
            check_eq(e["cross_check"]["sent"], total, "merged cross_check.sent")
            check_eq(e["cross_check"]["replies_sent"], replies, "merged cross_check.replies_sent")
            check_eq(e["cross_check"]["passed"], True, "merged cross-check, replies counted")
            check_eq([(t["expr"], t["passed"]) for t in e["thresholds"]],
                     [(t["expr"], True) for t in e["thresholds"]], "thresholds on the totals")
            check_eq(len(e["thresholds"]), 9, "thresholds judged")

            # a history that failed in one shard fails the test; one
            # more closed than opened in all is not accounted
            def worse(i):
                o = objects(i)
                if i == 1:
                    o["reconnects"]["history"].update(missing=2, passed=False)
                o["chats"]["closed"] = 11
                o["chats"]["active"] = 0
                o["chats"]["accounted"] = False
                return o
            e = merged_with([100 + total + replies - 5, 100 + total + replies - 1, 100 + total - 1],
                            objects=worse, thresholds=("history_missing==0",), rc=99)
            check_eq(e["reconnects"]["history"]["passed"], False, "merged history, one shard missing 2")
            check_eq(e["reconnects"]["history"]["missing"], 2, "merged history.missing")
            check_eq((e["chats"]["active"], e["chats"]["accounted"]), (0, False),
                     "merged chats, more closed than opened")
            check_eq(e["cross_check"]["passed"], False, "merged cross-check, a reply short")
            check_eq([t["passed"] for t in e["thresholds"]], [False], "history_missing==0 on the total")

        await r.case("merge_judges_the_total", judged, needs=["three_shards_merge"])

        def replies_cross_check():
            d = workdir(a, "replies")
            p = tester(d, ["-sci", "10", "-cpi", "50", "-smi", "100", "--max-participants", "6",
                           "--duration", "3s", "--threads", "1", "--quiet",
                           "--org-reply-every", "2", "--org-think", "100ms"])
            finish(p, "the run with replies")
            names = summaries(d)
            check_eq(len(names), 1, "the run's summary: %s" % names)
            s = esme.load_summary(os.path.join(d, names[0]))
            e = s["esmeload"]
            check(e["replies"] is not None and e["replies"]["sent"] > 0,
                  "replies were sent: %r" % e["replies"])
            cc = e["cross_check"]
            check(cc is not None, "cross_check against serve")
            check_eq(cc["sent"], e["sent"], "cross_check.sent is the participants' messages")
            check_eq(cc["replies_sent"], e["replies"]["sent"], "cross_check.replies_sent")
            check_eq(cc["server_received"], e["sent"] + e["replies"]["sent"],
                     "serve counted the messages and the replies (%r)" % cc)
            check_eq(cc["passed"], True, "cross_check with replies: %r" % cc)
            for key in ("chats", "reconnects", "devices"):
                check(e[key] is None, "esmeload.%s is null without its options" % key)
            # a run is shard 0 of 1: its merge checks the same
            out = os.path.join(d, "merged")
            p = merge([d], out)
            check_eq(p.returncode, 0, "merge of the run: %s" % p.stderr.decode()[-300:])
            m = esme.load_summary(os.path.join(out, summaries(out)[0]))["esmeload"]
            check_eq(m["cross_check"]["replies_sent"], e["replies"]["sent"], "merged replies_sent")
            check_eq(m["cross_check"]["passed"], True, "merged cross_check with replies")
            check_eq(m["replies"]["in_flight"], e["replies"]["in_flight"], "merged replies.in_flight")

        await r.case("replies_cross_check", replies_cross_check, timeout=90)

        def behaviours_series():
            counts = ("replies_sent", "replies_received", "replies_missed", "chats_closed",
                      "chats_reopened",
                      "refused_after_close", "drops_tester", "drops_server", "reconnects",
                      "history_missing", "history_duplicated", "history_truncated")
            # replies_in_flight is the test's (organizers answer other
            # shards' participants): made of the merged counts so far
            levels = ("chats_active", "device_copies_missing")
            p99s = (("reply_p99_ms", "reply_latency"), ("rejoin_p99_ms", "rejoin"))
            new = set(counts) | set(levels) | {k for k, _ in p99s} | {"replies_in_flight"}
            d = workdir(a, "behaviours")
            at = ["--start-at", str(int(time.time()) + 3)]
            flags = ["-sci", "10", "-cpi", "50", "-smi", "100", "--max-participants", "12",
                     "--duration", "4s", "--threads", "1", "--quiet", "--organizers", "2",
                     "--org-reply-every", "2", "--org-think", "100ms", "--chat-lifetime", "1s",
                     "--reopen-after", "200ms", "--reconnect-uptime", "700ms",
                     "--reconnect-backoff", "100ms", "--devices", "2"] + at
            ps = [tester(d, flags + ["--shard", "%d/2" % i]) for i in range(2)]
            for i, p in enumerate(ps):
                finish(p, "shard %d with the behaviours" % i)
            names = summaries(d)
            check_eq(len(names), 2, "summary files of the shards: %s" % names)
            out = os.path.join(d, "merged")
            p = merge([d], out)
            check_eq(p.returncode, 0, "merge: %s" % p.stderr.decode()[-300:])
            mp = os.path.join(out, summaries(out)[0])
            e = esme.load_summary(mp)["esmeload"]
            with open(mp.replace("summary.json", "timeseries.jsonl")) as f:
                lines = [json.loads(x) for x in f]
            shard_lines = []
            for n in names:
                with open(os.path.join(d, n.replace("summary.json", "timeseries.jsonl"))) as f:
                    shard_lines.append([json.loads(x) for x in f])
            check(lines, "the merged time series is empty")
            order = [k for k in shard_lines[0][0] if k != "histograms"]
            check(new <= set(order), "a shard's line lacks keys: %s" % sorted(new - set(order)))
            so_far = 0
            for x in lines:
                check_eq(list(x), order, "the keys of the merged line of %d" % x["t"])
                so_far += x["replies_sent"] - x["replies_received"] - x["replies_missed"]
                check_eq(x["replies_in_flight"], max(0, so_far),
                         "replies_in_flight of %d: sent - received - missed so far" % x["t"])
                of = [y for s in shard_lines for y in s if y["t"] == x["t"]]
                for k in counts:
                    check_eq(x[k], sum(y[k] for y in of), "%s of %d: the shards' sum" % (k, x["t"]))
                for k in levels:
                    last = [[y[k] for y in s if y["t"] <= x["t"]] for s in shard_lines]
                    check_eq(x[k], sum(v[-1] for v in last if v),
                             "%s of %d: the shards' last values summed" % (k, x["t"]))
                for k, h in p99s:
                    ps_ = [y[k] for y in of if y[k] is not None]
                    n = sum(y["histograms"][h]["count"] for y in of)
                    check_eq(x[k] is None, n == 0, "%s of %d null without samples (%d): %r"
                             % (k, x["t"], n, x[k]))
                    if len(ps_) == 1:
                        check_eq(x[k], ps_[0], "%s of %d: the one line's with samples" % (k, x["t"]))
                    elif ps_:
                        # the p99 of the samples together lies between
                        # the shards' (within a bucket, 1 %)
                        check(min(ps_) / 1.02 <= x[k] <= max(ps_) * 1.02,
                              "%s of %d: %r outside the shards' %r" % (k, x["t"], x[k], ps_))
            total = {k: sum(x[k] for x in lines) for k in counts}
            r, c, rc = e["replies"], e["chats"], e["reconnects"]
            check(total["replies_received"] > 0 and total["chats_closed"] > 0 and total["reconnects"] > 0,
                  "the behaviours happened: %r" % total)
            check_eq(lines[-1]["replies_in_flight"], r["in_flight"],
                     "the last replies_in_flight: replies.in_flight")
            for k, want in (("replies_sent", r["sent"]), ("replies_received", r["received"]),
                            ("replies_missed", r["missed"]),
                            ("chats_closed", c["closed"]), ("chats_reopened", c["reopened"]),
                            ("refused_after_close", c["refused_after_close"]),
                            ("drops_tester", rc["drops_tester"]), ("drops_server", rc["drops_server"]),
                            ("reconnects", rc["rejoined"]),
                            ("history_missing", rc["history"]["missing"]),
                            ("history_duplicated", rc["history"]["duplicated"]),
                            ("history_truncated", rc["history"]["truncated"])):
                check_eq(total[k], want, "%s over the merged lines against the merged summary" % k)
            check_eq(lines[-1]["chats_active"], c["active"], "the last chats_active: chats.active")
            dv = e["devices"]
            check_eq(lines[-1]["device_copies_missing"],
                     dv["copies_expected"] + dv["organizer_copies_expected"] -
                     dv["copies_received"] - dv["organizer_copies_received"],
                     "the last device_copies_missing: the merged devices'")
            check(any(x["reply_p99_ms"] is not None for x in lines), "no second with a reply p99")
            # a plain merge: a shard's keys but the histograms, in order
            with open(state["merged_path"].replace("summary.json", "timeseries.jsonl")) as f:
                plain = [json.loads(x) for x in f]
            sd = state["dir"]
            one = [n for n in summaries(sd) if "_shard-0-of-3_" in n][0]
            with open(os.path.join(sd, one.replace("summary.json", "timeseries.jsonl"))) as f:
                first = json.loads(f.readline())
            check(not new & set(first), "a plain shard's line has behaviours' keys: %r" % first)
            for x in plain:
                check_eq(list(x), [k for k in first if k != "histograms"],
                         "the keys of a plain merged line")

        await r.case("behaviours_series_merged", behaviours_series, needs=["three_shards_merge"],
                     timeout=90)

        def flags():
            d = workdir(a, "flags")

            def bad(args, env, want):
                p = tester(d, list(args), env)
                out, err = p.communicate(timeout=30)
                err = err.decode()
                check_eq(p.returncode, 2, "%s %s: exit status (stderr %s)" % (args, env, err))
                check(want in err and err.count("\n") == 1, "%s %s: %r does not name %r" % (args, env, err, want))

            bad(["--shard", "3/3"], None, "--shard")
            bad(["--shard", "x"], None, "--shard")
            bad([], {"ESMELOAD_SHARD": "1/0"}, "ESMELOAD_SHARD")
            bad([], {"ESMELOAD_SHARDS": "4"}, "JOB_COMPLETION_INDEX")
            bad(["--start-at", "soon"], None, "--start-at")
            bad(["--start-at", str(int(time.time()) - 3600), "--max-participants", "1"], None, "--start-at")
            check_eq(summaries(d), [], "files written by refused runs")

        await r.case("shard_flags_refused", flags)
    finally:
        a.stop()
        b.stop()


if __name__ == "__main__":
    esme.main("test_shards", run, limit=240)
