"""Memo trick: the module and name strings are memoized, dropped, and fetched back with BINGET
before STACK_GLOBAL, so no GLOBAL opcode and no adjacent strings name os.system."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "process", "module": "os", "name": "system"}}


def generate(folder):
    body = (short_unicode("os") + MEMOIZE + POP + short_unicode("decoy") + MEMOIZE + POP +
            short_unicode("system") + MEMOIZE + POP +
            binget(0) + binget(2) + STACK_GLOBAL + binunicode(shell_command()) + tuple1() + REDUCE + STOP)
    return write(folder + "/model.pkl", proto(4) + body)
