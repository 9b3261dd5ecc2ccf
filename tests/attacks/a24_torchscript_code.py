"""A TorchScript archive whose code/ file was edited to call __import__('os'): torch.jit.load compiles
and runs the archive's code."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "code-execution", "name": "__import__"}}


def generate(folder):
    import torch

    class Scaled(torch.nn.Module):
        def forward(self, x):
            return x * 2

    clean = folder + "/clean.pt"
    torch.jit.save(torch.jit.script(Scaled()), clean)
    out = folder + "/model.pt"
    with zipfile.ZipFile(clean) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if "/code/" in info.filename and info.filename.endswith(".py"):
                data = data + b"\n_ = __import__('os').system(" + repr(shell_command()).encode() + b")\n"
            dst.writestr(info, data)
    os.remove(clean)
    return out
