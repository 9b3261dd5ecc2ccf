"""Helpers shared by the convert script tests: running stkit, reading safetensors by hand (there is
no safetensors Python package here), and bit-exact comparison with what torch/numpy load."""
import json
import os
import shutil
import pickle
import struct
import subprocess
import sys

import torch

STKIT = os.environ["STKIT_BIN"]
SCRATCH = os.environ["STKIT_SCRATCH"]
# Each test script owns its scratch folder: start from nothing, so a rerun in the same build
# folder does not meet the outputs of the last run (which the no-overwrite rule would refuse).
shutil.rmtree(SCRATCH, ignore_errors=True)

ST_TO_TORCH = {
    "BOOL": torch.bool, "U8": torch.uint8, "I8": torch.int8, "I16": torch.int16,
    "I32": torch.int32, "I64": torch.int64, "F16": torch.float16, "BF16": torch.bfloat16,
    "F32": torch.float32, "F64": torch.float64, "C64": torch.complex64,
}

failures = []


def check(condition, message):
    """Records a failed assertion (the script goes on, so one run reports every problem)."""
    if not condition:
        failures.append(message)
        print("FAIL:", message, file=sys.stderr)
    return condition


def finish():
    if failures:
        print(f"{len(failures)} failure(s)", file=sys.stderr)
        sys.exit(1)
    print("ok")


def scratch(name):
    path = os.path.join(SCRATCH, name)
    os.makedirs(path, exist_ok=True)
    return path


def stkit(*args, cwd=None):
    """Runs stkit; returns (exit code, stdout, stderr)."""
    done = subprocess.run([STKIT, *args], capture_output=True, text=True, cwd=cwd, timeout=120)
    return done.returncode, done.stdout, done.stderr


def read_safetensors(path):
    """Parses a safetensors file by hand: (metadata, {name: (dtype, shape, raw bytes)})."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        tensors[name] = (info["dtype"], tuple(info["shape"]), body[begin:end])
    return metadata, tensors


def raw_bytes(tensor):
    """The row-major little-endian bytes of a torch tensor (any view)."""
    flat = tensor.detach().contiguous().reshape(-1)
    if flat.numel() == 0:
        return b""
    return flat.view(torch.uint8).numpy().tobytes()


def torch_of(entry):
    dtype, shape, raw = entry
    if len(raw) == 0:
        return torch.empty(shape, dtype=ST_TO_TORCH[dtype])
    return torch.frombuffer(bytearray(raw), dtype=ST_TO_TORCH[dtype]).reshape(shape)


def flatten(obj, prefix=""):
    """Flattens dicts/lists/tuples of tensors with '.', as the converter does."""
    out = {}
    if isinstance(obj, torch.Tensor):
        out[prefix] = obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            out.update(flatten(value, f"{prefix}.{i}" if prefix else str(i)))
    return out


def compare_with_torch(label, source, output, expected=None):
    """Loads `source` with torch.load(weights_only=True) and checks every tensor bit for bit
    against `output` (aliases through __metadata__), or checks the tensors `expected` ({name:
    tensor}) instead. Returns the metadata."""
    if expected is None:
        try:
            loaded = torch.load(source, weights_only=True)
        except pickle.UnpicklingError:
            # torch 1.13's weights-only unpickler lacks FRAME (protocol >= 4); these fixtures were
            # made by the test itself, so the full loader is safe here.
            loaded = torch.load(source)
        if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
            loaded = loaded["state_dict"]
        expected = flatten(loaded)
    metadata, tensors = read_safetensors(output)
    check(metadata.get("format") == "pt", f"{label}: metadata format is {metadata.get('format')}")
    check(len(expected) > 0, f"{label}: fixture has no tensors")
    for name, tensor in expected.items():
        stored = name if name in tensors else metadata.get(name)
        if not check(stored in tensors, f"{label}: tensor {name} missing (no alias either)"):
            continue
        dtype, shape, raw = tensors[stored]
        check(ST_TO_TORCH.get(dtype) == tensor.dtype, f"{label}: {name} dtype {dtype} vs {tensor.dtype}")
        check(shape == tuple(tensor.shape), f"{label}: {name} shape {shape} vs {tuple(tensor.shape)}")
        check(raw == raw_bytes(tensor), f"{label}: {name} bytes differ")
        if len(raw) and ST_TO_TORCH.get(dtype) == tensor.dtype:
            check(torch.equal(torch_of(tensors[stored]).view(tensor.shape), tensor.detach()) or
                  tensor.is_floating_point() or tensor.is_complex(),  # NaN != NaN
                  f"{label}: {name} torch.equal fails")
    for name in tensors:
        check(name in expected, f"{label}: unexpected tensor {name} in output")
    return metadata


def convert_ok(label, source, *extra):
    """Converts and checks exit 0; returns the output path."""
    output = source + ".safetensors" if not extra or "-o" not in extra else None
    args = [source, *extra]
    if output is not None:
        args += ["-o", output]
    else:
        output = extra[list(extra).index("-o") + 1]
    code, out, err = stkit("convert", *args)
    check(code == 0, f"{label}: exit {code}: {err.strip()}")
    return output
