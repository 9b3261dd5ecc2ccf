"""A frozen GraphDef (.pb, no magic, detected as nothing) that copies a file: ReadFile of a path
outside the model and WriteFile of its contents, run as soon as the graph is."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "file", "module": "tensorflow", "name": "WriteFile"}}


def generate(folder):
    graph = tf_graph([tf_const_string("source", "/etc/hostname"),
                      tf_const_string("target", os.path.abspath(marker_path())),
                      tf_node("read", "ReadFile", ["source"]),
                      tf_node("write", "WriteFile", ["target", "read"])])
    return write(folder + "/frozen_graph.pb", graph)
