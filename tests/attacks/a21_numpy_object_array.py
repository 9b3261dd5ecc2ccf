"""NumPy .npy with an object dtype: numpy.load(allow_pickle=True) unpickles the data section."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "process", "module": "os", "name": "system"}}


def generate(folder):
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header = header + " " * (63 - (10 + len(header)) % 64) + "\n"
    data = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + os_system_pickle()
    return write(folder + "/array.npy", data)
