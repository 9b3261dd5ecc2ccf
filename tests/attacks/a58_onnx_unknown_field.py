"""An ONNX model with a field the detector's schema does not list (ModelProto.configuration, 26, from
ONNX 1.18): detection calls it unknown, but loaders skip what they do not know, so its external data
../../etc/passwd is read all the same."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "file", "name": "W"}}


def generate(folder):
    weight = onnx_tensor("W", [4, 4], location="../../etc/passwd")
    configuration = pb_bytes(26, pb_bytes(1, "default"))
    return write(folder + "/model.onnx", onnx_matmul_model(weight) + configuration)
