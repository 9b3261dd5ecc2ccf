"""STOP two bytes before the end of its FRAME, then a second pickle after the frame. pickle.py and
the C unpickler on a file without peek() start the next load after the frame; a reader that
starts right after the STOP sees two stray bytes. The second pickle imports and calls."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "evasion"}}


def generate(folder):
    first = b"N" + STOP + b"K\x01"
    second = os_system_pickle(protocol=2)
    return write(folder + "/model.pkl", proto(4) + frame(first) + second)
