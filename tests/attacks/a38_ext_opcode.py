"""EXT1: a global named by a number through copyreg's extension registry, then called. A process
that registered the code imports and calls whatever it names; scanners that look only at GLOBAL
and STACK_GLOBAL see no import at all."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "extension"}}


def generate(folder):
    data = proto(2) + b"\x82\x2a" + binunicode(shell_command()) + tuple1() + REDUCE + STOP
    return write(folder + "/model.pkl", data)
