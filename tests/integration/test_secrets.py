"""Secrets stay out of every output.

The organizer password, the JWT secret and every token the servers hand out
must never appear in esmeload's stdout, stderr (with -logWs too), its three
files, or a report made from them; nor in serve's /stats.
"""

import glob
import json
import os
import re
import subprocess
import tempfile

import esme
from esme import check

PASSWORD = "pw-Zq8V3kLmN7-secret"


async def run(r):
    srv = esme.Server("--quiet", "--organizer",
                      "boss@agency.example:%s:2:1" % PASSWORD, name="secrets").start()
    d = tempfile.mkdtemp(prefix="esme-secrets-")
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(srv.config, f)

    def no_secrets():
        check(srv.config["organizer_password"] == PASSWORD, "serve seeded the password")
        p = subprocess.run([esme.ESMELOAD, "-sci", "10", "-cpi", "20", "-smi", "100",
                            "-logWs", "--duration", "2s"], cwd=d,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        check(p.returncode == 0, "exit status %d: %r" % (p.returncode, p.stderr[-300:]))
        rep = subprocess.run([esme.ESMELOAD, "report", "-o", os.path.join(d, "r.html"), d],
                             stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        check(rep.returncode == 0, "report: %r" % rep.stderr[-300:])
        st, stats = esme.curl("GET", srv.msg + "/stats")
        outputs = {
            "stdout": p.stdout.decode(errors="replace"),
            "stderr (-logWs)": p.stderr.decode(errors="replace"),
            "report": open(os.path.join(d, "r.html")).read(),
            "/stats": json.dumps(stats),
        }
        for f in glob.glob(os.path.join(d, "*_performance_test_*")):
            outputs[os.path.basename(f)] = open(f).read()
        check(len(outputs) == 7, "all outputs found: %s" % sorted(outputs))
        # Tokens this serve issues: a fresh one shows their shape, and the
        # run's own tokens are checked by shape (any JWT at all).
        tok, _ = srv.org_token(email="boss@agency.example", password=PASSWORD)
        jwt = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
        check(jwt.search(tok), "the token pattern matches a real token")
        check("Authorization" in outputs["stderr (-logWs)"],
              "-logWs did log the authorization frames (redacted)")
        for name, text in outputs.items():
            check(PASSWORD not in text, "the organizer password appears in %s" % name)
            check(esme.JWT_SECRET not in text, "the JWT secret appears in %s" % name)
            m = jwt.search(text)
            check(not m, "a token appears in %s: %s..." % (name, m.group(0)[:20] if m else ""))

    await r.case("secrets_never_in_outputs", no_secrets, timeout=90)
    srv.kill()


if __name__ == "__main__":
    esme.main("test_secrets", run)
