"""An import that is on no list (a custom class): fail closed, 'suspicious', and the exit code is 1."""
from attack_common import *

EXPECTED = {"verdict": "suspicious",
            "finding": {"category": "unknown-import", "module": "mylib.models", "name": "Net"}}


def generate(folder):
    data = proto(2) + global_op("mylib.models", "Net") + b")" + REDUCE + STOP
    return write(folder + "/model.pkl", data)
