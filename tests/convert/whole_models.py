"""Whole models (`torch.save(model)`) and bare tensors, made with Debian's torch for the convert and
scan tests: every maker writes into a folder and returns {label: path}. Classes a user would define
in their script are made `__main__` classes of whichever test runs (pickled as `__main__.Name`, and
found there again by torch.load in the test); one model's classes live in a helper module the test
writes and imports."""
import importlib
import os
import subprocess
import sys

import torch
from torch import nn

torch.manual_seed(0)


def _main_class(cls):
    """Makes `cls` a class of the running script, as a user's own model class is."""
    cls.__module__ = "__main__"
    setattr(sys.modules["__main__"], cls.__name__, cls)
    return cls


@_main_class
class TiedLM(nn.Module):
    """Embedding tied to the output head: state_dict() lists the weight under both names."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(11, 4)
        self.block = nn.Linear(4, 4)
        self.norm = nn.LayerNorm(4)
        self.head = nn.Linear(4, 11, bias=False)
        self.head.weight = self.embed.weight


@_main_class
class Buffers(nn.Module):
    """A persistent and a non-persistent buffer, None entries, ParameterList and ParameterDict."""

    def __init__(self):
        super().__init__()
        self.register_buffer("running_mean", torch.randn(3))
        self.register_buffer("cache", torch.randn(5), persistent=False)
        self.register_buffer("missing", None)
        self.register_parameter("absent", None)
        self.scales = nn.ParameterList([nn.Parameter(torch.randn(2)) for _ in range(3)])
        self.gates = nn.ParameterDict({"left": nn.Parameter(torch.randn(4)),
                                       "right": nn.Parameter(torch.randn(1, 2))})
        self.proj = nn.Linear(3, 3)
        self.label = "not state"  # plain attributes are not in state_dict()


@_main_class
class Config:
    """A plain object beside the tensors of a checkpoint."""

    def __init__(self):
        self.width = 4


def state_dict_hook(module, state, prefix, local_metadata):
    """A state_dict hook (it could rename or drop entries): pickled as a reference to this function."""
    return state


HELPER_MODULE = '''"""A user's model code, in a module of its own (written by the test)."""
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.layers = nn.ModuleList([nn.Sequential(nn.Linear(width, width), nn.GELU()) for _ in range(2)])
        self.heads = nn.ModuleDict({"a": nn.Linear(width, 2),
                                    "b": nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 3))})


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Block(4), Block(4)])
        self.shared = nn.Linear(4, 4)
        self.again = self.shared  # one module under two names: state_dict() lists it twice
        self.register_buffer("steps", torch.tensor(7))
'''


def helper_module(folder):
    """Writes the user's model module into `folder` and imports it."""
    with open(os.path.join(folder, "stkit_user_models.py"), "w") as f:
        f.write(HELPER_MODULE)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module("stkit_user_models")


def make_whole_models(folder):
    """{label: path} of whole models, zip and legacy, protocol 2 and 1."""
    os.makedirs(folder, exist_ok=True)
    mlp = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    transformer = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32), num_layers=3)
    models = {
        "mlp": mlp,
        "transformer": transformer,
        # activation="gelu" stores the native function torch._C._nn.gelu in each layer's state
        "transformer_gelu": nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32, activation="gelu"),
                                                  num_layers=2),
        "tied": TiedLM(),
        "buffers": Buffers(),
        "user_module": helper_module(folder).Encoder(),
        "bf16": nn.Sequential(nn.Linear(3, 5), nn.Tanh()).to(torch.bfloat16),
        "cnn": nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2)),
        "lstm": nn.LSTM(4, 8, num_layers=2, bidirectional=True),
        "wrapped": {"model": mlp, "epoch": 3},  # a model inside a checkpoint dict
    }
    made = {}
    for label, model in models.items():
        made[label] = os.path.join(folder, label + ".pt")
        torch.save(model, made[label])
        if label in ("mlp", "transformer", "buffers", "user_module"):
            made[label + "_legacy"] = os.path.join(folder, label + "_legacy.pt")
            torch.save(model, made[label + "_legacy"], _use_new_zipfile_serialization=False)
    # Protocol 1 creates objects with copyreg._reconstructor(cls, object, None), not NEWOBJ.
    made["mlp_protocol1"] = os.path.join(folder, "mlp_protocol1.pt")
    torch.save(mlp, made["mlp_protocol1"], pickle_protocol=1)
    return made


def make_bare(folder):
    """A bare tensor (zip and legacy), a list and a tuple of tensors."""
    os.makedirs(folder, exist_ok=True)
    values = {"tensor": torch.randn(2, 3), "tensor_legacy": torch.arange(5, dtype=torch.int16),
              "list": [torch.randn(3), torch.ones(2, 2, dtype=torch.float16)],
              "tuple": (torch.zeros(4, dtype=torch.int64), torch.randn(1))}
    made = {}
    for label, value in values.items():
        made[label] = os.path.join(folder, label + ".pt")
        torch.save(value, made[label], _use_new_zipfile_serialization=not label.endswith("legacy"))
    return made


class Payload:
    """Unpickling this runs a shell command."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def make_payload_models(folder, marker):
    """Whole models carrying a REDUCE of os.system in a module's __dict__ (zip and legacy), and one
    whose class is subprocess.Popen (instantiated the way pickle makes any object: NEWOBJ, and
    copyreg._reconstructor with protocol 1)."""
    os.makedirs(folder, exist_ok=True)
    made = {}
    model = nn.Sequential(nn.Linear(2, 2))
    model[0].note = Payload(f"touch {marker}")  # a plain attribute: lands in the module's __dict__
    for label, zipped in (("payload", True), ("payload_legacy", False)):
        made[label] = os.path.join(folder, label + ".pt")
        torch.save(model, made[label], _use_new_zipfile_serialization=zipped)

    class Popen(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Linear(2, 2)

    # Pickle looks the class up by name when saving; lend it subprocess's for that moment only.
    Popen.__module__, Popen.__qualname__ = "subprocess", "Popen"
    original = subprocess.Popen
    subprocess.Popen = Popen
    try:
        made["popen_class"] = os.path.join(folder, "popen_class.pt")
        torch.save(nn.Sequential(Popen()), made["popen_class"])
        # Protocol 1: created by copyreg._reconstructor(subprocess.Popen, object, None).
        made["popen_class_protocol1"] = os.path.join(folder, "popen_class_protocol1.pt")
        torch.save(nn.Sequential(Popen()), made["popen_class_protocol1"], pickle_protocol=1)
    finally:
        subprocess.Popen = original
    return made


def model_classes(model):
    """What the converter lists: every module's class, sorted."""
    return sorted({type(m).__module__ + "." + type(m).__qualname__ for m in model.modules()})
