"""An ONNX model whose weight keeps its bytes in an "external file" ../../etc/passwd: the loader
joins the location to the model's folder and reads a file the model does not own."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "file", "name": "W"}}


def generate(folder):
    weight = onnx_tensor("W", [4, 4], location="../../etc/passwd")
    return write(folder + "/model.onnx", onnx_matmul_model(weight))
