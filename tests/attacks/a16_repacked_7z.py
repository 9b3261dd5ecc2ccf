"""The torch zip re-packed inside a 7z archive (scanners that only open zips see an unknown blob)."""
from attack_common import *
import subprocess

EXPECTED = {"verdict": "dangerous", "finding": {"category": "process", "module": "os", "name": "system"}}


def generate(folder):
    inner = folder + "/inner"
    os.makedirs(inner, exist_ok=True)
    write(inner + "/model.pt", bytes(torch_zip_bytes([("data.pkl", os_system_pickle()), ("version", b"3\n")])))
    out = folder + "/model.7z"
    subprocess.run(["7z", "a", "-bd", "-bso0", "-bsp0", out, inner + "/model.pt"], check=True)
    return out
