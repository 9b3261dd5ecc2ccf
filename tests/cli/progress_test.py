#!/usr/bin/python3
"""The progress line of stkit convert, scan and audit (issue 12): drawn on stderr when stderr is a
terminal (run under a pseudo-terminal with `script -qc`), absent when it is not (a pipe), and
silenced by --quiet. The command's own output is the same either way.

Environment: STKIT_BIN, STKIT_SCRATCH. Run with /usr/bin/python3 (torch).
"""
import os
import re
import shlex
import shutil
import subprocess
import sys

import torch

stkit = os.environ["STKIT_BIN"]
work = os.path.join(os.environ["STKIT_SCRATCH"], "progress")
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def on_terminal(arguments):
    """Runs stkit under a pseudo-terminal; stdout goes to a file, so what the terminal shows is stderr."""
    out = os.path.join(work, "stdout.txt")
    command = " ".join(shlex.quote(a) for a in [stkit] + arguments) + " > " + shlex.quote(out)
    shown = subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True, text=True, cwd=work)
    with open(out) as f:
        return shown.returncode, shown.stdout, f.read()


def piped(arguments):
    done = subprocess.run([stkit] + arguments, capture_output=True, text=True, cwd=work)
    return done.returncode, done.stderr, done.stdout


# Inputs: a 64 MB checkpoint, a folder of files, two repositories.
torch.save({"w%d" % i: torch.zeros(1024, 1024) for i in range(16)}, os.path.join(work, "model.pt"))
os.makedirs(os.path.join(work, "tree"))
for i in range(300):
    with open(os.path.join(work, "tree", "f%03d.txt" % i), "w") as f:
        f.write("file %d\n" % i)
for repo in ("a", "b"):
    os.makedirs(os.path.join(work, "repos", repo))
    torch.save({"w": torch.zeros(2)}, os.path.join(work, "repos", repo, "pytorch_model.bin"))

BAR = re.compile(r"\[[#-]{24}\] ")
cases = {
    "convert": (["convert", "model.pt", "-o", "model.safetensors", "--force"], "MiB"),
    "scan": (["scan", "tree"], "files"),
    "audit": (["audit", "repos"], "repositories"),
}
for name, (arguments, unit) in cases.items():
    code, terminal, stdout = on_terminal(arguments)
    check(code in (0, 1), f"{name}: exit {code} under a terminal: {terminal[-500:]}")
    check(BAR.search(terminal) is not None and unit in terminal,
          f"{name}: no progress line on the terminal: {terminal[-500:]!r}")
    check(BAR.search(stdout) is None, f"{name}: the progress line went to stdout")
    code_quiet, terminal_quiet, stdout_quiet = on_terminal(arguments + ["--quiet"])
    check(BAR.search(terminal_quiet) is None, f"{name}: --quiet still drew: {terminal_quiet[-300:]!r}")
    code_piped, stderr, stdout_piped = piped(arguments)
    check(code_piped == code, f"{name}: exit {code_piped} piped, {code} on a terminal")
    check(BAR.search(stderr) is None and "\r" not in stderr, f"{name}: progress drawn into a pipe: {stderr[-300:]!r}")
    check(stdout_piped.strip().splitlines()[-1:] == stdout.strip().splitlines()[-1:],
          f"{name}: output differs with and without a terminal")

for f in failures:
    print("FAIL:", f)
print("%d failure(s)" % len(failures))
sys.exit(1 if failures else 0)
