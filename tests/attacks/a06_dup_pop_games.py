"""Stack trick: DUP and POP shuffle decoy strings around STACK_GLOBAL so a scanner that pairs the two
strings written just before it (instead of emulating the stack) sees 'builtins.print'."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "process", "module": "subprocess", "name": "getoutput"}}


def generate(folder):
    body = (short_unicode("subprocess") + short_unicode("getoutput") + DUP + POP +
            MARK + short_unicode("builtins") + short_unicode("print") + b"1" +  # POP_MARK drops the decoys
            STACK_GLOBAL + binunicode(shell_command()) + tuple1() + REDUCE + STOP)
    return write(folder + "/model.pkl", proto(4) + body)
