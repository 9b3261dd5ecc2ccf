"""Text opcodes mixed with a protocol-2 opcode and no PROTO header: GLOBAL, STRING, TUPLE1, REDUCE.
pickle.load runs it; a scanner that recognises pickles by a PROTO header or a plausible protocol 0
stream calls it unknown content."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "process", "module": "os", "name": "system"}}


def generate(folder):
    data = global_op("os", "system") + b"S" + repr(shell_command()).encode() + b"\n" + tuple1() + REDUCE + STOP
    return write(folder + "/config.bin", data)
