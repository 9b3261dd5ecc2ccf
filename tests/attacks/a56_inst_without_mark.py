"""INST with no MARK before it: the C unpickler looks for the MARK first and stops, but pickle.py
(the unpickler joblib uses) imports the global before it looks, so the import happens there."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "process", "module": "os", "name": "system"}}


def generate(folder):
    return write(folder + "/model.joblib", b"ios\nsystem\n.")
