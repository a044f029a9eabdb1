"""Drop-in behaviour of `esmeload run` that scripts written for the Go tool notice.

- No config.json: a command line with any argument stops with exit code 2
  naming ./config.json (the Go tool stops too); the demo against an embedded
  serve runs on a bare `esmeload` or `esmeload demo [flags]`, says so on
  stderr even with --quiet and records "embedded_serve": true.
- --max-participants N: without --duration the run ends when each of the N
  has its chat or failed; with --duration the N are held until then.
- The soft RLIMIT_NOFILE is raised to the hard one at start, so a default
  run under `ulimit -Sn 1024` goes past 1,000 participants.
- File names: the Unix second the files are written in (the end of the run,
  as the Go tool names them), the same prefix for all three.
- The last progress line is printed once; `esmeload --help` lists the
  commands.

Debian's /usr/bin/python3; ESMELOAD names the binary (default build/esmeload).
"""

import json
import os
import re
import resource
import subprocess
import tempfile
import time

import esme
from esme import check, check_eq, Fail, Skip

PROGRESS = re.compile(r"^\s*\d+\.\ds  participants \d+  chats \d+  to chat p99 (\d+ms|-)  sent/s ")
NAME = re.compile(r"^(\d{10})_performance_test_(summary|message_rates|timeseries)\.(json|jsonl)$")


# The embedded serve's directory goes under $TMPDIR: this script's own, so
# that what it finds left over is its own (another suite may be running a
# demo at the same time).
TMPDIR = tempfile.mkdtemp(prefix="esme-dropin-tmp-")


def run_tool(args, cwd, timeout=60, preexec_fn=None):
    """Runs esmeload to its end within timeout (else kills it and fails)."""
    t0 = time.time()
    try:
        p = subprocess.run([esme.ESMELOAD] + args, cwd=cwd, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout, preexec_fn=preexec_fn,
                           env=dict(os.environ, TMPDIR=TMPDIR))
    except subprocess.TimeoutExpired:
        raise Fail("esmeload %s did not end within %d s" % (" ".join(args), timeout))
    return (p.returncode, p.stdout.decode(errors="replace"),
            p.stderr.decode(errors="replace"), t0, time.time())


def files(d):
    """{kind: (prefix, path)} of the run's files in d; fails on duplicates."""
    out = {}
    for n in os.listdir(d):
        m = NAME.match(n)
        if m:
            check(m.group(2) not in out, "two %s files in %s: %s" % (m.group(2), d, os.listdir(d)))
            out[m.group(2)] = (int(m.group(1)), os.path.join(d, n))
    return out


def summary(d):
    f = files(d)
    check("summary" in f, "a summary in %s: %s" % (d, os.listdir(d)))
    return esme.load_summary(f["summary"][1])


def with_config(srv):
    d = tempfile.mkdtemp(prefix="esme-dropin-")
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(srv.config, f)
    return d


def no_serve_left():
    left = subprocess.run(["pgrep", "-f", TMPDIR + "/esmeload-serve-"], capture_output=True)
    check(left.returncode != 0, "embedded serve still running: %s" % left.stdout)


def go_duration_s(s):
    """Seconds of a Go duration string such as 1m2.5s or 830ms."""
    total = 0.0
    for num, unit in re.findall(r"([\d.]+)(h|m(?!s)|s|ms|µs|us|ns)", s):
        total += float(num) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "µs": 1e-6,
                               "us": 1e-6, "ns": 1e-9}[unit]
    return total


async def run(r):
    def no_config_flags():
        d = tempfile.mkdtemp(prefix="esme-dropin-")
        for args in (["-sci", "10", "-cpi", "20", "-smi", "100", "--duration", "2s"],
                     ["--quiet"], ["run", "--duration", "1s"], ["-logWs"],
                     ["--max-participants", "3"]):
            rc, out, err, t0, t1 = run_tool(args, d, timeout=10)
            check_eq(rc, 2, "exit status of %s without config.json (stderr %r)" % (args, err))
            lines = [l for l in err.splitlines() if l.strip()]
            check_eq(len(lines), 1, "one line on stderr for %s: %r" % (args, err))
            check(lines[0].startswith("esmeload: ./config.json: No such file"),
                  "names the missing file: %r" % lines[0])
            check("esmeload demo" in lines[0], "points at the demo: %r" % lines[0])
            check_eq(out, "", "nothing on stdout")
            check(t1 - t0 < 5, "refused at once (%.1f s)" % (t1 - t0))
        check_eq(os.listdir(d), [], "no files written")
        no_serve_left()

    def demo_quiet():
        d = tempfile.mkdtemp(prefix="esme-dropin-")
        rc, out, err, t0, t1 = run_tool(["demo", "--duration", "2s", "--quiet"], d, timeout=40)
        check_eq(rc, 0, "exit status (stderr %r)" % err[-300:])
        lines = [l for l in err.splitlines() if l.strip()]
        check_eq(len(lines), 1, "--quiet: only the demo line on stderr: %r" % err)
        check(lines[0].startswith("esmeload: demo: ") and "serve" in lines[0] and
              "loopback" in lines[0], "the demo says what it runs against: %r" % lines[0])
        s = summary(d)
        check(s["esmeload"]["embedded_serve"] is True, "summary: embedded_serve true")
        check(s["messages_sent"] > 0, "the demo ran: %d sent" % s["messages_sent"])
        check_eq(len(files(d)), 3, "three files")
        no_serve_left()
        # An explicit demo does not read a config.json that is there.
        with open(os.path.join(d, "config.json"), "w") as f:
            f.write('{"event_id": "not even valid"}')
        rc, out, err, t0, t1 = run_tool(["demo", "--duration", "1s", "--quiet"], d, timeout=40)
        check_eq(rc, 0, "demo beside a broken config.json (stderr %r)" % err[-300:])
        check("./config.json is not read" in err, "says the config is not read: %r" % err)
        # ... and does not take one either.
        rc, out, err, t0, t1 = run_tool(["demo", "--config", "config.json"], d, timeout=10)
        check_eq(rc, 2, "demo with --config (stderr %r)" % err)
        no_serve_left()

    def bare_demo():
        # README's quick start: `./build.sh demo` runs `esmeload demo`, and a
        # bare `esmeload` in a directory without config.json is the same demo.
        d = tempfile.mkdtemp(prefix="esme-dropin-")
        rc, out, err, t0, t1 = run_tool([], d, timeout=60)
        check_eq(rc, 0, "exit status (stderr %r)" % err[-300:])
        check(err.startswith("esmeload: demo: "), "says it is a demo: %r" % err[:200])
        s = summary(d)
        check(s["esmeload"]["embedded_serve"] is True, "summary: embedded_serve true")
        check_eq(s["esmeload"]["stop_reason"], "duration", "stop_reason")
        check(9 <= go_duration_s(s["organizer_duration"]) < 20,
              "a 10 s demo: %s" % s["organizer_duration"])
        no_serve_left()

    def real_run_not_embedded():
        srv = esme.Server("--quiet", name="real").start()
        d = with_config(srv)
        rc, out, err, t0, t1 = run_tool(["-sci", "10", "-cpi", "50", "-smi", "100",
                                         "--duration", "1s", "--quiet"], d, timeout=30)
        check_eq(rc, 0, "exit status (stderr %r)" % err[-300:])
        check_eq(err, "", "--quiet and a config: nothing on stderr")
        check(summary(d)["esmeload"]["embedded_serve"] is False, "embedded_serve false")
        srv.kill()

    def help_lists_commands():
        d = tempfile.mkdtemp(prefix="esme-dropin-")
        for form in ("--help", "-h", "-help", "help"):
            rc, out, err, t0, t1 = run_tool([form], d, timeout=10)
            check_eq(rc, 0, "esmeload %s exit status" % form)
            for cmd in ("esmeload serve", "esmeload report", "esmeload compare",
                        "esmeload demo", "esmeload [run]"):
                check(cmd in out, "esmeload %s lists %r: %r" % (form, cmd, out[:400]))
            check("`esmeload [run options]` is `esmeload run [run options]`" in out,
                  "says the flags alone are run: %r" % out[:600])
            check(not out.startswith("usage: esmeload run"), "not run's help")
        rc, out, err, t0, t1 = run_tool(["run", "--help"], d, timeout=10)
        check_eq(rc, 0, "esmeload run --help exit status")
        check(out.startswith("usage: esmeload run"), "run's help: %r" % out[:100])
        check("-sci" in out and "--max-participants" in out, "run's flags listed")
        check_eq(os.listdir(d), [], "help writes no files")

    def last_progress_once():
        # Not a terminal: a line every 5 s, and the final one at the end. A
        # 5 s run reaches its end in the same tick as its first periodic
        # line: only the final line may be printed.
        srv = esme.Server("--quiet", name="progress").start()
        d = with_config(srv)
        rc, out, err, t0, t1 = run_tool(["-sci", "10", "-cpi", "50", "-smi", "100",
                                         "--duration", "5s"], d, timeout=40)
        check_eq(rc, 0, "exit status (stderr %r)" % err[-300:])
        prog = [l for l in err.splitlines() if PROGRESS.match(l)]
        check_eq(len(prog), 1, "progress lines of a 5 s run (%r)" % prog)
        # The one printed is the final one, after the drain.
        check(float(prog[0].split("s")[0]) >= 5.0, "the final line: %r" % prog[0])
        srv.kill()

    def max_participants_ends():
        srv = esme.Server("--quiet", name="maxp").start()
        d = with_config(srv)
        rc, out, err, t0, t1 = run_tool(["-sci", "1", "-cpi", "5", "-smi", "100",
                                         "--max-participants", "20", "--quiet"], d, timeout=30)
        check_eq(rc, 0, "exit status (stderr %r)" % err[-300:])
        s = summary(d)
        e = s["esmeload"]
        check_eq(e["stop_reason"], "max_participants", "stop_reason")
        check_eq(s["created_participants_count"], 20, "created")
        check_eq(s["chats_count"], 20, "each of the 20 has its chat")
        check_eq(e["participants_failed"], 0, "participants_failed")
        check_eq(sum(e["errors"].values()), 0, "no errors")
        srv.kill()

    def max_participants_failed():
        # No chat is ever started (the first start_chat is due after
        # 1000 s): every participant fails after its 10 get_chats, and the
        # run ends once all 5 have, since --max-errors lets it go on.
        srv = esme.Server("--quiet", name="maxpfail").start()
        d = with_config(srv)
        rc, out, err, t0, t1 = run_tool(["-sci", "1000000", "-cpi", "5", "-smi", "30",
                                         "--max-participants", "5", "--max-errors", "100",
                                         "--quiet"], d, timeout=30)
        check_eq(rc, 0, "exit status (stderr %r)" % err[-300:])
        s = summary(d)
        e = s["esmeload"]
        check_eq(e["stop_reason"], "max_participants", "stop_reason")
        check_eq(s["chats_count"], 0, "no chats")
        check_eq(e["participants_failed"], 5, "participants_failed")
        check_eq(e["errors"]["no_chat"], 5, "errors.no_chat")
        check("first error: waiting for chat" in err, "first error printed: %r" % err)
        srv.kill()

    def max_participants_holds():
        srv = esme.Server("--quiet", name="hold").start()
        d = with_config(srv)
        rc, out, err, t0, t1 = run_tool(["-sci", "1", "-cpi", "5", "-smi", "100",
                                         "--max-participants", "10", "--duration", "4s",
                                         "--quiet"], d, timeout=40)
        check_eq(rc, 0, "exit status (stderr %r)" % err[-300:])
        s = summary(d)
        check_eq(s["esmeload"]["stop_reason"], "duration", "held until the duration")
        check_eq(s["created_participants_count"], 10, "arrivals stopped at 10")
        check_eq(s["chats_count"], 10, "chats")
        check(t1 - t0 >= 4.0, "ran its 4 s (%.1f s)" % (t1 - t0))
        with open(files(d)["timeseries"][1]) as f:
            lines = [json.loads(l) for l in f if l.strip()]
        late = lines[2:]
        check(late and all(l["participants_created"] == 10 for l in late),
              "10 participants held: %r" % [l["participants_created"] for l in lines])
        check(sum(l["sent"] for l in lines[-2:]) > 0, "still sending at the end")
        srv.kill()

    def nofile_raised():
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < 4000:
            raise Skip("hard RLIMIT_NOFILE %d leaves no room above 1024" % hard)
        want = min(hard if hard != resource.RLIM_INFINITY else 1 << 20, 1 << 20)

        def low():
            resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))

        srv = esme.Server("--quiet", name="nofile").start()
        d = with_config(srv)
        # Default --max-conns, started with the soft limit at 1024: 1,500
        # participants (plus REST and organizer connections) need more.
        rc, out, err, t0, t1 = run_tool(["-sci", "1", "-cpi", "1", "-smi", "1000",
                                         "--max-participants", "1500", "--quiet"], d,
                                        timeout=90, preexec_fn=low)
        check_eq(rc, 0, "exit status under ulimit -Sn 1024 (stderr %r)" % err[-300:])
        s = summary(d)
        e = s["esmeload"]
        check_eq(e["max_conns"], want, "max_conns is the hard limit")
        check_eq(s["created_participants_count"], 1500, "created")
        check_eq(s["chats_count"], 1500, "chats")
        check(e["connected"] >= 1500, "connected %d" % e["connected"])
        srv.kill()
        # serve too, through the same entry point.
        p = subprocess.Popen([esme.ESMELOAD, "serve", "--host", "127.0.0.1",
                              "--organizer-port", "0", "--participant-port", "0",
                              "--messenger-port", "0", "--quiet"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, preexec_fn=low)
        try:
            deadline = time.monotonic() + 10
            got = None
            while time.monotonic() < deadline and p.poll() is None:
                with open("/proc/%d/limits" % p.pid) as f:
                    for line in f:
                        if line.startswith("Max open files"):
                            got = line.split()[3:5]
                if got and got[0] != "1024":
                    break
                time.sleep(0.05)
            check(got is not None, "read serve's limits")
            check_eq(got[0], got[1], "serve's soft descriptor limit is its hard one")
        finally:
            p.kill()
            p.wait()

    def names_at_end():
        srv = esme.Server("--quiet", name="names").start()
        d = with_config(srv)
        rc, out, err, t0, t1 = run_tool(["-sci", "10", "-cpi", "50", "-smi", "100",
                                         "--duration", "2500ms", "--quiet"], d, timeout=30)
        check_eq(rc, 0, "exit status (stderr %r)" % err[-300:])
        f = files(d)
        check_eq(sorted(f), ["message_rates", "summary", "timeseries"], "three files")
        prefixes = {k: v[0] for k, v in f.items()}
        check_eq(len(set(prefixes.values())), 1, "one prefix for all three: %r" % prefixes)
        p = prefixes["summary"]
        # The run took at least 2.5 s: its end is two seconds past its start.
        check(p >= int(t0) + 2, "prefix %d is the end, not the start %d" % (p, int(t0)))
        check(p <= int(t1), "prefix %d is not after the exit %d" % (p, int(t1)))
        s = summary(d)
        end_s = go_duration_s(s["organizer_duration"])
        check(end_s >= 2.5, "organizer_duration %s" % s["organizer_duration"])
        with open(f["timeseries"][1]) as fh:
            lines = [json.loads(l) for l in fh if l.strip()]
        check(len(lines) >= 2, "the renamed series has its lines: %d" % len(lines))
        check_eq(sum(l["sent"] for l in lines), s["messages_sent"],
                 "the series' sent adds up to messages_sent")
        leftovers = [n for n in os.listdir(d) if ".tmp" in n]
        check(not leftovers, "temporary files left: %s" % leftovers)
        srv.kill()

    await r.case("dropin_no_config_with_flags_exits_2", no_config_flags)
    await r.case("dropin_demo_says_so_even_quiet", demo_quiet)
    await r.case("dropin_bare_esmeload_is_the_demo", bare_demo)
    await r.case("dropin_real_run_not_embedded", real_run_not_embedded)
    await r.case("dropin_help_lists_commands", help_lists_commands)
    await r.case("dropin_last_progress_line_once", last_progress_once)
    await r.case("dropin_max_participants_ends_run", max_participants_ends)
    await r.case("dropin_max_participants_ends_with_failures", max_participants_failed)
    await r.case("dropin_max_participants_holds_until_duration", max_participants_holds)
    await r.case("dropin_nofile_soft_limit_raised", nofile_raised)
    await r.case("dropin_file_names_at_end_one_prefix", names_at_end)


if __name__ == "__main__":
    esme.main("test_dropin", run, limit=280)
