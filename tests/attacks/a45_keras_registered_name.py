"""Keras 3 archive whose layer keeps a Keras module but a registered name from another package
("evil_pkg>Layer"): the layer is custom code the loader must import or have imported."""
from attack_common import *

EXPECTED = {"verdict": "dangerous",
            "finding": {"category": "code-execution", "module": "evil_pkg", "name": "Layer"}}


def generate(folder):
    config = {"module": "keras", "class_name": "Sequential", "registered_name": None,
              "config": {"name": "sequential", "trainable": True, "layers": [
                  {"module": "keras.layers", "class_name": "Layer", "registered_name": "evil_pkg>Layer",
                   "config": {"name": "payload", "trainable": True}}]}}
    return write(folder + "/model.keras", keras_archive(config))
