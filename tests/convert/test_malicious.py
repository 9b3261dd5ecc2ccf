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

# Torch zips that a loader could read as something else (issue 10): each is refused with exit 1,
# the member named, nothing written, whatever stkit scan says of the same file.
import io
import struct
import zipfile

import torch

tensor_buffer = io.BytesIO()
torch.save({"w": torch.arange(4.0)}, tensor_buffer)
clean = tensor_buffer.getvalue()
payload = b"\x80\x02cposix\nsystem\nX" + struct.pack("<I", len("true")) + b"true\x85R."


def rezip(members, prefix=None):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for name, data in members:
            z.writestr(name, data)
    return out.getvalue()


with zipfile.ZipFile(io.BytesIO(clean)) as z:
    original = [(info.filename, z.read(info.filename)) for info in z.infolist()]
prefix = original[0][0].split("/")[0]
ambiguous = {
    "extra_pickle_member": (rezip(original + [(prefix + "/extra.pkl", payload)]), prefix + "/extra.pkl"),
    "pickle_under_version": (rezip([(n, payload if n.endswith("/version") else d) for n, d in original]),
                             prefix + "/version"),
    "bytes_after_stop": (rezip([(n, d + payload if n.endswith("data.pkl") else d) for n, d in original]),
                         prefix + "/data.pkl"),
}
# Duplicate names: the last data.pkl is the payload (Python's zipfile reads the last, torch the first).
import warnings
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    ambiguous["duplicate_data_pkl"] = (rezip(original + [(prefix + "/data.pkl", payload)]), prefix + "/data.pkl")
# Local and central names differ: rename data.pkl in the local header only.
mismatch = bytearray(clean)
name_at = mismatch.index((prefix + "/data.pkl").encode())
mismatch[name_at + len(prefix) + 1:name_at + len(prefix) + 5] = b"Data"
ambiguous["local_name_mismatch"] = (bytes(mismatch), prefix + "/data.pkl")

folder = os.path.join(work, "ambiguous")
os.makedirs(folder, exist_ok=True)
for label, (data, member) in ambiguous.items():
    path = os.path.join(folder, label + ".pt")
    with open(path, "wb") as f:
        f.write(data)
    output = path + ".safetensors"
    code, out, err = stkit("convert", path, "-o", output)
    check(code == 1, f"{label}: exit {code} (want 1): {err.strip()}")
    check(("cv_ambiguous_archive" in err or "pk_global_refused" in err) and member in err,
          f"{label}: refusal names {member}: {err.strip()}")
    check(not os.path.exists(output), f"{label}: output left behind")
    code, out, err = stkit("scan", path)
    check(code == 1, f"{label}: stkit scan exit {code}: the scanner must flag what the converter refuses: {out}")
# The clean checkpoint converts.
clean_path = os.path.join(folder, "clean.pt")
with open(clean_path, "wb") as f:
    f.write(clean)
code, out, err = stkit("convert", clean_path, "-o", clean_path + ".safetensors")
check(code == 0, f"clean: exit {code}: {err.strip()}")

finish()
