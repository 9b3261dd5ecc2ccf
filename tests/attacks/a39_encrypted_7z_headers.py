"""A 7z archive with encrypted headers around the payload: nothing in it can be read without the
password, so nothing about it can be claimed safe. It must say so (suspicious, not scanned), not
call it malformed or safe."""
from attack_common import *
import subprocess

EXPECTED = {"verdict": "suspicious", "finding": {"category": "encrypted"}}


def generate(folder):
    write(folder + "/model.pkl", os_system_pickle())
    out = folder + "/model.7z"
    subprocess.run(["7z", "a", "-bd", "-bso0", "-bsp0", "-mhe=on", "-pinfected", out, folder + "/model.pkl"], check=True)
    os.remove(folder + "/model.pkl")
    return out
