"""esmeload(1), the bash completion and the version, against the binary.

  - version: `esmeload --version` and `esmeload version` print
    "esmeload <VERSION>", the first line of the file VERSION; the man
    page's .TH and debian/changelog's top entry carry the same version.
  - options: every option of each command's --help is in that command's
    section of docs/esmeload.1 (ESMELOAD RUN, ESMELOAD SERVE, ...), and
    every option of a section is in its command's --help; `esmeload demo`
    prints run's text and is documented as taking run's options; every
    command of the top-level usage has a section and a SYNOPSIS line.
  - rendering: groff -man -ww and man --warnings (as lintian runs it) give
    no warning.
  - completion: docs/gen-bash-completion.sh, run on the binary, gives each
    command exactly the options of its --help, and bash, with the file
    sourced, completes commands, options and option arguments.

An option line of a --help text starts with 2 to 4 spaces and a dash; its
option column ends at the first run of two spaces and has at most four
words (a longer one is a sentence that begins with an option). In the man
page the options of a section are the tags of its .TP paragraphs.

Debian's /usr/bin/python3; ESMELOAD names the binary (default build/esmeload).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True   # keep the tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esme  # noqa: E402
from esme import check, check_eq, Fail, Skip  # noqa: E402

REPO = esme.REPO
MAN = os.path.join(REPO, "docs", "esmeload.1")
GEN = os.path.join(REPO, "docs", "gen-bash-completion.sh")
TMP = tempfile.mkdtemp(prefix="esme-manpage-")
OPT = re.compile(r"(?:^|(?<=[\s,]))(--?[A-Za-z][\w-]*)")
COMMANDS_WITH_HELP = ("run", "demo", "serve", "report", "compare")


def sh(args, timeout=30, env=None):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


def help_text(cmd):
    rc, out, err = sh([esme.ESMELOAD, cmd, "--help"])
    check_eq(rc, 0, "exit code of esmeload %s --help (stderr %r)" % (cmd, err[:200]))
    return out


def help_options(text):
    """The options of a --help text, in order, without an =value."""
    opts = []
    for line in text.splitlines():
        if not re.match(r"^ {2,4}-", line):
            continue
        head = re.split(r" {2,}", line.strip())[0]
        if len(re.split(r"[ ,]+", head)) > 4:
            continue  # a sentence that begins with an option
        for o in OPT.findall(head):
            if o not in opts:
                opts.append(o)
    return opts


def roff_plain(s):
    """A roff line as text: fonts and quotes out, escapes to characters."""
    s = re.sub(r"^\.[A-Z]{1,2}\s+", "", s)
    s = re.sub(r"\\f[BIRP]", "", s)
    s = s.replace("\\-", "-").replace("\\(aq", "'").replace("\\&", "")
    return s.replace('"', " ")


def man_sections():
    """{section title: [lines]} of the man page's source."""
    secs, cur = {}, None
    with open(MAN, encoding="utf-8") as f:
        for line in f.read().splitlines():
            m = re.match(r'^\.SH\s+"?(.*?)"?\s*$', line)
            if m:
                cur = roff_plain(m.group(1)).strip()
                secs[cur] = []
            elif cur is not None:
                secs[cur].append(line)
    return secs


def plain(lines):
    """A section's source lines as one line of text."""
    return re.sub(r"\s+", " ", " ".join(roff_plain(l) for l in lines))


def man_options(lines):
    """The options in the tags of a section's .TP paragraphs."""
    opts = []
    for i, line in enumerate(lines):
        if line.startswith(".TP") and i + 1 < len(lines):
            for o in OPT.findall(roff_plain(lines[i + 1])):
                o = o.split("=")[0]
                if o not in opts:
                    opts.append(o)
    return opts


def version():
    with open(os.path.join(REPO, "VERSION")) as f:
        v = f.readline().strip()
    check(re.match(r"^\d+\.\d+(\.\d+)?$", v), "VERSION's first line is a version: %r" % v)
    return v


def case_version():
    v = version()
    for args in (["--version"], ["version"]):
        rc, out, err = sh([esme.ESMELOAD] + args)
        check_eq(rc, 0, "exit code of esmeload %s" % args[0])
        check_eq(out, "esmeload %s\n" % v, "esmeload %s prints the VERSION file's version" % args[0])
    rc, out, _ = sh([esme.ESMELOAD, "--help"])
    check("--version" in out, "the top-level usage names --version")
    with open(MAN, encoding="utf-8") as f:
        th = [l for l in f.read().splitlines() if l.startswith(".TH ")]
    check_eq(len(th), 1, ".TH lines in esmeload.1")
    fields = re.findall(r'"[^"]*"|\S+', th[0])
    check(len(fields) >= 5, "esmeload.1's .TH has name, section, date, source: %r" % th[0])
    check_eq(fields[4].strip('"'), "esmeload %s" % v,
             "esmeload.1's .TH version (docs/esmeload.1 against VERSION)")
    with open(os.path.join(REPO, "debian", "changelog")) as f:
        top = f.readline()
    m = re.match(r"^esmeload \(([^)]+)\) ", top)
    check(m, "debian/changelog's first line names esmeload (VERSION): %r" % top)
    check_eq(m.group(1), v, "debian/changelog's top version against VERSION")


def case_options():
    secs = man_sections()
    problems = []
    for cmd in ("run", "serve", "report", "compare"):
        title = "ESMELOAD %s" % cmd.upper()
        if title not in secs:
            problems.append("docs/esmeload.1 has no section %s" % title)
            continue
        in_help = help_options(help_text(cmd))
        in_man = man_options(secs[title])
        check(in_help, "esmeload %s --help lists options" % cmd)
        for o in in_help:
            if o not in in_man:
                problems.append("docs/esmeload.1 section %s lacks %s (in esmeload %s --help)"
                                % (title, o, cmd))
        for o in in_man:
            if o not in in_help:
                problems.append("docs/esmeload.1 section %s has %s, which esmeload %s --help "
                                "does not list" % (title, o, cmd))
    if problems:
        raise Fail("; ".join(problems))


def case_demo_is_run():
    check_eq(help_text("demo"), help_text("run"), "esmeload demo --help against run's")
    demo = man_sections().get("ESMELOAD DEMO", [])
    check(demo, "docs/esmeload.1 has a section ESMELOAD DEMO")
    check("options are those of esmeload run" in plain(demo),
          "the DEMO section says it takes esmeload run's options")
    check(not man_options(demo),
          "the DEMO section lists no options of its own (they are run's)")


def case_commands():
    rc, out, _ = sh([esme.ESMELOAD, "--help"])
    usage = out.split("\n\n")[0]
    cmds = []
    for c in re.findall(r"esmeload \[?([a-z]+)", usage):
        if c not in cmds:
            cmds.append(c)
    check("serve" in cmds and "report" in cmds, "commands in the usage: %s" % cmds)
    secs = man_sections()
    titles = " ".join(secs)
    syn = plain(secs.get("SYNOPSIS", []))
    for c in cmds:
        check(("ESMELOAD %s" % c.upper()) in titles,
              "docs/esmeload.1 has a section for the command %s (sections: %s)" % (c, list(secs)))
        check(re.search(r"\b%s\b" % c, syn) or (c == "version" and "--version" in syn),
              "docs/esmeload.1's SYNOPSIS names %s" % c)
    for s in ("NAME", "SYNOPSIS", "DESCRIPTION", "FILES", "EXIT STATUS", "EXAMPLES", "SEE ALSO"):
        check(s in secs, "docs/esmeload.1 has the section %s" % s)
    for f in ("config.json", "_performance_test_summary.json",
              "_performance_test_message_rates.json", "_performance_test_timeseries.jsonl"):
        check(f in plain(secs["FILES"]).replace(" _", "_"), "FILES names %s" % f)
    for code in ("0", "1", "2", "99"):
        check((".B %s" % code) in secs["EXIT STATUS"], "EXIT STATUS gives code %s" % code)


def case_renders():
    if not shutil.which("groff"):
        raise Skip("groff is not installed (Debian: groff-base)")
    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80")
    rc, out, err = sh(["groff", "-man", "-Tutf8", "-ww", "-z", MAN], env=env)
    check_eq((rc, err), (0, ""), "groff -man -Tutf8 -ww docs/esmeload.1: exit code and warnings")
    if shutil.which("man"):
        rc, out, err = sh(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", MAN], env=env)
        check_eq((rc, err), (0, ""), "man --warnings -l docs/esmeload.1: exit code and warnings")
    rc, out, err = sh(["groff", "-man", "-Tutf8", MAN], env=env)
    text = re.sub(r".\x08", "", out)
    check("--max-participants" in text and "--stall-for" in text,
          "the rendered page shows the options")


def completion_file():
    path = os.path.join(TMP, "esmeload.bash-completion")
    rc, out, err = sh(["sh", GEN, esme.ESMELOAD])
    check_eq((rc, err), (0, ""), "docs/gen-bash-completion.sh: exit code and stderr")
    with open(path, "w") as f:
        f.write(out)
    return path


def complete(path, words):
    """What bash completes for the command line `words` (the last is the
    word under the cursor)."""
    script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); '
              '_esmeload; printf "%s\\n" "${COMPREPLY[@]}"')
    rc, out, err = sh(["bash", "-c", script, "bash", path] + words, env=dict(os.environ, LC_ALL="C"))
    check_eq((rc, err), (0, ""), "bash completion of %r: exit code and stderr" % words)
    return [l for l in out.splitlines() if l]


def case_completion():
    path = completion_file()
    with open(path) as f:
        body = f.read()
    problems = []
    for cmd in COMMANDS_WITH_HELP:
        m = re.search(r"^\t%s\) opts=\"([^\"]*)\"" % cmd, body, re.M)
        if not m:
            problems.append("the completion has no options for %s" % cmd)
            continue
        got = [o.split("=")[0] for o in m.group(1).split()]
        want = help_options(help_text(cmd))
        for o in want:
            if o not in got:
                problems.append("the completion of %s lacks %s (in its --help)" % (cmd, o))
        for o in got:
            if o not in want:
                problems.append("the completion of %s offers %s, not in its --help" % (cmd, o))
    if problems:
        raise Fail("; ".join(problems))
    check_eq(complete(path, ["esmeload", "se"]), ["serve"], "esmeload se<TAB>")
    check_eq(sorted(complete(path, ["esmeload", "re"])), ["report"], "esmeload re<TAB>")
    check_eq(sorted(complete(path, ["esmeload", "--v"])), ["--version"], "esmeload --v<TAB>")
    check_eq(sorted(complete(path, ["esmeload", "serve", "--out-"])),
             ["--out-limit", "--out-memory"], "esmeload serve --out-<TAB>")
    check_eq(complete(path, ["esmeload", "-sci", "10", "--threa"]), ["--threads"],
             "esmeload -sci 10 --threa<TAB> (flags first: run's options)")
    check_eq(complete(path, ["esmeload", "demo", "--defer"]), ["--defer-taskrun=false"],
             "esmeload demo --defer<TAB>")
    check_eq(sorted(complete(path, ["esmeload", "serve", "--slow", ""])), ["close", "drop"],
             "esmeload serve --slow <TAB>")
    check_eq(complete(path, ["esmeload", "run", "--threads", ""]), [],
             "esmeload run --threads <TAB> (a number: nothing offered)")
    os.makedirs(os.path.join(TMP, "conf.d"))
    open(os.path.join(TMP, "config-x.json"), "w").close()
    check_eq(complete(path, ["esmeload", "run", "--config", os.path.join(TMP, "config-")]),
             [os.path.join(TMP, "config-x.json")], "esmeload run --config FILE<TAB>")
    check_eq(complete(path, ["esmeload", "--out-dir", os.path.join(TMP, "co")]),
             [os.path.join(TMP, "conf.d")], "esmeload --out-dir DIR<TAB>: directories only")


async def cases(r):
    await r.case("version_agrees", case_version)
    await r.case("manpage_options_match_help", case_options)
    await r.case("manpage_demo_takes_run_options", case_demo_is_run)
    await r.case("manpage_commands_and_sections", case_commands)
    await r.case("manpage_renders_without_warnings", case_renders)
    await r.case("bash_completion_matches_help", case_completion)


if __name__ == "__main__":
    import atexit
    atexit.register(shutil.rmtree, TMP, True)
    esme.main("test_manpage.py", cases, limit=120)
