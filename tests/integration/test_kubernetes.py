#!/usr/bin/python3
"""deploy/kubernetes: the manifests of a sharded test, checked without a
cluster (the shard and merge path they run is test_shards.py's).

manifests_parse: every document is YAML with apiVersion, kind and a name.
indexed_job: the shards' Job is Indexed, one pod per shard
  (completions = parallelism = ESMELOAD_SHARDS), never retried, its index
  from the completion-index annotation into JOB_COMPLETION_INDEX, its
  start from the ConfigMap's key into ESMELOAD_START_AT (a valid RFC 3339
  time), and those three variables are the ones esmeload run --help
  names.
flags_valid: the shards' and the merge's arguments are accepted by this
  esmeload (parsed up to --help, which ends the parse with exit 0).
volumes_wired: every mount names a volume of its pod, the config volume
  holds the ConfigMap's config.json (the Go tool's keys), both Jobs use
  the one results claim, the shards write where the merge reads, the
  shards' seccomp profile lets io_uring through, and the sysctls are
  Kubernetes' safe (namespaced) ones.
"""

import datetime
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True   # keep the tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esme  # noqa: E402
from esme import check, check_eq  # noqa: E402

DIR = os.path.join(esme.REPO, "deploy", "kubernetes")
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
                "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}
GO_KEYS = {"event_id", "organizer_api_url", "participant_api_url", "messenger_ws_url",
           "organizer_email", "organizer_password"}


def docs():
    try:
        import yaml
    except ImportError:
        raise esme.Fail("python3-yaml is not installed (build.sh installs it)")
    out = []
    for name in sorted(os.listdir(DIR)):
        if name.endswith(".yaml"):
            with open(os.path.join(DIR, name)) as f:
                out += [(name, d) for d in yaml.safe_load_all(f) if d is not None]
    return out


def one(ds, kind, name):
    got = [d for _, d in ds if d["kind"] == kind and d["metadata"]["name"] == name]
    check_eq(len(got), 1, "%s %s in deploy/kubernetes" % (kind, name))
    return got[0]


def container(job):
    cs = job["spec"]["template"]["spec"]["containers"]
    check_eq(len(cs), 1, "containers of Job %s" % job["metadata"]["name"])
    return cs[0]


def env_of(c):
    return {e["name"]: e for e in c.get("env", [])}


async def run(r):
    st = {}

    def parse():
        ds = docs()
        check(len(ds) >= 4, "documents: %d" % len(ds))
        for name, d in ds:
            for k in ("apiVersion", "kind", "metadata"):
                check(k in d, "%s: a document without %s" % (name, k))
            check(d["metadata"].get("name"), "%s: a %s without a name" % (name, d["kind"]))
        st["docs"] = ds

    await r.case("manifests_parse", parse)

    def indexed():
        ds = st["docs"]
        job = one(ds, "Job", "esmeload-shards")
        cm = one(ds, "ConfigMap", "esmeload-test")
        spec = job["spec"]
        env = env_of(container(job))
        check_eq(spec.get("completionMode"), "Indexed", "completionMode")
        n = int(env["ESMELOAD_SHARDS"]["value"])
        check_eq(spec["completions"], n, "completions against ESMELOAD_SHARDS")
        check_eq(spec["parallelism"], n, "parallelism against ESMELOAD_SHARDS")
        check_eq(spec.get("backoffLimit"), 0, "backoffLimit (a retried shard would start late)")
        check_eq(spec["template"]["spec"].get("restartPolicy"), "Never", "restartPolicy")
        idx = env["JOB_COMPLETION_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"]
        check_eq(idx, "metadata.annotations['batch.kubernetes.io/job-completion-index']",
                 "JOB_COMPLETION_INDEX's source")
        ref = env["ESMELOAD_START_AT"]["valueFrom"]["configMapKeyRef"]
        check_eq(ref["name"], cm["metadata"]["name"], "ESMELOAD_START_AT's ConfigMap")
        check(ref["key"] in cm["data"], "the ConfigMap has no key %s" % ref["key"])
        datetime.datetime.fromisoformat(cm["data"][ref["key"]].replace("Z", "+00:00"))
        p = subprocess.run([esme.ESMELOAD, "run", "--help"], capture_output=True, timeout=30)
        helptext = p.stdout.decode()
        for v in ("ESMELOAD_SHARDS", "JOB_COMPLETION_INDEX", "ESMELOAD_START_AT"):
            check(v in helptext, "esmeload run --help does not name %s" % v)

    await r.case("indexed_job", indexed, needs=["manifests_parse"])

    def flags():
        ds = st["docs"]
        for name in ("esmeload-shards", "esmeload-merge"):
            args = container(one(ds, "Job", name))["args"]
            p = subprocess.run([esme.ESMELOAD] + args + ["--help"], capture_output=True,
                               timeout=30, env=dict(os.environ, ESMELOAD_SHARDS="", ESMELOAD_SHARD=""))
            check_eq(p.returncode, 0, "esmeload %s --help: %s" % (" ".join(args),
                                                                  p.stderr.decode()[-300:]))
        bad = subprocess.run([esme.ESMELOAD, "run", "--shard", "5/5", "--help"],
                             capture_output=True, timeout=30)
        check_eq(bad.returncode, 2, "a bad flag before --help still fails the parse")

    await r.case("flags_valid", flags, needs=["manifests_parse"])

    def volumes():
        ds = st["docs"]
        cm = one(ds, "ConfigMap", "esmeload-test")
        claim = one(ds, "PersistentVolumeClaim", "esmeload-results")["metadata"]["name"]
        where = {}
        for name in ("esmeload-shards", "esmeload-merge"):
            pod = one(ds, "Job", name)["spec"]["template"]["spec"]
            c = container(one(ds, "Job", name))
            vols = {v["name"]: v for v in pod["volumes"]}
            for m in c["volumeMounts"]:
                check(m["name"] in vols, "Job %s mounts %s, which it lacks" % (name, m["name"]))
                v = vols[m["name"]]
                if "persistentVolumeClaim" in v:
                    check_eq(v["persistentVolumeClaim"]["claimName"], claim, "Job %s's claim" % name)
                    where[name] = m["mountPath"]
                if "configMap" in v:
                    check_eq(v["configMap"]["name"], cm["metadata"]["name"], "config volume")
                    for it in v["configMap"].get("items", []):
                        check(it["key"] in cm["data"], "ConfigMap key %s" % it["key"])
                    st["config_dir"] = m["mountPath"]
            if name == "esmeload-shards":
                prof = pod.get("securityContext", {}).get("seccompProfile", {}).get("type")
                check(prof in ("Unconfined", "Localhost"),
                      "the shards' seccomp profile %s (RuntimeDefault refuses io_uring)" % prof)
            for s in pod.get("securityContext", {}).get("sysctls", []):
                check(s["name"] in SAFE_SYSCTLS, "Job %s sets %s, not a safe sysctl" % (name, s["name"]))
            st[name] = c["args"]
        cfg = json.loads(cm["data"]["config.json"])
        check(GO_KEYS <= set(cfg), "config.json lacks %s" % sorted(GO_KEYS - set(cfg)))
        sa = st["esmeload-shards"]
        check_eq(sa[sa.index("--config") + 1], st["config_dir"] + "/config.json", "--config")
        out = sa[sa.index("--out-dir") + 1]
        check(out.startswith(where["esmeload-shards"]), "shards write to %s, off the results volume" % out)
        ma = st["esmeload-merge"]
        check_eq(ma[-1], out, "what the merge reads against what the shards write")
        check(ma[ma.index("-o") + 1].startswith(where["esmeload-merge"]), "the merge's -o")

    await r.case("volumes_wired", volumes, needs=["manifests_parse"])


if __name__ == "__main__":
    esme.main("test_kubernetes", run, limit=120)
