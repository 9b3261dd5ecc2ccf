"""A pickle stored as a tensor record (archive/data/0): scanners that only look at *.pkl names skip it;
a modified loader (or a second torch.load on the record) unpickles it."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "process", "module": "os", "name": "system"}}


def generate(folder):
    archive = torch_zip_bytes([("data.pkl", benign_pickle()), ("data/0", os_system_pickle()), ("version", b"3\n")])
    return write(folder + "/model.pt", bytes(archive))
