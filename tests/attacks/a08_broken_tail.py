"""The payload runs before the stream breaks: the loader has already executed it when it reaches the
garbage, while a scanner that rejects the whole stream on the error reports nothing."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "process", "module": "os", "name": "system"}}


def generate(folder):
    data = proto(2) + global_op("os", "system") + binunicode(shell_command()) + tuple1() + REDUCE + b"\xff\xfe garbage"
    return write(folder + "/model.pkl", data)
