"""Crash safety of `stkit convert`: SIGKILL at random points during a large conversion.

After every kill the destination must be either absent or complete and identical to an
uninterrupted conversion (never a partial file), no temporary file may be left under the
destination's name, and the source must be untouched.

Environment (from ctest): STKIT_BIN, STKIT_SCRATCH. Run with Debian's /usr/bin/python3 (torch).
"""
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import torch

KILLS = 12


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def main():
    stkit = os.environ["STKIT_BIN"]
    scratch = os.environ["STKIT_SCRATCH"]
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    source = os.path.join(scratch, "pytorch_model.bin")
    generator = torch.Generator().manual_seed(7)
    # ~256 MB in 16 tensors, so a conversion takes long enough to be interrupted in the middle.
    state = {f"layer{i}.weight": torch.randn(2048, 2048, generator=generator) for i in range(16)}
    torch.save(state, source)
    source_digest = sha256(source)

    reference = os.path.join(scratch, "reference.safetensors")
    started = time.monotonic()
    subprocess.run([stkit, "convert", source, "-o", reference], check=True,
                   stdout=subprocess.DEVNULL)
    duration = time.monotonic() - started
    reference_digest = sha256(reference)

    rng = random.Random(1234)
    outcomes = {"absent": 0, "complete": 0}
    destination = os.path.join(scratch, "model.safetensors")
    for attempt in range(KILLS):
        if os.path.exists(destination):
            os.remove(destination)
        process = subprocess.Popen([stkit, "convert", source, "-o", destination],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, duration * 1.2))
        process.send_signal(signal.SIGKILL)
        process.wait()
        if os.path.exists(destination):
            got = sha256(destination)
            assert got == reference_digest, f"kill {attempt}: destination is partial or different"
            outcomes["complete"] += 1
        else:
            outcomes["absent"] += 1
        leftovers = [name for name in os.listdir(scratch)
                     if name.startswith(".model.safetensors")]
        assert not leftovers, f"kill {attempt}: temporary files left behind: {leftovers}"
        assert sha256(source) == source_digest, f"kill {attempt}: source changed"
    print(f"conversion {duration:.2f}s; after {KILLS} kills: {outcomes}")
    assert outcomes["absent"] > 0, "no kill landed before the end: the test proved nothing"
    return 0


if __name__ == "__main__":
    sys.exit(main())
