"""docs/summary.schema.json, the contract of the run summary, and its checker.

  - the schema is a valid JSON Schema (draft 2020-12);
  - a real summary (`esmeload demo`, with thresholds, one without samples)
    matches it;
  - the checker the other tests load summaries with (esme.load_summary)
    rejects a summary with a key missing, a wrong type, an unknown key
    where the key set is fixed, a value outside an enumeration, a duration
    or time not in Go's format, and a null where none is allowed, naming
    the key each time;
  - every key src/run/output.c writes (with src/histjson.c and the
    summary part of src/run/merge.c) is in the schema and every key of
    the schema is one they write (serve's /stats, copied as it is,
    keeps its own contract), so keys that only some runs write (zc_sends,
    a threshold's why) are covered too.

Debian's /usr/bin/python3 with python3-jsonschema; ESMELOAD names the binary.
"""

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True   # keep the tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esme  # noqa: E402
from esme import check, check_eq, Fail  # noqa: E402

TMP = tempfile.mkdtemp(prefix="esme-schema-")
OUTPUT_C = os.path.join(esme.REPO, "src", "run", "output.c")
# What writes summaries: a run's, its histograms, a merge's.
SOURCES = [OUTPUT_C, os.path.join(esme.REPO, "src", "histjson.c"),
           os.path.join(esme.REPO, "src", "run", "merge.c")]
state = {}


def case_schema_valid():
    import jsonschema
    with open(esme.SUMMARY_SCHEMA) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    check_eq(schema.get("$schema"), "https://json-schema.org/draft/2020-12/schema", "$schema")
    state["schema"] = schema


def case_real_summary():
    d = os.path.join(TMP, "demo")
    os.makedirs(d)
    try:
        p = subprocess.run([esme.ESMELOAD, "demo", "--duration", "2s", "--quiet", "--out-dir", d,
                            "--threshold", "p99<60000ms", "--threshold", "errors==0"],
                           cwd=d, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise Fail("esmeload demo did not exit within 120 s")
    check_eq(p.returncode, 0, "exit code of the demo (stderr %s)" % esme.short(p.stderr.decode(errors="replace")))
    names = [n for n in os.listdir(d) if re.match(r"^\d{10}_performance_test_summary\.json$", n)]
    check_eq(len(names), 1, "one summary in %s" % os.listdir(d))
    s = esme.load_summary(os.path.join(d, names[0]))
    check(s["esmeload"]["server"] is not None and s["esmeload"]["cross_check"] is not None,
          "the demo's summary has serve's /stats and the cross-check")
    check_eq(len(s["esmeload"]["thresholds"]), 2, "thresholds in the summary")
    state["summary"] = s


def rejects(mutate, where, what):
    """The checker refuses state's summary changed by mutate, naming where."""
    doc = copy.deepcopy(state["summary"])
    mutate(doc)
    errs = esme.summary_errors(doc)
    check(errs, "the schema accepts a summary with %s" % what)
    check(any(e.startswith(where + ":") for e in errs),
          "the error names %s for %s: %s" % (where, what, errs))
    try:
        esme.check_summary_schema(doc, "the mutated summary")
    except Fail as e:
        check(where in str(e), "check_summary_schema's failure names %s: %s" % (where, e))
    else:
        raise Fail("check_summary_schema passed a summary with %s" % what)


def case_rejects():
    check_eq(esme.summary_errors(state["summary"]), [], "the unchanged summary's errors")
    rejects(lambda s: s["esmeload"].pop("delivered"), "esmeload", "esmeload.delivered missing")
    rejects(lambda s: s.pop("chats_count"), "(top)", "the Go tool's chats_count missing")
    rejects(lambda s: s.__setitem__("messages_sent", "many"), "messages_sent",
            "messages_sent a string")
    rejects(lambda s: s["esmeload"].__setitem__("lost", -1), "esmeload/lost", "a negative count")
    rejects(lambda s: s["esmeload"]["latency_ms"].pop("p99"), "esmeload/latency_ms",
            "latency_ms without p99")
    rejects(lambda s: s["esmeload"]["self_check"].__setitem__("bogus", 1), "esmeload/self_check",
            "an unknown key in self_check")
    rejects(lambda s: s["esmeload"]["errors"].__setitem__("bogus", 0), "esmeload/errors",
            "an unknown error kind")
    rejects(lambda s: s["esmeload"].__setitem__("stop_reason", "bored"), "esmeload/stop_reason",
            "a stop_reason outside its enumeration")
    rejects(lambda s: s.__setitem__("organizer_duration", "3 s"), "organizer_duration",
            "a duration not in Go's format")
    rejects(lambda s: s.__setitem__("participants_time_started", "yesterday"),
            "participants_time_started", "a time not in RFC 3339")
    rejects(lambda s: s["esmeload"].__setitem__("sent", None), "esmeload/sent", "a null count")
    rejects(lambda s: s["esmeload"]["self_check"].__setitem__("tester_limited", "no"),
            "esmeload/self_check/tester_limited", "a verdict flag that is a string")
    rejects(lambda s: s["esmeload"]["thresholds"][0].pop("passed"), "esmeload/thresholds/0",
            "a threshold without passed")
    rejects(lambda s: s["esmeload"].__setitem__("cross_check", {"sent": 1}),
            "esmeload/cross_check", "a cross_check without its keys")


def schema_keys(node, out):
    """Every property name in the schema, serve's /stats left out."""
    if isinstance(node, dict):
        for k, v in node.get("properties", {}).items():
            out.add(k)
            if k != "server":
                schema_keys(v, out)
        if "items" in node:
            schema_keys(node["items"], out)
        for alt in node.get("oneOf", []):
            schema_keys(alt, out)
        for v in node.get("$defs", {}).values():   # their names are no keys
            schema_keys(v, out)
    return out


def case_keys_match_output_c():
    src = ""
    for path in SOURCES:
        with open(path) as f:
            # merge.c's rates and series parts write no summary key
            src += f.read().split("/* ---- message rates")[0]
    written = set(re.findall(r'jw_(?:key|kv_\w+|quantiles)\(\s*&?w,\s*"([a-z0-9_]+)"', src))
    written |= set(re.findall(r'\[RE_\w+\] = "([a-z_]+)"', src))          # errors
    written |= set(re.findall(r'\{ "(p[0-9_]+|max)", [0-9.]+ \}', src))  # quantiles
    written |= set(re.findall(r'\{ "([a-z0-9_]+)", offsetof\(struct run, ', src))  # histograms
    check("self_check" in written and "p99_9" in written and "no_chat" in written,
          "keys read from output.c: %s" % sorted(written))
    keys = schema_keys(state["schema"], set())
    # the io_uring feature names (ring_feat_name) are not literals there
    features = {"ring_fd", "min_wait", "recv_bundle", "buf_inc"}
    missing = sorted(written - keys)
    extra = sorted(keys - written - features)
    check(not missing, "keys src/run/output.c writes that docs/summary.schema.json lacks: %s"
          % missing)
    check(not extra, "keys of docs/summary.schema.json that src/run/output.c does not write: %s"
          % extra)


async def cases(r):
    await r.case("schema_is_valid_2020_12", case_schema_valid)
    await r.case("schema_accepts_a_real_summary", case_real_summary,
                 needs=("schema_is_valid_2020_12",))
    await r.case("schema_rejects_broken_summaries", case_rejects,
                 needs=("schema_accepts_a_real_summary",))
    await r.case("schema_keys_match_output_c", case_keys_match_output_c,
                 needs=("schema_is_valid_2020_12",))


if __name__ == "__main__":
    import atexit
    atexit.register(shutil.rmtree, TMP, True)
    esme.main("test_summary_schema.py", cases, limit=200)
