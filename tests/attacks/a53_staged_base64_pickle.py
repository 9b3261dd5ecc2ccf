"""A checkpoint whose metadata string holds a base64-encoded pickle that imports os.system: inert
until some code decodes and unpickles it, which is how staged payloads travel past scanners that
only look at the outer pickle's globals."""
from attack_common import *
import base64

EXPECTED = {"verdict": "suspicious", "finding": {"category": "staged-payload"}}


def generate(folder):
    inner = base64.b64encode(os_system_pickle(protocol=4)).decode()
    data = proto(2) + b"}" + MARK + binunicode("epoch") + b"K\x03" + binunicode("notes") + binunicode(inner) + b"u" + STOP
    return write(folder + "/model.pkl", data)
