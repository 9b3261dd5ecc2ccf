"""Denylist gap: pip.main(['install', ...]) installs and runs a package (missed by early denylists)."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "import-machinery", "module": "pip", "name": "main"}}


def generate(folder):
    data = (proto(2) + global_op("pip", "main") + b"]" + MARK + binunicode("install") +
            binunicode("/nonexistent/" + MARKER_NAME) + b"e" + tuple1() + REDUCE + STOP)
    return write(folder + "/model.pkl", data)
