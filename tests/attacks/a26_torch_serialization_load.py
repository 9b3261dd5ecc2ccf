"""torch.serialization.load called from a pickle on an attacker-chosen file (a second, unscanned
checkpoint): named in the issue as a gadget missing from denylists."""
from attack_common import *

EXPECTED = {"verdict": "dangerous",
            "finding": {"category": "nested-deserialization", "module": "torch.serialization", "name": "load"}}


def generate(folder):
    return write(folder + "/model.pkl", call_with_string("torch.serialization", "load", "/tmp/other.pt"))
