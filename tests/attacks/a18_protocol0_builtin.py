"""Protocol 0 (no PROTO opcode, all text) with the Python 2 module name __builtin__, which the
unpickler maps to builtins: a denylist keyed on 'builtins' misses it."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "code-execution", "module": "builtins", "name": "eval"}}


def generate(folder):
    data = (b"c__builtin__\neval\n(V__import__('os').system(" + repr(shell_command()).encode() + b")\ntR.")
    return write(folder + "/model.pkl", data)
