"""Baseline: GLOBAL os.system + REDUCE (what `pickle.dumps` of a __reduce__ gadget writes)."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "process", "module": "os", "name": "system"}}


def generate(folder):
    return write(folder + "/model.pkl", os_system_pickle())
