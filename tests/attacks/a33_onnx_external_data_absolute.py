"""An ONNX model whose weight names an absolute external file: the loader reads it wherever the
model is kept."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "file", "name": "W"}}


def generate(folder):
    weight = onnx_tensor("W", [4, 4], location="/root/.ssh/id_rsa")
    return write(folder + "/model.onnx", onnx_matmul_model(weight))
