"""Converts .npy (format 1/2/3, every numeric dtype, Fortran order, big-endian) and .npz (stored
and deflated) files and compares every tensor bit for bit with numpy.load."""
import os

import numpy as np

import fixtures
from common import check, convert_ok, finish, read_safetensors, scratch, stkit

NP_TO_ST = {"b1": "BOOL", "u1": "U8", "i1": "I8", "u2": "U16", "i2": "I16", "u4": "U32",
            "i4": "I32", "u8": "U64", "i8": "I64", "f2": "F16", "f4": "F32", "f8": "F64",
            "c8": "C64"}


def expected_bytes(array):
    little = array.astype(array.dtype.newbyteorder("<"))
    return np.ascontiguousarray(little).tobytes(order="C")


made = fixtures.make_numpy(scratch("numpy"))
for label, (path, arrays) in made.items():
    output = convert_ok(label, path)
    if not os.path.exists(output):
        continue
    metadata, tensors = read_safetensors(output)
    check(sorted(tensors) == sorted(arrays), f"{label}: names {sorted(tensors)}")
    for name, array in arrays.items():
        loaded = np.load(path)[name] if path.endswith(".npz") else np.load(path)
        check(loaded.dtype == array.dtype, f"{label}: fixture dtype round trip")
        if name not in tensors:
            continue
        dtype, shape, raw = tensors[name]
        code = array.dtype.str[1:]
        check(dtype == NP_TO_ST[code], f"{label}/{name}: dtype {dtype} for {array.dtype.str}")
        check(shape == array.shape, f"{label}/{name}: shape {shape} vs {array.shape}")
        check(raw == expected_bytes(loaded), f"{label}/{name}: bytes differ")

# complex128 and float128 have no safetensors dtype: refused by name, exit 2, no output.
for code in ("c16", "f16"):
    path = os.path.join(scratch("numpy"), f"unsupported_{code}.npy")
    np.save(path, np.ones(3, dtype=code))
    status, out, err = stkit("convert", path)
    check(status == 2 and "npy_unsupported_dtype" in err, f"{code}: exit {status} {err}")
    check(not os.path.exists(path[:-4] + ".safetensors"), f"{code}: no output")

finish()
