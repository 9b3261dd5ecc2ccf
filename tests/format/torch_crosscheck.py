"""Cross-check the stkit writer with real torch and numpy (/usr/bin/python3).

format_write_sample (tests/format/write_sample.cpp) writes a fixed set of tensors. This script
  1. reads the file by the letter of the spec with struct + json and checks the header rules,
  2. loads every tensor with torch.frombuffer / numpy.frombuffer and compares the values with the
     ones the program was told to write,
  3. builds the same file independently, following the reference serializer's layout rules, and
     requires the two files to be byte-identical.
"""
import json
import os
import struct
import subprocess
import sys

import numpy as np
import torch

ORDER = ["U64", "I64", "F64", "C64", "F32", "U32", "I32", "BF16", "F16", "U16", "I16",
         "F8_E5M2FNUZ", "F8_E4M3FNUZ", "F8_E8M0", "F8_E4M3", "F8_E5M2", "I8", "U8",
         "F6_E3M2", "F6_E2M3", "F4", "BOOL"]
TORCH = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "BOOL": torch.bool,
         "F16": torch.float16, "BF16": torch.bfloat16, "U8": torch.uint8, "I32": torch.int32,
         "I16": torch.int16}

EXPECTED = {
    "weight": ("F32", torch.arange(6, dtype=torch.float32).reshape(2, 3) * 0.5 - 1.0),
    "bias": ("F64", torch.arange(3, dtype=torch.float64) * 0.25),
    "index": ("I64", torch.arange(4, dtype=torch.int64) - 2),
    "mask": ("BOOL", torch.tensor([False, True, False, True, False])),
    "half": ("F16", torch.arange(4, dtype=torch.float16).reshape(2, 2)),
    "brain": ("BF16", torch.arange(3, dtype=torch.bfloat16)),
    "empty": ("U8", torch.zeros(0, dtype=torch.uint8)),
    "scalar": ("I32", torch.tensor(42, dtype=torch.int32)),
    "caf\u00e9 \"q\"": ("I16", torch.tensor([0, -7], dtype=torch.int16)),
}
METADATA = {"format": "pt", "note": "tab\there \"quoted\" \u00e9\u0001"}


def tensor_bytes(t):
    # bfloat16 has no numpy dtype: view its bits as int16.
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.contiguous().numpy().tobytes()


def reference_file(tensors, metadata):
    """The reference layout: dtype order, then name bytes; compact JSON; space padding to 8."""
    names = sorted(tensors, key=lambda n: (ORDER.index(tensors[n][0]), n.encode()))
    header = {}
    if metadata:
        header["__metadata__"] = dict(sorted(metadata.items()))
    data = b""
    for name in names:
        dtype, t = tensors[name]
        raw = tensor_bytes(t)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def main():
    scratch = os.environ.get("STKIT_SCRATCH", "/tmp/stkit_format_crosscheck")
    os.makedirs(scratch, exist_ok=True)
    path = os.path.join(scratch, "sample.safetensors")
    subprocess.run([sys.argv[1], path], check=True)
    blob = open(path, "rb").read()

    (n,) = struct.unpack("<Q", blob[:8])
    assert n % 8 == 0, n
    text = blob[8:8 + n]
    assert text == text.rstrip(b" ") + b" " * (len(text) - len(text.rstrip(b" "))), "padding is not spaces"
    header = json.loads(text.decode("utf-8"))
    data = blob[8 + n:]
    assert header.pop("__metadata__") == METADATA
    assert set(header) == set(EXPECTED), sorted(header)
    end = 0
    for name, entry in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        begin, stop = entry["data_offsets"]
        assert begin == end, (name, begin, end)
        end = stop
        dtype, want = EXPECTED[name]
        assert entry["dtype"] == dtype and entry["shape"] == list(want.shape), (name, entry)
        raw = bytearray(data[begin:stop])
        if raw:
            got = torch.frombuffer(raw, dtype=TORCH[dtype]).reshape(want.shape)
        else:
            got = torch.zeros(want.shape, dtype=TORCH[dtype])
        assert torch.equal(got, want), (name, got, want)
        if dtype not in ("BF16",):
            arr = np.frombuffer(bytes(raw), dtype=want.numpy().dtype).reshape(want.shape)
            assert np.array_equal(arr, want.numpy()), name
    assert end == len(data), "trailing bytes after the last tensor"

    expected = reference_file(EXPECTED, METADATA)
    if blob != expected:
        print("stkit:    ", blob[:8 + n])
        print("reference:", expected[:8 + n])
        raise SystemExit("stkit's file differs from the reference layout")
    print("ok: %d tensors match torch and the reference layout byte for byte" % len(EXPECTED))


if __name__ == "__main__":
    main()
