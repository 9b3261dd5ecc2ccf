"""skops file whose FunctionTransformer holds a FunctionNode for builtins.eval: loading imports it and
transform() calls it on the input."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "code-execution", "module": "builtins", "name": "eval"}}


def json_node(value):
    return {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
            "content": json.dumps(value), "is_json": True}


def generate(folder):
    attributes = {"func": {"__class__": "eval", "__module__": "builtins", "__loader__": "FunctionNode"},
                  "validate": json_node(False), "accept_sparse": json_node(False)}
    schema = {"__class__": "FunctionTransformer", "__module__": "sklearn.preprocessing._function_transformer",
              "__loader__": "ObjectNode",
              "content": {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode",
                          "content": attributes,
                          "key_types": {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode",
                                        "content": [{"__class__": "str", "__module__": "builtins",
                                                     "__loader__": "TypeNode", "__id__": 1}] * len(attributes)}},
              "protocol": 2, "_skops_version": "0.10.0"}
    return write(folder + "/model.skops", skops_archive(schema))
