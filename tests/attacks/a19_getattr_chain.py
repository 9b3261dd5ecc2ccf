"""builtins.getattr chains: getattr(__import__('os'), 'system') reaches any callable from two
'harmless-looking' builtins."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "introspection", "module": "builtins", "name": "getattr"}}


def generate(folder):
    data = (proto(2) + global_op("builtins", "getattr") +
            MARK + global_op("builtins", "__import__") + binunicode("os") + tuple1() + REDUCE +
            binunicode("system") + TUPLE + REDUCE +
            binunicode(shell_command()) + tuple1() + REDUCE + STOP)
    return write(folder + "/model.pkl", data)
