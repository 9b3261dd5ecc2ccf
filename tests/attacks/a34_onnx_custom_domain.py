"""An ONNX model whose operator comes from a custom domain: ONNX Runtime runs it only from a
custom-op library the user registers, native code outside the model that the scan cannot see."""
from attack_common import *

EXPECTED = {"verdict": "suspicious",
            "finding": {"category": "custom-operator", "module": "com.attacker.ops", "name": "RunShell"}}


def generate(folder):
    weight = onnx_tensor("W", [4, 4], raw=bytes(64))
    model = onnx_matmul_model(weight, opsets=(("", 17), ("com.attacker.ops", 1)), domain="com.attacker.ops",
                              op_type="RunShell")
    return write(folder + "/model.onnx", model)
