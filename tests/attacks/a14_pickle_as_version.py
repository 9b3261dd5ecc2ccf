"""A pickle under the name archive/version (a member every scanner treats as text)."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "evasion"}}


def generate(folder):
    archive = torch_zip_bytes([("data.pkl", benign_pickle()), ("version", os_system_pickle())])
    return write(folder + "/model.pt", bytes(archive))
