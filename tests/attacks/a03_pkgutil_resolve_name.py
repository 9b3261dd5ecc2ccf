"""Denylist gap: pkgutil.resolve_name('os:system') returns os.system without importing `os` by name
in a GLOBAL; the result is then called."""
from attack_common import *

EXPECTED = {"verdict": "dangerous",
            "finding": {"category": "import-machinery", "module": "pkgutil", "name": "resolve_name"}}


def generate(folder):
    data = (proto(2) + global_op("pkgutil", "resolve_name") + binunicode("os:system") + tuple1() + REDUCE +
            binunicode(shell_command()) + tuple1() + REDUCE + STOP)
    return write(folder + "/model.pkl", data)
