"""The payload pickle inside a .tar.gz."""
from attack_common import *
import tarfile

EXPECTED = {"verdict": "dangerous", "finding": {"category": "process", "module": "os", "name": "system"}}


def generate(folder):
    write(folder + "/weights.bin", os_system_pickle())
    out = folder + "/model.tar.gz"
    with tarfile.open(out, "w:gz") as t:
        t.add(folder + "/weights.bin", arcname="checkpoint/weights.bin")
    os.remove(folder + "/weights.bin")
    return out
