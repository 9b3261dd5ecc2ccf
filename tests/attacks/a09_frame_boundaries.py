"""FRAME boundaries hiding opcodes: the payload sits in the second of two frames, the first frame's
length is exact, and the GLOBAL's operand straddles nothing a frame-unaware scanner would expect."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "code-execution", "module": "builtins", "name": "exec"}}


def generate(folder):
    first = b"}" + MEMOIZE  # an empty dict, memoized
    second = (short_unicode("builtins") + short_unicode("exec") + STACK_GLOBAL +
              binunicode("open(" + repr(marker_path()) + ", 'w')") + tuple1() + REDUCE + POP)
    data = proto(4) + frame(first) + frame(second) + frame(binget(0)) + STOP
    return write(folder + "/model.pkl", data)
