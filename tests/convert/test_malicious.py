"""Checkpoints whose pickle runs a command when loaded (posix.system, builtins.exec, STACK_GLOBAL
with memoised names, a legacy file with a REDUCE payload, .npy/.npz object arrays, TorchScript):
stkit must refuse each with exit 1, name the offending global, leave no output, and never run it."""
import json
import os
import subprocess
import sys

import fixtures
from common import check, finish, scratch, stkit

work = scratch("malicious")
marker = os.path.join(work, "MARKER")

# The payloads are real: Python's unpickler runs them (in a child process).
for label in fixtures.malicious_pickles(marker):
    if label == "nested_in_dict":
        continue
    probe = marker + "." + label
    payload = fixtures.malicious_pickles(probe)[label]
    subprocess.run([sys.executable, "-c", "import pickle,sys; pickle.loads(sys.stdin.buffer.read())"],
                   input=payload, capture_output=True, cwd=work)
    check(os.path.exists(probe), f"{label}: the payload really runs under pickle.loads")

expected_global = {
    "zip_posix_system": "posix.system", "zip_builtins_exec": "builtins.exec",
    "zip_stack_global_memo": "posix.system", "legacy_reduce": "posix.system",
    "zip_two_globals": "builtins.exec",  # the second one: every offending global is named
}
made = fixtures.make_malicious(os.path.join(work, "files"), marker)
for label, path in made.items():
    output = os.path.join(work, label + ".safetensors")
    code, out, err = stkit("convert", path, "-o", output)
    check(code == 1, f"{label}: exit {code} (want 1): {err.strip()}")
    check(not os.path.exists(output), f"{label}: output left behind")
    check(not os.path.exists(marker), f"{label}: the payload ran")
    if label in expected_global:
        check(expected_global[label] in err and "byte" in err,
              f"{label}: error names {expected_global[label]} and its offset: {err.strip()}")
    if label == "zip_posix_system":
        code, out, err = stkit("convert", path, "-o", output, "--json")
        report = json.loads(out) if out else {}
        check(code == 1 and report.get("refused_unsafe") is True and
              report.get("error", {}).get("code") == "pk_global_refused" and
              isinstance(report["error"].get("offset"), int),
              f"{label}: --json error document: {out}")
    leftovers = [name for name in os.listdir(work) if name.startswith(label)]
    check(not leftovers, f"{label}: temporary files left: {leftovers}")

finish()
