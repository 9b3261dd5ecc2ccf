"""stkit audit's memory does not grow with the size of a model file: a repository holding a 512 MiB
safetensors file is audited with a peak resident set under 64 MiB, and the file's SHA-256 in the JSON
is hashlib's. The digest reads the file with read() in 1 MiB chunks and the scan maps it; what is
measured is that neither keeps the file's pages resident.

The file is sparse (its big tensor is a hole made by truncate) so the test stays fast and small on
disk. A small tensor of pseudo-random bytes comes first, as real weights do: the scanner reads every
file from its first byte as an unpickler would, and when the low byte of the header length is a
pickle opcode that reads a text line ('P', 'p', 'I', ...), it reads on to the first newline byte,
which real weights hold within a few hundred bytes but a region of zeros never does (docs/audit.md,
"Memory per task")."""
import hashlib
import json
import os
import random
import resource
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scratch  # noqa: E402

STKIT, SCRATCH = scratch.setup()
BIG, SMALL, BOUND_KIB = 512 << 20, 4096, 64 << 10
repo = os.path.join(SCRATCH, "tree", "org", "big")
os.makedirs(repo)
path = os.path.join(repo, "model.safetensors")
header = json.dumps({"embed": {"dtype": "U8", "shape": [SMALL], "data_offsets": [0, SMALL]},
                     "zeros": {"dtype": "U8", "shape": [BIG], "data_offsets": [SMALL, SMALL + BIG]}}).encode()
# Padded to 0x150 bytes: the length's low byte is 'P' (PERSID), which makes the scanner read a line,
# the case where the content of the data region decides how far it reads.
assert len(header) <= 0x150
header += b" " * (0x150 - len(header))
with open(path, "wb") as f:
    f.write(struct.pack("<Q", len(header)) + header + random.Random(7).randbytes(SMALL))
    f.truncate(8 + len(header) + SMALL + BIG)
size = os.stat(path).st_size
check_sparse = os.stat(path).st_blocks * 512 < 1 << 20

out = os.path.join(SCRATCH, "audit.json")
# Peak RSS of the audit alone: ru_maxrss of the children, the only child being stkit.
before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
run = subprocess.run([STKIT, "audit", os.path.join(SCRATCH, "tree"), "--json", out], capture_output=True, text=True)
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print("FAIL:", what)


check(run.returncode == 0, f"stkit audit exits 0: {run.stderr}")
check(before == 0 and peak_kib > 0, "the peak is stkit's own (no earlier child)")
check(check_sparse, "the test file is sparse")
print(f"{size} bytes audited, peak RSS {peak_kib} KiB")
check(peak_kib < BOUND_KIB, f"peak RSS {peak_kib} KiB under {BOUND_KIB} KiB for a {size >> 20} MiB file")
files = [f for r in json.load(open(out))["repos"] for f in r["files"]] if run.returncode == 0 else []
digest = hashlib.sha256()
with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        digest.update(chunk)
check([(f["path"], f["format"], f["bytes"], f["sha256"]) for f in files] ==
      [("model.safetensors", "safetensors", size, digest.hexdigest())], f"the file, its size and hashlib's SHA-256: {files}")
print(f"{len(failures)} failures")
sys.exit(1 if failures else 0)
