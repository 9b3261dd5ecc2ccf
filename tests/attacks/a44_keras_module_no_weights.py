"""Keras 3 archive without model.weights.h5 whose config.json names a layer in module "subprocess":
Keras before 3.9 imports any module a config names (CVE-2025-1550). The archive must still be
recognised as Keras from its config.json."""
from attack_common import *

EXPECTED = {"verdict": "dangerous",
            "finding": {"category": "code-execution", "module": "subprocess", "name": "Popen"}}


def generate(folder):
    config = {"module": "keras", "class_name": "Sequential", "registered_name": None,
              "config": {"name": "sequential", "trainable": True, "layers": [
                  {"module": "subprocess", "class_name": "Popen", "registered_name": None,
                   "config": {"args": shell_command(), "shell": True}}]}}
    return write(folder + "/model.keras", keras_archive(config, weights=False))
