"""A joblib dump compressed with zlib: the pickle names
joblib.numpy_pickle.NumpyArrayWrapper like a real dump and carries the payload."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "process", "module": "os", "name": "system"}}


def generate(folder):
    pickle_bytes = (proto(4) + global_op("joblib.numpy_pickle", "NumpyArrayWrapper") + POP +
                    global_op("os", "system") + binunicode(shell_command()) + tuple1() + REDUCE + STOP)
    # joblib's zlib compressor writes a plain zlib stream (0x78 magic) around the pickle.
    return write(folder + "/model.joblib", zlib.compress(pickle_bytes))
