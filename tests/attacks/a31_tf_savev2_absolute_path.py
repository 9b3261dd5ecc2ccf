"""A SavedModel whose saver writes its checkpoint to a constant absolute path instead of the
prefix the loader feeds: SaveV2 then writes a file wherever the model says."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "file", "module": "tensorflow", "name": "SaveV2"}}


def generate(folder):
    graph = tf_graph([tf_node("w", "VarHandleOp", attrs=tf_attr("dtype", tf_type(DT_FLOAT))),
                      tf_const_string("save/Const", os.path.abspath(marker_path())),
                      tf_const_string("save/SaveV2/tensor_names", "w"),
                      tf_const_string("save/SaveV2/shape_and_slices", ""),
                      tf_node("save/SaveV2", "SaveV2",
                              ["save/Const", "save/SaveV2/tensor_names", "save/SaveV2/shape_and_slices", "w"])])
    os.makedirs(folder + "/model")
    return write(folder + "/model/saved_model.pb", tf_saved_model(graph))
