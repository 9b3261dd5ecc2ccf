"""stkit.numpy: layouts NumPy allows (strided, Fortran, big-endian, scalars), byte identity with
stkit.torch and the converter, sharded loading, devices."""
import json

import numpy as np
import pytest
import torch

import stkit
import stkit.numpy
import stkit.torch
from conftest import run_stkit


def test_layouts_numpy_allows_are_written_as_c_order_little_endian(tmp_path):
    base = np.arange(24, dtype=np.int32).reshape(4, 6)
    arrays = {"strided": base[:, ::2], "fortran": np.asfortranarray(base), "big": base.astype(">i4"),
              "scalar": np.array(2.5), "unicode \u00e9": base[0]}
    path = tmp_path / "a.safetensors"
    stkit.numpy.save_file(arrays, path)
    loaded = stkit.numpy.load_file(path)
    for name, value in arrays.items():
        np.testing.assert_array_equal(loaded[name], value)
        assert loaded[name].dtype == value.dtype.newbyteorder("=")
    # The same values given as torch tensors make the same file.
    as_torch = {name: torch.from_numpy(np.array(v, dtype=v.dtype.newbyteorder("="), order="C")) for name, v in arrays.items()}
    assert stkit.torch.save(as_torch) == path.read_bytes()
    with pytest.raises(stkit.SafetensorError) as raised:
        stkit.numpy.save({"o": np.array([1, "x"], dtype=object)})
    assert raised.value.name == "o"
    with pytest.raises(ValueError, match="expected np.ndarray"):
        stkit.numpy.save({"l": [1, 2]})


def test_same_bytes_as_the_converter(tmp_path):
    rng = np.random.default_rng(3)
    arrays = {"w": rng.standard_normal((3, 5)).astype(np.float32), "i": np.arange(7, dtype=np.int64)}
    np.savez(tmp_path / "arrays.npz", **arrays)
    run_stkit("convert", str(tmp_path / "arrays.npz"))
    stkit.numpy.save_file(arrays, tmp_path / "ours.safetensors", metadata={"format": "pt"})
    assert (tmp_path / "ours.safetensors").read_bytes() == (tmp_path / "arrays.safetensors").read_bytes()


def test_load_sharded(tmp_path):
    stkit.numpy.save_file({"a": np.arange(3.0)}, tmp_path / "s1.safetensors")
    stkit.numpy.save_file({"b": np.ones((2, 2), np.uint16)}, tmp_path / "s2.safetensors")
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}}))
    loaded = stkit.numpy.load_sharded(index)
    np.testing.assert_array_equal(loaded["a"], np.arange(3.0))
    np.testing.assert_array_equal(loaded["b"], np.ones((2, 2), np.uint16))
    # The index must account for every tensor of every shard.
    stkit.numpy.save_file({"b": np.ones(1), "stray": np.zeros(1)}, tmp_path / "s2.safetensors")
    with pytest.raises(stkit.SafetensorError) as raised:
        stkit.numpy.load_sharded(index)
    assert raised.value.code == "st_index_unlisted_tensor" and raised.value.name == "stray"
    assert raised.value.file.endswith("s2.safetensors")


def test_device_must_be_cpu(tmp_path):
    stkit.numpy.save_file({"a": np.zeros(1)}, tmp_path / "a.safetensors")
    with pytest.raises(stkit.SafetensorError, match="not supported for framework numpy"):
        stkit.safe_open(tmp_path / "a.safetensors", "np", device="cuda")


def test_empty_metadata_is_written_as_the_reference_writes_it(tmp_path):
    # metadata={} is Some(empty map) for the reference's writer: "__metadata__":{} is in the header;
    # metadata=None leaves it out. Both frameworks' save, save_file and serialize agree.
    given = b"\x18\x00\x00\x00\x00\x00\x00\x00" + b'{"__metadata__":{}}     '
    absent = b"\x08\x00\x00\x00\x00\x00\x00\x00" + b"{}      "
    assert stkit.numpy.save({}, metadata={}) == given
    assert stkit.torch.save({}, metadata={}) == given
    assert stkit.serialize({}, metadata={}) == given
    assert stkit.numpy.save({}) == absent and stkit.numpy.save({}, metadata=None) == absent
    path = tmp_path / "empty_metadata.safetensors"
    stkit.numpy.save_file({"x": np.arange(3, dtype=np.int16)}, path, metadata={})
    with stkit.safe_open(path, "np") as f:
        assert f.metadata() == {}
    stkit.numpy.save_file({"x": np.arange(3, dtype=np.int16)}, path)
    with stkit.safe_open(path, "np") as f:
        assert f.metadata() is None
