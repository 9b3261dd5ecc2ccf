"""Hostile inputs end with a clear error, in bounded time and memory (issue 6, resource caps).

Each case writes one crafted file, runs one stkit command on it, and checks the exit code, the
exact error code reported, the wall time and the peak resident memory of that process alone.

Usage: hostile_inputs.py CASE... (default: all). Environment from ctest: STKIT_BIN, STKIT_SCRATCH.
"""
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import threading
import time
import zipfile
import zlib

STKIT = os.environ["STKIT_BIN"]
SCRATCH = os.environ["STKIT_SCRATCH"]
# Sanitizer builds use several times the memory and time of a release build.
SANITIZED = "asan" in STKIT
MAX_SECONDS = 120 if SANITIZED else 30
MAX_RSS_MB = 1500 if SANITIZED else 400


def run(arguments):
    """Runs stkit; returns (exit code, stdout, stderr, seconds, peak RSS in MB) of that process."""
    with open(os.path.join(SCRATCH, "stdout"), "w+b") as out, \
            open(os.path.join(SCRATCH, "stderr"), "w+b") as err:
        started = time.monotonic()
        process = subprocess.Popen([STKIT] + arguments, stdout=out, stderr=err)
        killer = threading.Timer(MAX_SECONDS * 2, process.kill)
        killer.start()
        _, status, usage = os.wait4(process.pid, 0)  # the rusage of this child alone
        killer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return (process.returncode, out.read().decode(errors="replace"),
                err.read().decode(errors="replace"), seconds, usage.ru_maxrss / 1024)


def check_bounded(case, seconds, rss_mb):
    assert seconds < MAX_SECONDS, f"{case}: took {seconds:.1f}s"
    assert rss_mb < MAX_RSS_MB, f"{case}: peak RSS {rss_mb:.0f} MB"


def validate_error(case, path, expected_codes):
    code, out, err, seconds, rss = run(["validate", "--json", path])
    assert code == 1, f"{case}: validate exit {code}, stderr: {err}"
    line = json.loads(out.strip().splitlines()[0])
    assert line["valid"] is False, case
    got = line["error"]["code"]
    assert got in expected_codes, f"{case}: expected {expected_codes}, got {got}: {line}"
    check_bounded(case, seconds, rss)
    print(f"{case}: {got} in {seconds:.2f}s, {rss:.0f} MB")


def header_length_bomb():
    # Claims a 600 MB header (about what 10 million tensor entries need); the file is sparse, so
    # the test costs no disk. Refused from the length alone.
    path = os.path.join(SCRATCH, "length_bomb.safetensors")
    claimed = 600_000_000
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", claimed))
        handle.truncate(8 + claimed)
    validate_error("header_length_bomb", path, {"st_header_too_large"})


def ten_million_tensors():
    # A real header naming 10 million tensors, written in streaming fashion: well over the 100 MB
    # default cap, refused before anything is parsed or allocated.
    path = os.path.join(SCRATCH, "ten_million.safetensors")
    entry = '"t{:07d}":{{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}'
    with open(path, "wb") as handle:
        handle.write(b"\0" * 8)
        handle.write(b"{")
        for start in range(0, 10_000_000, 100_000):
            chunk = ",".join(entry.format(i) for i in range(start, start + 100_000))
            handle.write((("," if start else "") + chunk).encode())
        handle.write(b"}")
        length = handle.tell() - 8
        handle.seek(0)
        handle.write(struct.pack("<Q", length))
    validate_error("ten_million_tensors", path, {"st_header_too_large"})
    os.remove(path)


def json_nesting_bomb():
    depth = 1_000_000
    header = ('{"a":' + "[" * depth + "]" * depth + "}").encode()
    path = os.path.join(SCRATCH, "nesting_bomb.safetensors")
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(header)) + header)
    validate_error("json_nesting_bomb", path, {"st_header_too_deep"})


def many_tensors_accepted():
    # 300,000 zero-size tensors: valid, and opened in bounded memory.
    count = 300_000
    entries = ",".join(f'"w{i}":{{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}' for i in range(count))
    header = ("{" + entries + "}").encode()
    path = os.path.join(SCRATCH, "many.safetensors")
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(header)) + header)
    code, out, err, seconds, rss = run(["validate", "--json", path])
    assert code == 0, f"many_tensors_accepted: exit {code}: {out} {err}"
    check_bounded("many_tensors_accepted", seconds, rss)
    print(f"many_tensors_accepted: ok in {seconds:.2f}s, {rss:.0f} MB")


def expect(case, arguments, want_exit, want_text):
    """Runs one command; checks its exit code, that its output names want_text, and its bounds."""
    code, out, err, seconds, rss = run(arguments)
    assert code == want_exit, f"{case}: {arguments[0]} exit {code} (want {want_exit}): {out[-500:]} {err[-500:]}"
    assert want_text in out + err, f"{case}: {arguments[0]} does not report {want_text}: {out[-800:]} {err[-500:]}"
    check_bounded(case, seconds, rss)
    print(f"{case}: {arguments[0]} -> {want_text} in {seconds:.2f}s, {rss:.0f} MB")


def write(name, data):
    path = os.path.join(SCRATCH, name)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def pickle_huge_list():
    # 20 million APPENDs under one MARK: a list that would take gigabytes as Python objects.
    path = write("huge_list.pkl", b"\x80\x02]q\x00(" + b"N" * 20_000_000 + b"e.")
    expect("pickle_huge_list", ["convert", "--json", path, "-o", path + ".safetensors"], 2, "pk_stack_limit")
    expect("pickle_huge_list", ["scan", "--format", "json", path], 1, "pk_stack_limit")
    assert not os.path.exists(path + ".safetensors")


def pickle_huge_string():
    # BINUNICODE8 claiming 2**62 bytes, and BINBYTES8 claiming 3 GiB with only a few present.
    for name, opcode, claimed in (("unicode", b"\x8d", 2**62), ("bytes", b"\x8e", 3 << 30)):
        path = write(f"huge_{name}.pkl", b"\x80\x04" + opcode + struct.pack("<Q", claimed) + b"abc.")
        expect(f"pickle_huge_{name}", ["convert", "--json", path, "-o", path + ".safetensors"], 2,
               "pk_string_limit")
        # The loader stops at the missing bytes before anything is imported: nothing to report,
        # and nothing allocated for the claim.
        expect(f"pickle_huge_{name}", ["scan", "--format", "json", path], 0, '"verdict": "safe"')


def zip_bomb():
    # A torch.save-shaped zip whose deflated data.pkl (1 MB on disk) inflates to 1 GiB.
    path = os.path.join(SCRATCH, "bomb.pt")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        # Streamed in 1 MiB pieces: this process's own peak would otherwise count in the child's
        # ru_maxrss, which includes the memory it had when forked.
        with archive.open("archive/data.pkl", "w") as member:
            member.write(b"\x80\x02}q\x00.")
            zeros = bytes(1 << 20)
            for _ in range(1 << 10):
                member.write(zeros)
        archive.writestr("archive/version", "3\n")
    assert os.path.getsize(path) < 2 << 20
    expect("zip_bomb", ["convert", "--json", path, "-o", path + ".safetensors"], 2, "decompressed_limit")
    expect("zip_bomb", ["scan", path], 1, "not all content was scanned")
    assert not os.path.exists(path + ".safetensors")


def nested_archive():
    # A pickle that runs code, under 200 levels of zip in zip (and a tar.gz in the middle).
    data = pickle.dumps(eval)  # a reference to builtins.eval: dangerous wherever it is found
    for level in range(200):
        buffer = io.BytesIO()
        if level == 100:
            import tarfile
            with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
                info = tarfile.TarInfo(f"level{level}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        else:
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.writestr(f"level{level}" + (".pkl" if level == 0 else ".zip"), data)
        data = buffer.getvalue()
    path = write("nested.zip", data)
    expect("nested_archive", ["scan", path], 1, "nesting depth limit exceeded")
    expect("nested_archive", ["convert", "--json", path, "-o", path + ".safetensors"], 2, "cv_invalid_checkpoint")


CASES = {
    "header_length_bomb": header_length_bomb,
    "ten_million_tensors": ten_million_tensors,
    "json_nesting_bomb": json_nesting_bomb,
    "many_tensors_accepted": many_tensors_accepted,
    "pickle_huge_list": pickle_huge_list,
    "pickle_huge_string": pickle_huge_string,
    "zip_bomb": zip_bomb,
    "nested_archive": nested_archive,
}


def main(names):
    shutil.rmtree(SCRATCH, ignore_errors=True)
    os.makedirs(SCRATCH)
    for name in names or CASES:
        CASES[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
