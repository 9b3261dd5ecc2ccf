"""stkit audit's memory does not grow with the size of a model file: a repository holding a 512 MiB
safetensors file is audited with a peak resident set at most 32 MiB above that of the same audit of
a 4 KiB one (measured against a baseline of the same build, so sanitizer builds, whose shadow
memory raises every process's peak, are held to the same growth), and the file's SHA-256 in the
JSON is hashlib's. The digest reads the file with read() in 1 MiB chunks and the scan maps it; what is
measured is that neither keeps the file's pages resident.

The file is sparse (its tensors are a hole made by truncate) so the test stays fast and small on
disk, and its header length's low byte is 'P': the scanner reads every file from its first byte as
an unpickler would, and PERSID reads a text line, so it searches the whole region of zeros for a
newline byte. That search must drop the pages it has read through (docs/audit.md, "Memory per
task"); until 2026-12-02 it kept them, and this file peaked at 536,692 KiB."""
import hashlib
import json
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scratch  # noqa: E402

STKIT, SCRATCH = scratch.setup()
BIG, SMALL, GROWTH_KIB = 512 << 20, 4096, 32 << 10


def make_repo(tree, big):
    """A repository with one safetensors file of SMALL + `big` zeros, a hole."""
    repo = os.path.join(SCRATCH, tree, "org", "big")
    os.makedirs(repo)
    path = os.path.join(repo, "model.safetensors")
    header = json.dumps({"embed": {"dtype": "U8", "shape": [SMALL], "data_offsets": [0, SMALL]},
                         "zeros": {"dtype": "U8", "shape": [big], "data_offsets": [SMALL, SMALL + big]}}).encode()
    # Padded to 0x150 bytes: the length's low byte is 'P' (PERSID), which makes the scanner read a
    # line, the case where the content of the data region decides how far it reads.
    assert len(header) <= 0x150
    header += b" " * (0x150 - len(header))
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        f.truncate(8 + len(header) + SMALL + big)
    return path


def audit(tree, out):
    """Exit code, stderr and peak RSS (KiB) of `stkit audit` of SCRATCH/tree: wait4 gives this child's
    own peak, whatever ran before it."""
    err_path = out + ".stderr"
    pid = os.posix_spawn(STKIT, [STKIT, "audit", os.path.join(SCRATCH, tree), "--json", out], os.environ,
                         file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                                       (os.POSIX_SPAWN_OPEN, 2, err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)])
    _, status, usage = os.wait4(pid, 0)
    with open(err_path) as f:
        return os.waitstatus_to_exitcode(status), f.read(), usage.ru_maxrss


path = make_repo("tree", BIG)
make_repo("baseline", SMALL)
size = os.stat(path).st_size
check_sparse = os.stat(path).st_blocks * 512 < 1 << 20
out = os.path.join(SCRATCH, "audit.json")
base_code, base_err, base_kib = audit("baseline", os.path.join(SCRATCH, "baseline.json"))
code, err, peak_kib = audit("tree", out)
failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print("FAIL:", what)


check(base_code == 0 and code == 0, f"stkit audit exits 0: {base_err} {err}")
check(check_sparse, "the test file is sparse")
print(f"{size} bytes audited, peak RSS {peak_kib} KiB; a 4 KiB file: {base_kib} KiB")
check(peak_kib - base_kib < GROWTH_KIB,
      f"peak RSS {peak_kib} KiB for a {size >> 20} MiB file, {base_kib} KiB for 4 KiB: grows by {GROWTH_KIB} KiB or more")
files = [f for r in json.load(open(out))["repos"] for f in r["files"]] if code == 0 else []
digest = hashlib.sha256()
with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        digest.update(chunk)
check([(f["path"], f["format"], f["bytes"], f["sha256"]) for f in files] ==
      [("model.safetensors", "safetensors", size, digest.hexdigest())], f"the file, its size and hashlib's SHA-256: {files}")
print(f"{len(failures)} failures")
sys.exit(1 if failures else 0)
