"""Keras 2 .h5 file whose root model_config attribute holds a Lambda layer (written with h5py)."""
from attack_common import *
import json

EXPECTED = {"verdict": "dangerous", "finding": {"category": "code-execution", "name": "Lambda"}}


def generate(folder):
    import h5py
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "Lambda", "config": {"name": "evil", "function": ["4wEAAAAAAAAA", None, None],
                                            "function_type": "lambda"}}]}}
    out = folder + "/model.h5"
    with h5py.File(out, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = "2.11.0"
        f.create_dataset("w", data=[1.0, 2.0])
    return out
