"""stkit.torch: load_file's order and pages, the reference's refusals, save_model/load_model with tied
weights, byte identity with the C++ writer and the converter, sharded loading, devices."""
import os

import pytest
import torch

import stkit
import stkit.torch
from conftest import run_stkit


def test_load_file_orders_by_offset_and_shares_the_file_pages(tmp_path):
    tensors = {"b": torch.arange(4, dtype=torch.float64), "a": torch.arange(3, dtype=torch.int8)}
    path = tmp_path / "a.safetensors"
    stkit.torch.save_file(tensors, path)
    loaded = stkit.torch.load_file(path)
    assert list(loaded) == ["b", "a"]  # F64 before I8, as the reference lays them out
    before = path.read_bytes()
    loaded["b"] += 1  # writable, private to this process
    assert path.read_bytes() == before
    assert torch.equal(stkit.torch.load_file(path)["b"], tensors["b"])


def test_refusals_as_the_reference(tmp_path):
    path = tmp_path / "x.safetensors"
    with pytest.raises(ValueError, match="non contiguous tensor: `t`"):
        stkit.torch.save_file({"t": torch.zeros(3, 4).t()}, path)
    with pytest.raises(ValueError, match="sparse"):
        stkit.torch.save_file({"s": torch.zeros(2, 2).to_sparse()}, path)
    shared = torch.zeros(4)
    with pytest.raises(RuntimeError, match="share memory"):
        stkit.torch.save_file({"a": shared, "b": shared}, path)
    with pytest.raises(ValueError, match="expected torch.Tensor"):
        stkit.torch.save_file({"a": [1, 2]}, path)
    with pytest.raises(ValueError, match="Expected a dict"):
        stkit.torch.save_file([torch.zeros(1)], path)
    with pytest.raises(stkit.SafetensorError) as raised:
        stkit.torch.save_file({"c": torch.zeros(2, dtype=torch.complex128)}, path)
    assert raised.value.name == "c"
    with pytest.raises(TypeError):
        stkit.torch.save_file({"a": torch.zeros(1)}, path, metadata={"n": 1})
    assert not path.exists()
    # Views of disjoint parts of one storage are not shared tensors.
    base = torch.arange(10.0)
    stkit.torch.save_file({"lo": base[:5], "hi": base[5:]}, path)
    assert torch.equal(stkit.torch.load_file(path)["hi"], base[5:])


class Tied(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(10, 4)
        self.proj = torch.nn.Linear(4, 4)
        self.head = torch.nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight


def test_save_model_and_load_model_with_tied_weights(tmp_path):
    torch.manual_seed(0)
    model = Tied()
    path = tmp_path / "model.safetensors"
    with pytest.raises(RuntimeError, match="share memory"):
        stkit.torch.save_file(model.state_dict(), path)
    stkit.torch.save_model(model, path, metadata={"note": "tied"})
    with stkit.safe_open(path, "pt") as f:
        assert "head.weight" not in f.keys() and "embed.weight" in f.keys()
        assert f.metadata() == {"note": "tied", "head.weight": "embed.weight"}
    fresh = Tied()
    missing, unexpected = stkit.torch.load_model(fresh, path)
    assert missing == [] and unexpected == []
    for name, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], value), name
    assert fresh.head.weight is fresh.embed.weight  # still one parameter

    class Bigger(Tied):
        def __init__(self):
            super().__init__()
            self.extra = torch.nn.Linear(2, 2)

    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "extra.bias", "extra.weight"'):
        stkit.torch.load_model(Bigger(), path)
    missing, unexpected = stkit.torch.load_model(Bigger(), path, strict=False)
    assert sorted(missing) == ["extra.bias", "extra.weight"] and unexpected == []


def test_save_model_non_contiguous_needs_force_contiguous(tmp_path):
    model = torch.nn.Linear(3, 5)
    model.weight = torch.nn.Parameter(torch.randn(3, 5).t())
    path = tmp_path / "m.safetensors"
    with pytest.raises(ValueError, match="force_contiguous=True"):
        stkit.torch.save_model(model, path)
    stkit.torch.save_model(model, path, force_contiguous=True)
    assert torch.equal(stkit.torch.load_file(path)["weight"], model.weight.detach())


def test_same_bytes_as_the_cpp_writer(tmp_path):
    sample = os.environ.get("STKIT_WRITE_SAMPLE")
    if not sample:
        pytest.skip("STKIT_WRITE_SAMPLE is not set")
    expected = tmp_path / "cpp.safetensors"
    import subprocess

    subprocess.run([sample, str(expected)], check=True)
    k = lambda n: torch.arange(n, dtype=torch.float64)  # noqa: E731
    tensors = {
        "weight": (k(6) * 0.5 - 1).float().reshape(2, 3), "bias": k(3) * 0.25, "index": k(4).long() - 2,
        "mask": (k(5).long() % 2).bool(), "half": k(4).half().reshape(2, 2), "brain": k(3).bfloat16(),
        "empty": torch.zeros(0, dtype=torch.uint8), "scalar": torch.tensor(42, dtype=torch.int32),
        'caf\u00e9 "q"': (k(2) * -7).short(),
    }
    metadata = {"format": "pt", "note": 'tab\there "quoted" \u00e9\x01'}
    ours = tmp_path / "py.safetensors"
    stkit.torch.save_file(tensors, ours, metadata)
    assert ours.read_bytes() == expected.read_bytes()


def test_same_bytes_as_the_converter(tmp_path):
    torch.manual_seed(1)
    state = {"w": torch.randn(4, 3), "b": torch.randn(3).half(), "n": torch.arange(5), "m": torch.ones(2, dtype=torch.bool)}
    torch.save(state, tmp_path / "pytorch_model.bin")
    run_stkit("convert", str(tmp_path / "pytorch_model.bin"))
    stkit.torch.save_file(state, tmp_path / "ours.safetensors", metadata={"format": "pt"})
    assert (tmp_path / "ours.safetensors").read_bytes() == (tmp_path / "model.safetensors").read_bytes()


def test_load_sharded(tmp_path):
    import json

    first = {"a": torch.arange(3.0), "b": torch.ones(2, 2)}
    second = {"c": torch.arange(4, dtype=torch.int16)}
    stkit.torch.save_file(first, tmp_path / "model-00001-of-00002.safetensors")
    stkit.torch.save_file(second, tmp_path / "model-00002-of-00002.safetensors")
    index = tmp_path / "model.safetensors.index.json"
    weight_map = {"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
                  "c": "model-00002-of-00002.safetensors"}
    index.write_text(json.dumps({"metadata": {"total_size": 36}, "weight_map": weight_map}))
    loaded = stkit.torch.load_sharded(index)
    assert set(loaded) == {"a", "b", "c"}
    for name, value in {**first, **second}.items():
        assert torch.equal(loaded[name], value)


def test_device_argument():
    with pytest.raises(stkit.SafetensorError, match="device"):
        stkit.torch._check_device("not a device")
    assert stkit.torch._check_device(0) == torch.device("cuda:0")
