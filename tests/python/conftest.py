"""Shared by the stkit Python package's tests: the frameworks as one interface (so tests are
parametrized over them, not copied), the dtypes each one has, and running the stkit command.

Run by ctest (python_pytest) with PYTHONPATH at build/python and STKIT_BIN at the stkit command; by
hand: PYTHONPATH=build/python STKIT_BIN=build/cli/stkit /usr/bin/python3 -m pytest -q tests/python
"""
import json
import os
import subprocess

import numpy as np
import pytest
import torch

import stkit
import stkit.numpy
import stkit.torch

STKIT_BIN = os.environ.get("STKIT_BIN", "")

# Every safetensors dtype a framework has here, with the NumPy dtype that holds its values (for making
# and comparing them); bf16 values are made as float32 and rounded by torch.
ALL_DTYPES = ["BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64", "F16", "BF16", "F32", "F64", "C64",
              "F8_E4M3", "F8_E5M2"]
NUMPY_TYPES = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "U16": np.uint16, "I16": np.int16,
               "U32": np.uint32, "I32": np.int32, "U64": np.uint64, "I64": np.int64, "F16": np.float16,
               "F32": np.float32, "F64": np.float64, "C64": np.complex64}
DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "U16": 2, "I16": 2, "U32": 4, "I32": 4, "U64": 8, "I64": 8, "F16": 2,
               "BF16": 2, "F32": 4, "F64": 8, "C64": 8, "F8_E4M3": 1, "F8_E5M2": 1}
SHAPES = [(), (0,), (3, 0, 2), (7,), (2, 3), (2, 3, 4), (1, 1, 1, 5), (1 << 18,)]


def random_array(dtype: str, shape, seed: int = 0) -> np.ndarray:
    """Values of a NumPy dtype, varied enough that a misplaced byte shows."""
    rng = np.random.default_rng(seed)
    t = NUMPY_TYPES[dtype]
    if dtype == "BOOL":
        values = rng.integers(0, 2, size=shape)
    elif dtype.startswith(("U", "I")):
        info = np.iinfo(t)
        values = rng.integers(info.min, info.max, size=shape, dtype=t, endpoint=True)
    elif dtype == "C64":
        values = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    else:
        values = rng.standard_normal(shape) * 100
    return np.asarray(values, dtype=t)  # an array even for shape ()


class Framework:
    """What a test needs of a framework: its stkit module, making and comparing its tensors."""

    def __init__(self, name: str, module):
        self.name = name
        self.module = module

    def has(self, dtype: str) -> bool:
        return dtype in self.module._TYPES

    def make(self, dtype: str, shape, seed: int = 0):
        if self.name == "np":
            return random_array(dtype, shape, seed)
        if dtype == "BF16":
            return torch.from_numpy(random_array("F32", shape, seed)).to(torch.bfloat16)
        return torch.from_numpy(random_array(dtype, shape, seed))

    def to_numpy(self, tensor) -> np.ndarray:
        if isinstance(tensor, np.ndarray):
            return tensor
        if tensor.dtype == torch.bfloat16:
            return tensor.view(torch.int16).numpy()
        return tensor.numpy()

    def assert_equal(self, got, expected) -> None:
        assert type(got) is type(expected)
        assert got.dtype == expected.dtype
        assert tuple(got.shape) == tuple(expected.shape)
        a, b = self.to_numpy(got), self.to_numpy(expected)
        if a.dtype.kind == "c":  # compare bits, so NaN and -0.0 count as themselves
            a, b = a.reshape(-1).view(np.uint8), b.reshape(-1).view(np.uint8)
        np.testing.assert_array_equal(a, b)


FRAMEWORKS = {"pt": Framework("pt", stkit.torch), "np": Framework("np", stkit.numpy)}


@pytest.fixture(params=["pt", "np"])
def framework(request) -> Framework:
    return FRAMEWORKS[request.param]


def run_stkit(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Runs the stkit command (STKIT_BIN); skips the test when it is not given."""
    if not STKIT_BIN:
        pytest.skip("STKIT_BIN is not set")
    done = subprocess.run([STKIT_BIN, *args], capture_output=True, text=True)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def stkit_json(*args: str, check: bool = True):
    return json.loads(run_stkit(*args, check=check).stdout)


def write_raw(path, header: dict, data: bytes = b"", declared=None) -> str:
    """A safetensors file made by hand (header JSON as given), for malformed inputs."""
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write((len(text) if declared is None else declared).to_bytes(8, "little"))
        f.write(text)
        f.write(data)
    return str(path)
