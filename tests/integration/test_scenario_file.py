#!/usr/bin/python3
"""esmeload run --scenario FILE: a scenario as a JSON file
(docs/scenario.schema.json).

file_equals_flags: a file with the load and replies runs as the same
  flags do: the summary's constants are the file's intervals, and
  esmeload.replies is there (not null) with replies received in both.
flag_overrides_file: -smi before --scenario and --org-reply-every 0
  after it win over the file's send_message_interval and replies.every
  (the summary's constant is the flag's, replies is null).
bad_files: a missing file, a directory, bad JSON, a non-object, an
  unknown key, a wrong type, a bad value, a repeated key, both arrivals:
  exit 2 and one line on stderr naming the file and the key path.
examples_load_and_run: each docs/scenarios/*.json runs briefly against
  serve (--max-participants 2 --duration 2s override it), and the
  summary's constants are the file's intervals.
demo_takes_the_file: `esmeload demo --scenario FILE` runs the file's
  intervals, not the demo's own 10/20/100 ms; a flag still wins.
examples_match_schema: each example validates against
  docs/scenario.schema.json with the small validator below (the subset
  of JSON Schema the schema uses: type, properties, additionalProperties,
  required, not, enum, minimum, maximum, pattern, local $ref); broken
  copies of an example are rejected by the validator and by esmeload alike,
  and a file with every key is accepted by both. Where python3-jsonschema
  is installed, the schema is also checked as a draft 2020-12 schema and
  gives the same verdicts.
"""

import copy
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True   # keep the tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esme  # noqa: E402
from esme import check, check_eq, Fail  # noqa: E402

SCHEMA = os.path.join(esme.REPO, "docs", "scenario.schema.json")
EXAMPLES = sorted(glob.glob(os.path.join(esme.REPO, "docs", "scenarios", "*.json")))
TMP = tempfile.mkdtemp(prefix="esme-scenario-")


# ---------------------------------------------------------------- the validator

ANNOTATIONS = {"$schema", "$id", "title", "description", "$defs"}
KEYWORDS = {"type", "properties", "additionalProperties", "required", "not", "enum",
            "minimum", "maximum", "pattern", "$ref"}


def is_type(v, t):
    if t == "object":
        return isinstance(v, dict)
    if t == "array":
        return isinstance(v, list)
    if t == "string":
        return isinstance(v, str)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "null":
        return v is None
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == "integer":   # 2020-12: a number with no fractional part
        return is_type(v, "number") and (isinstance(v, int) or v.is_integer())
    raise Fail("the schema uses type %r, which the validator does not know" % t)


def pattern_ok(p, s):
    # ECMA 262's $ ends the text; Python's would also match before a
    # trailing newline.
    if p.endswith("$") and not p.endswith("\\$"):
        p = p[:-1] + r"\Z"
    return re.search(p, s) is not None


def validate(v, sch, root, where="$"):
    """The errors of v against sch, as "where: what" texts."""
    unknown = set(sch) - KEYWORDS - ANNOTATIONS
    if unknown:
        raise Fail("%s: the schema uses %s, which the validator does not know"
                   % (where, sorted(unknown)))
    errs = []
    if "$ref" in sch:
        ref = sch["$ref"]
        check(ref.startswith("#/"), "%s: only local $ref: %r" % (where, ref))
        target = root
        for part in ref[2:].split("/"):
            target = target[part]
        errs += validate(v, target, root, where)
    if "type" in sch:
        types = sch["type"] if isinstance(sch["type"], list) else [sch["type"]]
        if not any(is_type(v, t) for t in types):
            return errs + ["%s: %r is not of type %s" % (where, v, "/".join(types))]
    if "enum" in sch and v not in sch["enum"]:
        errs.append("%s: %r is not one of %r" % (where, v, sch["enum"]))
    if is_type(v, "number"):
        if "minimum" in sch and v < sch["minimum"]:
            errs.append("%s: %r is below %r" % (where, v, sch["minimum"]))
        if "maximum" in sch and v > sch["maximum"]:
            errs.append("%s: %r is above %r" % (where, v, sch["maximum"]))
    if isinstance(v, str) and "pattern" in sch and not pattern_ok(sch["pattern"], v):
        errs.append("%s: %r does not match %s" % (where, v, sch["pattern"]))
    if isinstance(v, dict):
        props = sch.get("properties", {})
        for k, sub in props.items():
            if k in v:
                errs += validate(v[k], sub, root, "%s.%s" % (where, k))
        if sch.get("additionalProperties") is False:
            for k in v:
                if k not in props:
                    errs.append("%s: unknown key %r" % (where, k))
        for k in sch.get("required", []):
            if k not in v:
                errs.append("%s: lacks %r" % (where, k))
    if "not" in sch and not validate(v, sch["not"], root, where):
        errs.append("%s: matches what the schema excludes (%s)" % (where, json.dumps(sch["not"])))
    return errs


def closed_everywhere(sch, where="$"):
    """Every object schema with properties says additionalProperties false."""
    if "properties" in sch:
        check(sch.get("additionalProperties") is False,
              "%s: additionalProperties is not false" % where)
        for k, sub in sch["properties"].items():
            check("description" in sub, "%s.%s has no description" % (where, k))
            closed_everywhere(sub, "%s.%s" % (where, k))


# ---------------------------------------------------------------- helpers

def write(name, doc):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(doc if isinstance(doc, str) else json.dumps(doc, indent=2))
    return path


def dry(path):
    """esmeload run --scenario path in a directory without config.json:
    the file is read first, so (rc, stderr) says whether it loads (then
    the run stops at the missing config.json)."""
    d = tempfile.mkdtemp(prefix="dry-", dir=TMP)
    p = subprocess.run([esme.ESMELOAD, "run", "--scenario", path], cwd=d,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    err = p.stderr.decode(errors="replace")
    return p.returncode, err


def loads(path):
    rc, err = dry(path)
    return rc == 2 and "./config.json: No such file" in err and path not in err


def go_duration(ns):
    """Go's time.Duration.String() of a positive ns of whole ms."""
    if ns < 1000000000:
        return "%gms" % (ns / 1e6)
    s, out = ns / 1e9, ""
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    if h:
        out += "%dh" % h
    if h or m:
        out += "%dm" % m
    return out + ("%.9f" % s).rstrip("0").rstrip(".") + "s"


UNITS = {"ns": 1, "us": 1000, "\u00b5s": 1000, "\u03bcs": 1000, "ms": 1000000,
         "s": 1000000000, "m": 60000000000, "h": 3600000000000}


def duration_ns(v):
    """A go_interval of the schema (a duration string or integer ms) in ns."""
    if isinstance(v, int):
        return v * 1000000
    if v == "0":
        return 0
    total = 0
    for num, unit in re.findall(r"([0-9.]+)([a-z\u00b5\u03bc]+)", v):
        total += round(float(num) * UNITS[unit])
    return total


def constants_of(doc):
    """The summary constants a file's load gives (Go duration text)."""
    load = doc.get("load", {})
    want = {}
    for key in ("start_chat_interval", "create_participant_interval", "send_message_interval"):
        if key in load:
            want[key] = go_duration(duration_ns(load[key]))
    if "arrival_rate" in load:
        want["create_participant_interval"] = go_duration(round(1e9 / load["arrival_rate"]))
    return want


def check_recorded(e, path, doc):
    """The summary's esmeload.scenario, once output.c writes it."""
    if "scenario" not in e:
        return
    sc = e["scenario"]
    check(sc is not None, "esmeload.scenario is null with --scenario")
    check_eq(sc.get("path"), path, "esmeload.scenario.path")
    check_eq(sc.get("name"), doc.get("name"), "esmeload.scenario.name")
    check_eq(sc.get("file"), doc, "esmeload.scenario.file")


BASE = ["--threads", "1", "--quiet"]

REPLIES_FILE = {
    "name": "replies as flags",
    "load": {"start_chat_interval": "10ms", "create_participant_interval": 50,
             "send_message_interval": "100ms", "max_participants": 6, "duration": "3s"},
    "replies": {"every": 2, "think": "200ms", "think_dist": "fixed"},
}
REPLIES_FLAGS = ["-sci", "10", "-cpi", "50", "-smi", "100", "--max-participants", "6",
                 "--duration", "3s", "--org-reply-every", "2", "--org-think", "200ms",
                 "--org-think-dist", "fixed"]

# (file name, text, what the one line must name besides the file)
BAD = [
    ("empty.json", "", "not valid JSON"),
    ("trailing.json", '{"load": {}} x', "not valid JSON"),
    ("array.json", "[1, 2]", "not a JSON object"),
    ("unknown-top.json", '{"lod": {}}', 'unknown key "lod"'),
    ("unknown-key.json", '{"chats": {"lifetme": "30s"}}', 'unknown key "chats.lifetme"'),
    ("flag-name.json", '{"load": {"sci": 10}}', 'unknown key "load.sci"'),
    ("section-type.json", '{"replies": 2}', 'key "replies" must be an object, not a number'),
    ("duration-type.json", '{"chats": {"lifetime": 30}}', 'key "chats.lifetime" must be'),
    ("count-type.json", '{"devices": {"participant": "2"}}', 'key "devices.participant" must be'),
    ("name-type.json", '{"name": ["a"]}', 'key "name" must be a string'),
    ("bad-duration.json", '{"chats": {"lifetime": "abc"}}',
     'key "chats.lifetime": "abc" is not a duration of at least 1ms (e.g. 500ms, 90s, 10m)'),
    ("zero-duration.json", '{"reconnects": {"backoff": "0s"}}', 'key "reconnects.backoff"'),
    ("not-whole-ms.json", '{"load": {"send_message_interval": "1500us"}}',
     'key "load.send_message_interval": "1500us" is not a whole number of milliseconds'),
    ("negative.json", '{"load": {"start_chat_interval": -5}}',
     'key "load.start_chat_interval": -5: a negative interval means nothing'),
    ("devices.json", '{"devices": {"organizer": 9}}',
     'key "devices.organizer": 9 is not a whole number from 1 to 8'),
    ("dist.json", '{"replies": {"think_dist": "normal"}}',
     'key "replies.think_dist": "normal" is not fixed or exp'),
    ("rate.json", '{"load": {"arrival_rate": 0}}', 'key "load.arrival_rate"'),
    ("both.json", '{"load": {"arrival_rate": 50, "create_participant_interval": "20ms"}}',
     '"create_participant_interval" and "arrival_rate" both set the arrivals'),
    ("twice.json", '{"replies": {"every": 2, "every": 3}}', 'key "replies.every" is given twice'),
]


# Broken copies of the crowd example: (what, edit) -> both must refuse.
def breakages(doc):
    def edit(f):
        d = copy.deepcopy(doc)
        f(d)
        return d
    return [
        ("unknown top key", edit(lambda d: d.update(extra=1))),
        ("unknown load key", edit(lambda d: d["load"].update(sci=10))),
        ("section not an object", edit(lambda d: d.update(replies=[]))),
        ("duration as a number", edit(lambda d: d["chats"].update(lifetime=30))),
        ("not a duration", edit(lambda d: d["chats"].update(lifetime="30 s"))),
        ("negative duration", edit(lambda d: d["replies"].update(think="-1s"))),
        ("interval as a boolean", edit(lambda d: d["load"].update(start_chat_interval=True))),
        ("negative interval", edit(lambda d: d["load"].update(send_message_interval=-1))),
        ("rate too high", edit(lambda d: d["load"].update(arrival_rate=2000000))),
        ("rate as a string", edit(lambda d: d["load"].update(arrival_rate="50"))),
        ("too many organizers", edit(lambda d: d["load"].update(organizers=1001))),
        ("no organizer", edit(lambda d: d["load"].update(organizers=0))),
        ("reply count negative", edit(lambda d: d["replies"].update(every=-1))),
        ("bad distribution", edit(lambda d: d["replies"].update(think_dist="gauss"))),
        ("too many devices", edit(lambda d: d.update(devices={"participant": 9}))),
        ("name not a string", edit(lambda d: d.update(name=7))),
        ("both arrivals", edit(lambda d: d["load"].update(create_participant_interval="20ms"))),
    ]


EVERY_KEY = {
    "name": "every key", "description": "each key of the schema once",
    "load": {"start_chat_interval": 10, "create_participant_interval": "1.5s",
             "send_message_interval": "0", "organizers": 1000,
             "max_participants": 18446744073709551609, "duration": "1h30m"},
    "replies": {"every": 1000000, "think": "1\u00b5s1ms", "think_dist": "exp"},
    "chats": {"lifetime": "30s", "messages": 1000000000, "reopen_after": "2s"},
    "reconnects": {"uptime": ".5s", "dist": "fixed", "backoff": "1ms"},
    "devices": {"participant": 8, "organizer": 1},
}


async def run(r):
    with open(SCHEMA) as f:
        schema = json.load(f)
    check(len(EXAMPLES) >= 2, "docs/scenarios holds %d examples" % len(EXAMPLES))

    def bad_files():
        cases = [(write(n, t), w) for n, t, w in BAD]
        cases.append((os.path.join(TMP, "missing.json"),
                      "cannot read the scenario file: No such file or directory"))
        os.makedirs(os.path.join(TMP, "a-dir.json"), exist_ok=True)
        cases.append((os.path.join(TMP, "a-dir.json"), "cannot read the scenario file"))
        for path, want in cases:
            rc, err = dry(path)
            check_eq(rc, 2, "%s: exit code (stderr %r)" % (os.path.basename(path), err))
            check(err.count("\n") == 1 and err.endswith("\n"),
                  "%s: not one line: %r" % (os.path.basename(path), err))
            check(err.startswith("esmeload: %s: " % path) and want in err,
                  "%s: %r lacks %r" % (os.path.basename(path), err, want))

    await r.case("bad_files", bad_files)

    def match_schema():
        closed_everywhere(schema)
        for d in schema["$defs"].values():
            check("description" in d, "a $defs entry has no description")
        try:
            import jsonschema
            jsonschema.Draft202012Validator.check_schema(schema)
            full = jsonschema.Draft202012Validator(schema)
        except ImportError:
            full = None
        docs = []
        for path in EXAMPLES:
            with open(path) as f:
                doc = json.load(f)
            errs = validate(doc, schema, schema)
            check(not errs, "%s: %s" % (os.path.basename(path), errs))
            check(loads(path), "%s does not load: %r" % (path, dry(path)[1]))
            docs.append(doc)
        errs = validate(EVERY_KEY, schema, schema)
        check(not errs, "every key: %s" % errs)
        p = write("every-key.json", EVERY_KEY)
        check(loads(p), "every key does not load: %r" % dry(p)[1])
        crowd = [d for d in docs if "replies" in d and "chats" in d]
        check(crowd, "no example with replies and chats")
        cases = breakages(crowd[0])
        for i, (what, doc) in enumerate(cases):
            check(validate(doc, schema, schema), "the validator takes a broken file: %s" % what)
            p = write("broken-%d.json" % i, doc)
            rc, err = dry(p)
            check(rc == 2 and err.startswith("esmeload: %s: " % p) and err.count("\n") == 1,
                  "esmeload takes a broken file (%s): rc %d %r" % (what, rc, err))
        if full is not None:
            for doc in docs + [EVERY_KEY]:
                check(full.is_valid(doc), "jsonschema refuses %s" % doc.get("name"))
            for what, doc in cases:
                check(not full.is_valid(doc), "jsonschema takes a broken file: %s" % what)

    await r.case("examples_match_schema", match_schema)

    srv = esme.Server("--quiet", "--organizers", "4").start()
    try:
        def equals_flags():
            path = write("replies.json", REPLIES_FILE)
            a = esme.run_tester(srv.config, BASE + ["--scenario", path], timeout=90)
            b = esme.run_tester(srv.config, BASE + REPLIES_FLAGS, timeout=90)
            check_eq(a["constants"], b["constants"], "constants, file against flags")
            for k, v in constants_of(REPLIES_FILE).items():
                check_eq(a["constants"][k], v, "constants.%s" % k)
            for s, what in ((a, "file"), (b, "flags")):
                rp = s["esmeload"]["replies"]
                check(rp is not None, "replies is null (%s)" % what)
                check(rp["received"] > 0, "no reply received (%s): %s" % (what, rp))
            check_eq(a["created_participants_count"], 6, "participants (file)")
            check_eq(b["created_participants_count"], 6, "participants (flags)")
            check_recorded(a["esmeload"], path, REPLIES_FILE)
            if "scenario" in b["esmeload"]:
                check(b["esmeload"]["scenario"] is None, "esmeload.scenario without --scenario")

        await r.case("file_equals_flags", equals_flags, timeout=200)

        def overrides():
            path = write("override.json", REPLIES_FILE)
            s = esme.run_tester(srv.config, BASE + ["-smi", "200", "--scenario", path,
                                                    "--org-reply-every", "0"], timeout=90)
            check_eq(s["constants"]["send_message_interval"], "200ms", "the flag's -smi")
            check_eq(s["constants"]["start_chat_interval"], "10ms", "the file's sci")
            check(s["esmeload"]["replies"] is None,
                  "replies with --org-reply-every 0 over the file: %s" % s["esmeload"]["replies"])
            check_recorded(s["esmeload"], path, REPLIES_FILE)

        await r.case("flag_overrides_file", overrides, timeout=120)

        def examples():
            for path in EXAMPLES:
                with open(path) as f:
                    doc = json.load(f)
                s = esme.run_tester(srv.config, BASE + ["--scenario", path,
                                                        "--max-participants", "2",
                                                        "--duration", "2s"], timeout=90)
                for k, v in constants_of(doc).items():
                    check_eq(s["constants"][k], v, "%s: constants.%s" % (os.path.basename(path), k))
                check(s["created_participants_count"] <= 2,
                      "%s: %d participants" % (path, s["created_participants_count"]))
                check_eq(s["esmeload"]["replies"] is not None, "replies" in doc,
                         "%s: replies in the summary" % os.path.basename(path))
                check_recorded(s["esmeload"], path, doc)

        await r.case("examples_load_and_run", examples, timeout=200)
    finally:
        srv.stop()

    def demo():
        path = write("demo.json", {"load": {"start_chat_interval": "7ms",
                                            "send_message_interval": "250ms"}})
        for extra, want in (([], {"start_chat_interval": "7ms", "send_message_interval": "250ms",
                                  "create_participant_interval": "20ms"}),
                            (["-smi", "300"], {"send_message_interval": "300ms"})):
            d = tempfile.mkdtemp(prefix="demo-", dir=TMP)
            p = subprocess.run([esme.ESMELOAD, "demo", "--scenario", path, "--quiet",
                                "--max-participants", "2", "--duration", "2s"] + extra,
                               cwd=d, stdin=subprocess.DEVNULL, capture_output=True, timeout=90)
            check_eq(p.returncode, 0, "demo with a scenario file: %s" % p.stderr.decode()[-300:])
            names = [n for n in os.listdir(d) if n.endswith("_performance_test_summary.json")]
            check_eq(len(names), 1, "one summary")
            s = esme.load_summary(os.path.join(d, names[0]))
            for k, v in want.items():
                check_eq(s["constants"][k], v, "demo %s: constants.%s" % (extra, k))

    await r.case("demo_takes_the_file", demo, timeout=200)


if __name__ == "__main__":
    esme.main("test_scenario_file", run, limit=280)
