"""stkit._safetensors_rust (also at stkit's top level): the reference's raw serialize, serialize_file and
deserialize over plain dicts, byte-identical to the framework savers, with errors as SafetensorError."""
import json

import pytest
import torch

import stkit
import stkit._safetensors_rust
import stkit.numpy
import stkit.torch
from conftest import ALL_DTYPES, FRAMEWORKS

RAW_FUNCTIONS = ["serialize", "serialize_file", "deserialize", "safe_open", "SafetensorError"]


def raw(tensors):
    """The reference's own flattening (its numpy.py and torch.py): framework dtype names, shapes, bytes."""
    out = {}
    for name, t in tensors.items():
        if isinstance(t, torch.Tensor):
            data = FRAMEWORKS["pt"].to_numpy(t.contiguous()).tobytes()
            out[name] = {"dtype": str(t.dtype).split(".")[-1], "shape": list(t.shape), "data": data}
        else:
            out[name] = {"dtype": t.dtype.name, "shape": list(t.shape), "data": t.tobytes()}
    return out


def mixed(framework):
    """Tensors of every dtype the framework has, named so that dtype order and name order disagree."""
    return {f"{chr(ord('z') - i)}.{d}": framework.make(d, (2, 3), seed=i)
            for i, d in enumerate(ALL_DTYPES) if framework.has(d)}


@pytest.mark.parametrize("name", RAW_FUNCTIONS)
def test_exported_where_the_reference_has_them(name):
    assert getattr(stkit, name) is getattr(stkit._safetensors_rust, name)


@pytest.mark.parametrize("metadata", [None, {"format": "pt", "b": "\u00e9\n"}])
def test_serialize_is_byte_identical_to_the_framework_save(framework, metadata):
    tensors = mixed(framework)
    expected = framework.module.save(tensors, metadata=metadata)
    assert stkit.serialize(raw(tensors), metadata=metadata) == expected
    assert stkit._safetensors_rust.serialize(raw(tensors), metadata) == expected


def test_serialize_file_writes_what_serialize_returns(tmp_path, framework):
    tensors = mixed(framework)
    path = tmp_path / "raw.safetensors"
    path.write_bytes(b"replaced, as the reference's File::create does")
    stkit.serialize_file(raw(tensors), path, metadata={"k": "v"})
    assert path.read_bytes() == stkit.serialize(raw(tensors), {"k": "v"})
    framework.module.save_file(tensors, tmp_path / "framework.safetensors", metadata={"k": "v"})
    assert path.read_bytes() == (tmp_path / "framework.safetensors").read_bytes()


def test_deserialize_gives_every_tensor_in_file_order_as_bytearrays():
    framework = FRAMEWORKS["pt"]
    tensors = mixed(framework)
    tensors["empty"] = torch.zeros((3, 0), dtype=torch.float32)
    data = stkit.serialize(raw(tensors))
    items = stkit.deserialize(data)
    # File order, read from the header itself: by data offsets.
    header = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])
    assert [name for name, _ in items] == sorted(header, key=lambda n: header[n]["data_offsets"])
    flat = raw(tensors)
    assert sorted(name for name, _ in items) == sorted(tensors)
    for name, desc in items:
        assert set(desc) == {"dtype", "shape", "data"}
        assert desc["dtype"] == stkit.torch._NAMES[tensors[name].dtype]
        assert desc["shape"] == flat[name]["shape"] and isinstance(desc["shape"], list)
        assert isinstance(desc["data"], bytearray) and desc["data"] == flat[name]["data"]
    # Serialize what deserialize gave (header names back to framework names): the same bytes.
    back = {name: dict(desc, dtype=stkit._safetensors_rust.FRAMEWORK_NAMES[desc["dtype"]]) for name, desc in items}
    assert stkit.serialize(back) == data


def test_packed_f4_counts_two_elements_a_byte_as_the_reference_does():
    data = stkit.serialize({"w": {"dtype": "float4_e2m1fn_x2", "shape": [2, 3], "data": bytes(range(6))}})
    [(name, desc)] = stkit.deserialize(data)
    assert (name, desc["dtype"], desc["shape"], bytes(desc["data"])) == ("w", "F4", [2, 6], bytes(range(6)))


@pytest.mark.parametrize("desc, code, text", [
    ({"dtype": "float33", "shape": [1], "data": b"\0"}, "invalid_argument", "dtype float33 is not covered"),
    ({"dtype": "F32", "shape": [1], "data": b"\0" * 4}, "invalid_argument", "dtype F32 is not covered"),
    ({"dtype": "uint8", "data": b"\0"}, "invalid_argument", "Missing `shape`"),
    ({"dtype": "uint8", "shape": [1]}, "invalid_argument", "Missing `data`"),
    ({"shape": [1], "data": b"\0"}, "invalid_argument", "Missing `dtype`"),
    ({"dtype": "float32", "shape": [2], "data": b"\0" * 4}, "st_write_byte_count_mismatch", None),
    ({"dtype": "float4_e2m1fn_x2", "shape": [], "data": b""}, "invalid_argument", "at least one dimension"),
])
def test_serialize_refusals_are_safetensor_errors_naming_the_tensor(tmp_path, desc, code, text):
    for call in (lambda: stkit.serialize({"t": desc}), lambda: stkit.serialize_file({"t": desc}, tmp_path / "o")):
        with pytest.raises(stkit.SafetensorError) as raised:
            call()
        assert raised.value.code == code
        assert raised.value.name == "t"
        if text:
            assert text in str(raised.value)
    assert not (tmp_path / "o").exists()


def test_deserialize_refuses_malformed_bytes_with_the_readers_code():
    good = stkit.serialize({"t": {"dtype": "int32", "shape": [2], "data": b"\1\0\0\0\2\0\0\0"}})
    with pytest.raises(stkit.SafetensorError) as raised:
        stkit.deserialize(good[:-1])
    assert raised.value.code.startswith("st_")
    with pytest.raises(stkit.SafetensorError) as raised:
        stkit.deserialize(b"\1\0\0")
    assert raised.value.code.startswith("st_")
