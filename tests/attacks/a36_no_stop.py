"""The payload without a STOP: the unpickler runs every opcode, the REDUCE included, and only then
fails at the end of the data. A scanner that wants a complete pickle calls it broken and safe."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "process", "module": "os", "name": "system"}}


def generate(folder):
    return write(folder + "/model.ckpt", os_system_pickle(protocol=2)[:-1])
