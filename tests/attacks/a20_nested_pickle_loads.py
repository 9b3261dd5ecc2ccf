"""pickle.loads(b'...'): the outer pickle imports only pickle.loads; the payload is inside the bytes
argument and must be decoded and scanned in turn."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "process", "module": "os", "name": "system"}}


def generate(folder):
    inner = call_with_string("subprocess", "getoutput", shell_command()).replace(b"subprocess\ngetoutput", b"os\nsystem")
    data = proto(3) + global_op("pickle", "loads") + binbytes(inner) + tuple1() + REDUCE + STOP
    return write(folder + "/model.pkl", data)
