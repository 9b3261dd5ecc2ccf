"""A protocol 0 pickle (no PROTO, all text) inside a 7z archive compressed with PPMd: every member
of the archive is read and analysed as what it is, whatever the archive's compression."""
from attack_common import *
import subprocess

EXPECTED = {"verdict": "dangerous", "finding": {"category": "code-execution", "module": "builtins", "name": "exec"}}


def generate(folder):
    data = global_op("builtins", "exec") + b"(V__import__('os').system(" + repr(shell_command()).encode() + b")\ntR."
    write(folder + "/weights", data)
    out = folder + "/model.7z"
    subprocess.run(["7z", "a", "-bd", "-bso0", "-bsp0", "-m0=PPMd", out, folder + "/weights"], check=True)
    os.remove(folder + "/weights")
    return out
