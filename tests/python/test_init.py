"""stkit's own functions beyond the reference: convert, scan and inspect give what the stkit command
prints as JSON (compared with the command itself), refusals raise UnsafeCheckpointError, and the version."""
import os
import pickle
import shutil

import numpy as np
import pytest
import torch

import stkit
import stkit.torch
from conftest import STKIT_BIN, run_stkit, stkit_json


def test_version_is_the_projects():
    assert stkit.__version__ == stkit._stkit.__version__
    if STKIT_BIN:
        assert run_stkit("--version").stdout.split()[-1] == stkit.__version__


def without_paths(report):
    return {k: v for k, v in report.items() if k != "outputs"}, [
        {k: v for k, v in o.items() if k not in ("path", "source")} for o in report["outputs"]]


def test_convert_gives_the_commands_report_and_the_same_file(tmp_path):
    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(8, 4)
            self.head = torch.nn.Linear(4, 8, bias=False)
            self.head.weight = self.embed.weight

    torch.save({"state_dict": Tiny().state_dict(), "epoch": 3}, tmp_path / "a.ckpt")
    shutil.copy(tmp_path / "a.ckpt", tmp_path / "b.ckpt")
    report = stkit.convert(tmp_path / "a.ckpt")
    expected = stkit_json("convert", str(tmp_path / "b.ckpt"), "--json")
    assert without_paths(report) == without_paths(expected)
    assert report["outputs"][0]["path"] == str(tmp_path / "a.safetensors")
    assert report["aliases"] == [{"alias": "head.weight", "kept": "embed.weight"}]
    assert report["unwrapped"] == "state_dict" and report["verified"] is True
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()
    with pytest.raises(stkit.SafetensorError) as raised:
        stkit.convert(tmp_path / "a.ckpt")
    assert raised.value.code == "output_exists"
    assert stkit.convert(tmp_path / "a.ckpt", tmp_path / "c.safetensors", overwrite=True, verify=False)["verified"] is False
    assert torch.equal(stkit.torch.load_file(tmp_path / "c.safetensors")["embed.weight"],
                       stkit.torch.load_file(tmp_path / "a.safetensors")["embed.weight"])


class Payload:
    def __reduce__(self):
        return (os.system, ("echo never run",))


def test_convert_refusal_raises_unsafe_checkpoint_error(tmp_path):
    path = tmp_path / "evil.bin"
    path.write_bytes(pickle.dumps({"w": Payload()}, protocol=2))
    with pytest.raises(stkit.UnsafeCheckpointError) as raised:
        stkit.convert(path)
    e = raised.value
    assert e.code == "pk_global_refused" and e.name == "posix.system" and isinstance(e.offset, int)
    assert e.file == str(path)
    assert not (tmp_path / "evil.safetensors").exists()
    failure = stkit_json("convert", str(path), "--json", check=False)
    assert failure["refused_unsafe"] and failure["error"]["offset"] == e.offset and failure["error"]["name"] == e.name


def test_convert_errors_that_are_not_refusals(tmp_path):
    (tmp_path / "junk.bin").write_bytes(b"not a checkpoint at all")
    with pytest.raises(stkit.SafetensorError) as raised:
        stkit.convert(tmp_path / "junk.bin")
    assert not isinstance(raised.value, stkit.UnsafeCheckpointError)
    os.mkdir(tmp_path / "folder")
    with pytest.raises(stkit.SafetensorError, match="in place"):
        stkit.convert(tmp_path / "folder", tmp_path / "x.safetensors")


def test_scan_gives_the_commands_reports(tmp_path):
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(Payload()))
    torch.save({"w": torch.zeros(2)}, tmp_path / "fine.pt")
    np.save(tmp_path / "plain.npy", np.arange(3))
    reports = stkit.scan(tmp_path, jobs=2)
    expected = stkit_json("scan", str(tmp_path), "--format", "json", check=False)["files"]
    assert reports == expected
    verdicts = {os.path.basename(r["path"]): r["verdict"] for r in reports}
    assert verdicts == {"evil.pkl": "dangerous", "fine.pt": "safe", "plain.npy": "safe"}
    missing = stkit.scan([tmp_path / "fine.pt", tmp_path / "absent"])
    assert [r["verdict"] for r in missing] == ["error", "safe"]
    assert stkit.scan(tmp_path / "fine.pt", max_bytes=1)[0]["path"] == str(tmp_path / "fine.pt")


def test_inspect_gives_the_commands_document(tmp_path):
    path = tmp_path / "a.safetensors"
    stkit.torch.save_file({"w": torch.zeros(2, 3), "b": torch.zeros(3, dtype=torch.int8)}, path, {"format": "pt"})
    doc = stkit.inspect(path)
    assert doc == stkit_json("inspect", str(path), "--json")
    assert doc["metadata"] == {"format": "pt"} and doc["total_bytes"] == 27
    assert [t["name"] for t in doc["tensors"]] == ["w", "b"]
    with pytest.raises(FileNotFoundError):
        stkit.inspect(tmp_path / "absent.safetensors")
