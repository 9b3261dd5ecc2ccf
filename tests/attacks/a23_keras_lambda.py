"""Keras 3 .keras archive whose config.json holds a Lambda layer (its function is stored code)."""
from attack_common import *
import json

EXPECTED = {"verdict": "dangerous", "finding": {"category": "code-execution", "name": "Lambda"}}


def generate(folder):
    config = {"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": [
        {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
         "config": {"name": "lambda", "function": {"class_name": "__lambda__", "config": {
             "code": "4wEAAAAAAAAAAAAAAAEAAAADAAAAcwQAAAB8AFMAKQFOqQCpAdoBeHIBAAAAcgEAAAD6AS4="}}}}]}}
    out = folder + "/model.keras"
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.0.0"}))
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)
    return out
