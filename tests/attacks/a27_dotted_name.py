"""Protocol 4 dotted qualname: STACK_GLOBAL('posixpath', 'os.system') resolves through the os module
that posixpath imports; a check of the module name alone sees only the harmless 'posixpath'."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "process", "module": "posixpath", "name": "os.system"}}


def generate(folder):
    body = (short_unicode("posixpath") + short_unicode("os.system") + STACK_GLOBAL +
            binunicode(shell_command()) + tuple1() + REDUCE + STOP)
    return write(folder + "/model.pkl", proto(4) + body)
