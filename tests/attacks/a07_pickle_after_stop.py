"""A harmless pickle, STOP, then the payload pickle: pickle.load reads one object, but loaders that read
on (torch's legacy layout, joblib, custom code) run the second; scanners that stop at STOP miss it."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "process", "module": "os", "name": "system"}}


def generate(folder):
    return write(folder + "/model.pkl", benign_pickle() + os_system_pickle())
