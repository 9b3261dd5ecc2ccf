"""Real checkpoints made with torch 1.13 / numpy for the convert tests. Each maker writes into a
folder and returns the paths it made; the tests call only those they need, once per run."""
import io
import json
import os
import pickle
import zipfile

import numpy as np
import torch

torch.manual_seed(0)


class TinyLM(torch.nn.Module):
    """Embedding tied to the output head, as in most language models."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(11, 4)
        self.block = torch.nn.Linear(4, 4)
        self.norm = torch.nn.LayerNorm(4)
        self.head = torch.nn.Linear(4, 11, bias=False)
        self.head.weight = self.embed.weight


def every_dtype():
    values = torch.randn(2, 3) * 100
    out = {
        "bool": values > 0, "uint8": values.abs().to(torch.uint8), "int8": values.to(torch.int8),
        "int16": values.to(torch.int16), "int32": values.to(torch.int32),
        "int64": values.to(torch.int64), "float16": values.half(),
        "bfloat16": values.bfloat16(), "float32": values.clone(), "float64": values.double(),
        "complex64": torch.complex(values, -values),
    }
    out["float32_special"] = torch.tensor([float("nan"), float("inf"), -0.0, 1e-45])
    return out


def views():
    base = torch.arange(60, dtype=torch.float32).reshape(6, 10)
    return {
        "base": base,
        "also_base": base,  # the same view: an alias
        "sliced": base[1:, ::2],
        "transposed": base.t(),
        "strided": torch.as_strided(base, (3, 4), (7, 2), 5),
        "row": base[2],
        "expanded": base[0:1].expand(4, 10),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "narrow_int": torch.arange(100, dtype=torch.int64)[10:30:3],
    }


def parameters():
    frozen = torch.nn.Parameter(torch.randn(3, 2), requires_grad=False)
    return {"weight": torch.nn.Parameter(torch.randn(4, 3)), "frozen": frozen,
            "nested": {"bias": torch.nn.Parameter(torch.randn(4))}}


def make_torch(folder):
    """The torch checkpoints that must convert; returns {label: path}."""
    os.makedirs(folder, exist_ok=True)
    made = {}

    def save(label, obj, **kwargs):
        path = os.path.join(folder, label + ".pt")
        torch.save(obj, path, **kwargs)
        made[label] = path

    model = TinyLM()
    save("tied", model.state_dict())
    save("dtypes", every_dtype())
    save("views", views())
    save("parameters", parameters())
    mixed = {**every_dtype(), **views()}
    save("legacy", mixed, _use_new_zipfile_serialization=False)
    for protocol in (2, 4, 5):
        save(f"protocol{protocol}", mixed, pickle_protocol=protocol)
    save("legacy_protocol4", views(), _use_new_zipfile_serialization=False, pickle_protocol=4)
    save("nested", {"state_dict": model.state_dict(), "epoch": 3, "global_step": 120,
                    "hyper_parameters": {"lr": 0.001, "layers": [2, 4], "name": "tiny"},
                    "optimizer_states": [{"state": {0: {"exp_avg": torch.zeros(3)}},
                                          "param_groups": [{"lr": 0.1, "params": [0]}]}],
                    "loops": None})
    return made


def make_lightning_attributedict(path):
    """A .ckpt whose hyper_parameters are a Lightning AttributeDict: a class outside the allowlist."""
    import sys
    import types
    module = types.ModuleType("pytorch_lightning.utilities.parsing")

    class AttributeDict(dict):
        pass

    AttributeDict.__module__ = module.__name__
    AttributeDict.__qualname__ = "AttributeDict"
    module.AttributeDict = AttributeDict
    for parent in ("pytorch_lightning", "pytorch_lightning.utilities"):
        sys.modules.setdefault(parent, types.ModuleType(parent))
    sys.modules[module.__name__] = module
    torch.save({"state_dict": {"w": torch.ones(2)}, "epoch": 1,
                "hyper_parameters": AttributeDict(lr=0.1)}, path)
    return path


def make_sharded(folder):
    """A transformers-style sharded folder, written by hand like save_pretrained does."""
    os.makedirs(folder, exist_ok=True)
    state = TinyLM().state_dict()
    names = sorted(state)
    shards = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map = {}
    total = 0
    for k, shard in enumerate(shards, start=1):
        file = f"pytorch_model-{k:05d}-of-{len(shards):05d}.bin"
        torch.save({name: state[name] for name in shard}, os.path.join(folder, file))
        for name in shard:
            weight_map[name] = file
            total += state[name].numel() * state[name].element_size()
    with open(os.path.join(folder, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"model_type": "tiny"}, f)
    return folder


def make_single_folder(folder):
    os.makedirs(folder, exist_ok=True)
    torch.save(TinyLM().state_dict(), os.path.join(folder, "pytorch_model.bin"))
    return folder


def rewrite_zip(source, destination, replace=None, add=None, drop=()):
    """Copies a torch zip, replacing member bytes (by name suffix), adding or dropping members."""
    replace = replace or {}
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(destination, "w", zipfile.ZIP_STORED) as new:
        prefix = old.namelist()[0].split("/")[0] + "/"
        for info in old.infolist():
            relative = info.filename[len(prefix):]
            if relative in drop:
                continue
            data = old.read(info.filename)
            if relative in replace:
                data = replace[relative](data) if callable(replace[relative]) else replace[relative]
            new.writestr(info.filename, data)
        for relative, data in (add or {}).items():
            new.writestr(prefix + relative, data)
    return destination


def numpy_arrays():
    rng = np.random.default_rng(1)
    base = rng.standard_normal((3, 5)) * 50
    out = {}
    for code in ("?", "u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f2", "f4", "f8", "c8"):
        out["t_" + code.replace("?", "bool")] = (base + 1j * base if code == "c8" else base).astype(code)
    out["fortran2d"] = np.asfortranarray(base.astype("f4"))
    out["fortran3d"] = np.asfortranarray(np.arange(24, dtype="i2").reshape(2, 3, 4))
    out["big_f4"] = base.astype(">f4")
    out["big_i8"] = base.astype(">i8")
    out["big_c8"] = (base - 2j).astype(">c8")
    out["big_f2_fortran"] = np.asfortranarray(base.astype(">f2"))
    out["scalar"] = np.array(7.25, dtype="f8")
    out["empty"] = np.zeros((0, 4), dtype="f4")
    return out


def make_numpy(folder):
    """Returns {label: (path, {tensor name: array})}."""
    os.makedirs(folder, exist_ok=True)
    arrays = numpy_arrays()
    made = {}
    for name, array in arrays.items():
        path = os.path.join(folder, name + ".npy")
        np.save(path, array)
        made[name] = (path, {name: array})
    for version in ((2, 0), (3, 0)):
        path = os.path.join(folder, f"v{version[0]}.npy")
        with open(path, "wb") as f:
            np.lib.format.write_array(f, arrays["fortran2d"], version=version)
        made[f"v{version[0]}"] = (path, {f"v{version[0]}": arrays["fortran2d"]})
    stored = os.path.join(folder, "stored.npz")
    np.savez(stored, **arrays)
    made["stored_npz"] = (stored, arrays)
    deflated = os.path.join(folder, "deflated.npz")
    np.savez_compressed(deflated, **arrays)
    made["deflated_npz"] = (deflated, arrays)
    return made


class Payload:
    """Unpickling this runs a shell command: what a malicious checkpoint does."""

    def __init__(self, command, call=os.system):
        self.command, self.call = command, call

    def __reduce__(self):
        return (self.call, (self.command,))


def malicious_pickles(marker):
    """Raw pickles that create `marker` when loaded by Python's unpickler."""
    command = f"touch {marker}"
    stack_global = (b"\x80\x04\x8c\x05posix\x94\x8c\x06system\x94h\x00h\x01\x93" +
                    b"\x8c" + bytes([len(command)]) + command.encode() + b"\x85R.")
    return {
        "posix_system": pickle.dumps(Payload(command), protocol=2),
        "builtins_exec": pickle.dumps(Payload(f"import os; os.system('{command}')", exec), protocol=2),
        "stack_global_memo": stack_global,
        "nested_in_dict": pickle.dumps({"weight": torch.zeros(2), "x": Payload(command)}, protocol=2),
        "two_globals": pickle.dumps({"a": Payload(command),
                                     "b": Payload(f"import os; os.system('{command}')", exec)},
                                    protocol=2),
    }


def make_malicious(folder, marker):
    """Checkpoints that must be refused: {label: path}."""
    os.makedirs(folder, exist_ok=True)
    good = os.path.join(folder, "good.pt")
    torch.save({"weight": torch.ones(2, 2)}, good)
    made = {}
    for label, payload in malicious_pickles(marker).items():
        if label == "nested_in_dict":
            continue  # pickles a tensor with storages outside a zip: used only in the legacy file
        made["zip_" + label] = rewrite_zip(good, os.path.join(folder, f"zip_{label}.pt"),
                                           replace={"data.pkl": payload})
    legacy = os.path.join(folder, "legacy_reduce.pt")
    with open(legacy, "wb") as f:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
            pickle.dump(header, f, protocol=2)
        pickle.dump({"weight": Payload(f"touch {marker}")}, f, protocol=2)
        pickle.dump([], f, protocol=2)
    made["legacy_reduce"] = legacy
    obj_npy = os.path.join(folder, "object.npy")
    np.save(obj_npy, np.array([Payload(f"touch {marker}"), 1], dtype=object), allow_pickle=True)
    made["npy_object"] = obj_npy
    obj_npz = os.path.join(folder, "object.npz")
    np.savez(obj_npz, fine=np.ones(3), bad=np.array([Payload(f"touch {marker}")], dtype=object))
    made["npz_object"] = obj_npz
    torchscript = os.path.join(folder, "scripted.pt")
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), torchscript)
    made["torchscript"] = torchscript
    return made
