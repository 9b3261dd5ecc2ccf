"""A plain pickle saved as pytorch_model.bin: torch.load falls back to the legacy unpickler on any
non-zip file; detection by extension calls it a torch checkpoint."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "process", "module": "os", "name": "system"}}


def generate(folder):
    return write(folder + "/pytorch_model.bin", os_system_pickle())
