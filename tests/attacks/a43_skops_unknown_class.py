"""skops file holding an instance of a class outside scikit-learn, NumPy and SciPy: skops refuses it
by default and loading it with trusted=... imports its module; fail closed, 'suspicious'."""
from attack_common import *

EXPECTED = {"verdict": "suspicious",
            "finding": {"category": "unknown-import", "module": "mylib.preprocessing", "name": "CustomScaler"}}


def generate(folder):
    schema = {"__class__": "CustomScaler", "__module__": "mylib.preprocessing", "__loader__": "ObjectNode",
              "content": {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode", "content": {},
                          "key_types": {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode",
                                        "content": []}},
              "protocol": 2, "_skops_version": "0.10.0"}
    return write(folder + "/model.skops", skops_archive(schema))
