"""A SavedModel whose serving function calls tf.py_function: the PyFunc op (EagerPyFunc, PyFunc)
calls back into the Python of the process that loads and runs the model."""
from attack_common import *

EXPECTED = {"verdict": "dangerous",
            "finding": {"category": "code-execution", "module": "tensorflow", "name": "EagerPyFunc"}}


def generate(folder):
    body = [tf_node("EagerPyFunc", "EagerPyFunc", ["x"],
                    tf_attr("token", pb_bytes(2, "pyfunc_0")) + tf_attr("is_async", pb_int(5, 0))),
            tf_node("Identity", "Identity", ["EagerPyFunc:output:0"])]
    serve = tf_function("__inference_serve_42", body)
    graph = tf_graph([tf_node("x", "Placeholder", attrs=tf_attr("dtype", tf_type(DT_FLOAT))),
                      tf_node("StatefulPartitionedCall", "StatefulPartitionedCall", ["x"],
                              tf_attr("f", pb_bytes(10, pb_bytes(1, "__inference_serve_42"))))],
                     [serve])
    os.makedirs(folder + "/model")
    return write(folder + "/model/saved_model.pb", tf_saved_model(graph))
