"""A protocol 0 pickle compressed with gzip under a neutral name: joblib.load decompresses gzip by
its magic number and unpickles what comes out. The wrapper's content is scanned for what it is,
not assumed to be a tar."""
from attack_common import *
import gzip

EXPECTED = {"verdict": "dangerous", "finding": {"category": "process", "module": "subprocess", "name": "call"}}


def generate(folder):
    data = global_op("subprocess", "call") + b"(S" + repr(shell_command()).encode() + b"\ntR."
    return write(folder + "/weights.gz", gzip.compress(data))
