#!/usr/bin/python3
"""No false positives: real checkpoints made with torch 1.13 (every dtype, tied weights, the legacy
format, a nested .ckpt with plain-data extras), NumPy files, safetensors files written per the
spec, a GGUF header, GGUF files with real chat templates and llama.cpp's metadata, Keras 3 archives
of real configs (with and without weights), a skops LogisticRegression, Git LFS pointers, TensorFlow
graphs and ONNX models written per their protos, and random bytes must all scan `safe`, exit 0, with
the right format and no finding. Random bytes must not be detected as ONNX (or anything else). The
templates, configs and schema are in data/.

Environment: STKIT_BIN, STKIT_SCRATCH. Run with /usr/bin/python3 (torch, numpy).
"""
import glob
import h5py
import io
import json
import os
import shutil
import random
import struct
import subprocess
import sys

import numpy as np
import torch

torch.manual_seed(0)  # the models' weights, so every run scans the same bytes

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "attacks"))
from attack_common import gguf_bytes, keras_archive, skops_archive, zip_bytes  # noqa: E402
data = os.path.join(here, "data")

scratch = os.environ["STKIT_SCRATCH"]
folder = os.path.join(scratch, "benign")
shutil.rmtree(folder, ignore_errors=True)  # a rerun starts from nothing
os.makedirs(folder)
expected = {}  # file name -> format stkit must report
in_folder = {}  # file name -> its path under the scratch folder, for files in a subfolder


def path(name):
    return os.path.join(folder, name)


# torch checkpoints: every dtype torch 1.13 saves, views and tied weights.
dtypes = [torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int8, torch.uint8, torch.int16,
          torch.int32, torch.int64, torch.bool, torch.complex64, torch.complex128]
tensors = {str(d).replace("torch.", ""): (torch.arange(12) % 3).to(d).reshape(3, 4) for d in dtypes}
torch.save(tensors, path("dtypes.pt"))
expected["dtypes.pt"] = "torch-zip"

model = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 10, bias=False))
model[1].weight = model[0].weight  # tied
torch.save(model.state_dict(), path("tied.bin"))
expected["tied.bin"] = "torch-zip"

base = torch.arange(20, dtype=torch.float32)
torch.save({"a": base[2:8], "b": base.view(4, 5)[1:, ::2], "param": torch.nn.Parameter(torch.ones(3))},
           path("views.pth"))
expected["views.pth"] = "torch-zip"

# Tensor data whose bytes start like things a loader could deserialize: PROTO 2 followed by float
# bytes (one float32 in about ten thousand starts so), a zip signature, a gzip magic. torch reads
# these records as raw bytes; they are data, not hidden payloads.
lookalikes = {
    "proto": b"\x80\x02\xf8\x3f" + bytes(range(60)),
    "proto_then_mark": b"\x80\x03(\x3f" * 16,
    "zip_magic": b"PK\x03\x04" + bytes(60),
    "gzip_magic": b"\x1f\x8b\x08\x00" + bytes(60),
    # Random weights of a tied Embedding (found in 1,500 torch.save runs): read as a pickle, a FRAME
    # longer than the data and an EXT2 code; no global is named, nothing can run.
    "frame_and_ext": bytes.fromhex(
        "4e477e3efb0e1d3f334e833e1a95ee3e57c60a3fa877873e3151f13ebf08ce3fb4c3613f78c1c53e918f1f3ff7eb0d3f"
        "9b7c8e3e20f4acbfca1f69bf64a961bf160532bf2fb3fa3ecb1b003f0f50f53eb26d7dbf2eb9d5be027d383e7cb60a3e"
        "ef13273f6bd64a3d194517bf81184abf64869ebf5c099bbe63448e3febf0bbbe8f3163be1811163fd11115bfd7b18b3f"
        "823b49be47d586bfcdbb1c3f0b10333f"),
}
torch.save({name: torch.frombuffer(bytearray(raw), dtype=torch.float32).clone() for name, raw in lookalikes.items()},
           path("lookalike_data.pt"))
expected["lookalike_data.pt"] = "torch-zip"

torch.save(model.state_dict(), path("legacy.pt"), _use_new_zipfile_serialization=False)
expected["legacy.pt"] = "torch-legacy"

optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
model(torch.tensor([1, 2])).sum().backward()
optimizer.step()
checkpoint = {"epoch": 7, "global_step": 1234, "lr": 1e-3, "name": "run-1", "flags": [True, None],
              "betas": (0.9, 0.999), "state_dict": model.state_dict(), "optimizer": optimizer.state_dict(),
              "nested": {"ema": {"decay": 0.999, "weights": {"w": torch.zeros(2, 2)}}}}
torch.save(checkpoint, path("nested.ckpt"))
expected["nested.ckpt"] = "torch-zip"
torch.save(checkpoint, path("nested_protocol4.ckpt"), pickle_protocol=4)
expected["nested_protocol4.ckpt"] = "torch-zip"

# NumPy.
np.save(path("f32.npy"), np.arange(12, dtype=np.float32).reshape(3, 4))
expected["f32.npy"] = "npy"
np.save(path("big_endian.npy"), np.arange(5, dtype=">i8"))
expected["big_endian.npy"] = "npy"
np.savez(path("arrays.npz"), a=np.ones(3), b=np.zeros((2, 2), dtype=np.int16))
expected["arrays.npz"] = "npz"
np.savez_compressed(path("compressed.npz"), a=np.ones(100))
expected["compressed.npz"] = "npz"


# safetensors, written by hand from the spec: u64 header length, JSON header, data.
def safetensors_file(name, entries, metadata=None):
    header, data = {}, b""
    for tensor_name, (dtype, shape, raw) in entries.items():
        header[tensor_name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path(name), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
    expected[name] = "safetensors"


safetensors_file("model.safetensors", {"w": ("F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)),
                                       "b": ("BF16", [2], b"\x80\x3f\x00\x40")}, {"format": "pt"})
safetensors_file("empty.safetensors", {})

# GGUF header: magic, version 3, zero tensors, zero metadata entries.
with open(path("model.gguf"), "wb") as f:
    f.write(b"GGUF" + struct.pack("<IQQ", 3, 0, 0))
expected["model.gguf"] = "gguf"

# GGUF with each real chat template in data/chat_templates and the metadata llama.cpp's converter
# writes: architecture, hyperparameters, a vocabulary (string, i32 and f32 arrays), special tokens.
vocabulary = ["<unk>", "<s>", "</s>"] + [chr(c) for c in range(33, 127)] + ["\u0120the", "\u0120a", "<|im_end|>"]
for template_path in sorted(glob.glob(os.path.join(data, "chat_templates", "*.jinja"))):
    name = "chat_" + os.path.basename(template_path)[:-len(".jinja")] + ".gguf"
    with open(template_path) as f:
        template = f.read()
    metadata = [("general.architecture", "llama"), ("general.name", "Tiny Chat"), ("general.file_type", 1),
                ("general.quantization_version", 2), ("llama.context_length", 4096),
                ("llama.embedding_length", 64), ("llama.block_count", 2), ("llama.feed_forward_length", 256),
                ("llama.attention.head_count", 4), ("llama.attention.head_count_kv", 2),
                ("llama.rope.freq_base", 500000.0), ("llama.attention.layer_norm_rms_epsilon", 1e-05),
                ("tokenizer.ggml.model", "gpt2"), ("tokenizer.ggml.pre", "llama-bpe"),
                ("tokenizer.ggml.tokens", vocabulary),
                ("tokenizer.ggml.token_type", [3, 3, 3] + [1] * (len(vocabulary) - 3)),
                ("tokenizer.ggml.scores", [0.0] * len(vocabulary)), ("tokenizer.ggml.merges", ["\u0120 t", "h e"]),
                ("tokenizer.ggml.bos_token_id", 1), ("tokenizer.ggml.eos_token_id", 2),
                ("tokenizer.ggml.add_bos_token", True), ("tokenizer.chat_template", template),
                ("tokenizer.chat_template.rag", template), ("tokenizer.chat_templates", ["rag"])]
    with open(path(name), "wb") as f:
        f.write(gguf_bytes(metadata, tensor_count=0))
    expected[name] = "gguf"


# Keras 3 archives of the configs in data/keras, with real HDF5 weights and without any.
def keras_weights():
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        h5.create_group("_layer_checkpoint_dependencies")
        h5.create_dataset("layers/dense/vars/0", data=np.ones((20, 64), dtype=np.float32))
        h5.create_dataset("layers/dense/vars/1", data=np.zeros(64, dtype=np.float32))
    return buffer.getvalue()


for config_path in sorted(glob.glob(os.path.join(data, "keras", "*.json"))):
    with open(config_path) as f:
        config = json.load(f)
    stem = os.path.basename(config_path)[:-len(".json")]
    with open(path(stem + ".keras"), "wb") as f:
        f.write(zip_bytes([("metadata.json", '{"keras_version": "3.6.0", "date_saved": "2024-11-02@10:21:43"}'),
                           ("config.json", json.dumps(config)), ("model.weights.h5", keras_weights())]))
    expected[stem + ".keras"] = "keras"
    with open(path(stem + "_no_weights.keras"), "wb") as f:
        f.write(keras_archive(config, weights=False))
    expected[stem + "_no_weights.keras"] = "keras"


# A skops LogisticRegression: schema.json and the arrays it names, as skops.io.dump writes them.
with open(os.path.join(data, "skops", "logistic_regression.json")) as f:
    schema = json.load(f)


def npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


arrays = {"classes_": np.array([0, 1, 2]), "n_iter_": np.array([37], dtype=np.int32),
          "coef_": np.arange(12, dtype=np.float64).reshape(3, 4), "intercept_": np.zeros(3)}
members = [(schema["content"]["content"][key]["file"], npy(value)) for key, value in arrays.items()]
with open(path("logistic_regression.skops"), "wb") as f:
    f.write(skops_archive(schema, members))
expected["logistic_regression.skops"] = "skops"

with open(path("pointer.bin"), "w") as f:
    f.write("version https://git-lfs.github.com/spec/v1\noid sha256:" + "ab" * 32 + "\nsize 123456\n")
expected["pointer.bin"] = "git-lfs-pointer"

# Ordinary files a model repository or a system holds, which an unpickler would read a few opcodes
# of before failing: none imports anything, so none may raise a finding (issue 10's clean twins).
import gzip
import tarfile
import zipfile
import base64
import pickle

with open(path("appconst.inc"), "w") as f:  # 'c' GLOBAL + a module-like first line, then no name
    f.write("const\n  IDOK = 1;\n  IDI_SYSINFO = 100;\n")
expected["appconst.inc"] = "unknown"
with open(path("release-notes.txt"), "w") as f:  # parses as BINFLOAT, DUP, ... up to a '.'
    f.write("GIT v1.5.2.1 Release Notes\n==========================\n\nFixes since v1.5.2\n")
expected["release-notes.txt"] = "unknown"
with open(path("changelog.gz"), "wb") as f:
    f.write(gzip.compress(b"stkit (0.1-1) unstable; urgency=medium\n\n  * Initial release.\n" * 40))
expected["changelog.gz"] = "gzip"
# A gettext catalogue with 123 strings: its 9th byte is '{', its first 8 a huge "header length".
mo = struct.pack("<IIIIIII", 0x950412de, 0, 123, 28, 28 + 123 * 8, 0, 0) + bytes(123 * 16)
with open(path("messages.mo"), "wb") as f:
    f.write(mo)
expected["messages.mo"] = "unknown"
with open(path("tokenizer.json"), "w") as f:
    json.dump({"version": "1.0", "model": {"type": "BPE", "vocab": {"cat": 0, "dog": 1}, "merges": ["c a", "ca t"]}}, f)
expected["tokenizer.json"] = "unknown"
with open(path("vocab.txt"), "w") as f:  # BERT's layout: special tokens first, then words
    f.write("[PAD]\n[unused0]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\ncat\ndog\n")
expected["vocab.txt"] = "unknown"
# A protocol 0 pickle of plain data, and one whose string holds a base64 pickle that imports nothing.
with open(path("plain_p0.pkl"), "wb") as f:
    f.write(pickle.dumps({"epoch": 3, "names": ["a", "b"], "lr": 0.5}, protocol=0))
expected["plain_p0.pkl"] = "pickle"
with open(path("notes.pkl"), "wb") as f:
    f.write(pickle.dumps({"blob": base64.b64encode(pickle.dumps([1, 2, 3], protocol=4)).decode()}, protocol=4))
expected["notes.pkl"] = "pickle"
# Archives whose names and links stay inside their folder, with a benign pickle in each.
for tree_file, data in (("a.txt", b"alpha"), ("sub/b.pkl", pickle.dumps({"x": 1}, protocol=2))):
    os.makedirs(os.path.dirname(path("tree/" + tree_file)), exist_ok=True)
    with open(path("tree/" + tree_file), "wb") as f:
        f.write(data)
os.symlink("../a.txt", path("tree/sub/link"))
with tarfile.open(path("tree.tar.gz"), "w:gz") as t:
    t.add(path("tree"), arcname="tree")
expected["tree.tar.gz"] = "tar"
with zipfile.ZipFile(path("tree.zip"), "w", zipfile.ZIP_DEFLATED) as z:
    z.write(path("tree/a.txt"), "tree/a.txt")
    z.write(path("tree/sub/b.pkl"), "tree/sub/b.pkl")
expected["tree.zip"] = "zip"
subprocess.run(["7z", "a", "-bd", "-bso0", "-bsp0", path("tree.7z"), path("tree")], check=True)
expected["tree.7z"] = "7z"
shutil.rmtree(path("tree"))

# TensorFlow and ONNX, written field by field with the attack generators' encoder.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "attacks"))
from attack_common import (DT_FLOAT, DT_STRING, onnx_graph, onnx_matmul_model, onnx_model, onnx_node,  # noqa: E402
                           onnx_tensor, onnx_value_info, pb_bytes, tf_attr, tf_const_string, tf_function, tf_graph,
                           tf_node, tf_saved_model, tf_type)

# A SavedModel with a saver: TF1's, whose prefix is a Placeholder fed at restore time, joined with a
# temporary suffix and sharded; TF2's traced save function, whose prefix is an argument. A TF1
# vocabulary table reads an asset: its Const keeps the path at export time and the loader feeds it
# assets/vocab.txt (asset_file_def).
float_attr = tf_attr("dtype", tf_type(DT_FLOAT))
tf1 = [tf_node("x", "Placeholder", attrs=float_attr), tf_node("w", "VarHandleOp", attrs=float_attr),
       tf_node("w/Read", "ReadVariableOp", ["w"]), tf_node("y", "MatMul", ["x", "w/Read"]),
       tf_node("save/Const", "Placeholder", attrs=tf_attr("dtype", tf_type(DT_STRING))),
       tf_const_string("save/StringJoin/inputs_1", "_temp_0c8c7d8b2e3d4b6a/part"),
       tf_node("save/StringJoin", "StringJoin", ["save/Const", "save/StringJoin/inputs_1"]),
       tf_node("save/ShardedFilename", "ShardedFilename", ["save/StringJoin", "save/shard", "save/num_shards"]),
       tf_const_string("save/SaveV2/tensor_names", "w"), tf_const_string("save/SaveV2/shape_and_slices", ""),
       tf_node("save/SaveV2", "SaveV2",
               ["save/ShardedFilename", "save/SaveV2/tensor_names", "save/SaveV2/shape_and_slices", "w/Read"]),
       tf_node("save/Pack", "Pack", ["save/ShardedFilename", "^save/SaveV2"]),
       tf_node("save/MergeV2Checkpoints", "MergeV2Checkpoints", ["save/Pack", "save/Const"]),
       tf_node("save/RestoreV2", "RestoreV2",
               ["save/Const", "save/SaveV2/tensor_names", "save/SaveV2/shape_and_slices"]),
       tf_const_string("asset_path", "/home/export/vocab.txt"), tf_node("table", "HashTableV2"),
       tf_node("table/init", "InitializeTableFromTextFileV2", ["table", "asset_path"])]
saver_def = pb_bytes(3, pb_bytes(1, "save/Const:0") + pb_bytes(2, "save/Identity:0") + pb_bytes(3, "save/restore_all"))
assets = pb_bytes(6, pb_bytes(1, pb_bytes(1, "asset_path:0")) + pb_bytes(2, "vocab.txt"))
tf2_save = tf_function("__inference__traced_save_58", [
    tf_node("StaticRegexFullMatch", "StaticRegexFullMatch", ["file_prefix"], tf_attr("pattern", pb_bytes(2, "^s3://.*"))),
    tf_const_string("Const", ".part"), tf_const_string("Const_1", "_temp/part"),
    tf_node("Select", "Select", ["StaticRegexFullMatch:output:0", "Const:output:0", "Const_1:output:0"]),
    tf_node("StringJoin", "StringJoin", ["file_prefix", "Select:output:0"]),
    tf_node("ShardedFilename", "ShardedFilename", ["StringJoin:output:0", "shard:output:0", "num_shards:output:0"]),
    tf_node("SaveV2", "SaveV2", ["ShardedFilename:filename:0", "names:output:0", "slices:output:0"]),
    tf_node("Pack", "Pack", ["ShardedFilename:filename:0", "^SaveV2"]),
    tf_node("MergeV2Checkpoints", "MergeV2Checkpoints", ["Pack:output:0", "file_prefix"]),
    tf_node("Identity", "Identity", ["file_prefix", "^MergeV2Checkpoints"])])
os.makedirs(path("savedmodel/variables"))
in_folder["saved_model.pb"] = "savedmodel/saved_model.pb"
with open(path(in_folder["saved_model.pb"]), "wb") as f:
    f.write(tf_saved_model(tf_graph(tf1, [tf2_save]), saver_def + assets))
expected["saved_model.pb"] = "tf-savedmodel"
# A frozen GraphDef has no magic: nothing detects it, and it must scan safe all the same.
with open(path("frozen_graph.pb"), "wb") as f:
    f.write(tf_graph([tf_node("x", "Placeholder", attrs=float_attr), tf_node("w", "Const", attrs=float_attr),
                      tf_node("mm", "MatMul", ["x", "w"]), tf_node("b", "Const", attrs=float_attr),
                      tf_node("y", "Add", ["mm", "b"])]))
expected["frozen_graph.pb"] = "unknown"

# ONNX: weights in external files inside the model's folder; a model of the standard and ONNX
# Runtime domains with its weights inline.
os.makedirs(path("onnx/data"))
weights = np.arange(16, dtype=np.float32).tobytes()
for name in ("onnx/weights.bin", "onnx/data/w.bin"):
    with open(path(name), "wb") as f:
        f.write(weights)
nodes = [onnx_node("MatMul", ["x", "W1"], ["h"], "mm1"), onnx_node("MatMul", ["h", "W2"], ["y"], "mm2")]
external = onnx_graph(nodes, [onnx_tensor("W1", [4, 4], location="weights.bin"),
                              onnx_tensor("W2", [4, 4], location="data/w.bin")],
                      [onnx_value_info("x", [1, 4])], [onnx_value_info("y", [1, 4])])
in_folder["external.onnx"] = "onnx/external.onnx"
with open(path(in_folder["external.onnx"]), "wb") as f:
    f.write(onnx_model(external))
expected["external.onnx"] = "onnx"
with open(path("standard.onnx"), "wb") as f:
    f.write(onnx_matmul_model(onnx_tensor("W", [4, 4], raw=weights), domain="com.microsoft", op_type="FusedMatMul",
                              opsets=(("", 17), ("ai.onnx.ml", 3), ("com.microsoft", 1))))
expected["standard.onnx"] = "onnx"

# Random bytes are only required not to pass the ONNX ModelProto check (they may look like a broken
# pickle or safetensors file by chance, so their verdict is not asserted).
random_names = set()
random.seed(4)
for i in range(20):
    name = "random%02d.onnx" % i
    with open(path(name), "wb") as f:
        f.write(bytes(random.randrange(256) for _ in range(random.randrange(16, 4096))))
    random_names.add(name)

result = subprocess.run([os.environ["STKIT_BIN"], "scan", "--format", "json", "--jobs", "2", folder],
                        capture_output=True, text=True)
document = json.loads(result.stdout)
failures = []
seen = set()
for report in document["files"]:
    name = os.path.basename(report["path"])
    seen.add(name)
    if name in random_names:
        if report["format"] == "onnx":
            failures.append("%s: random bytes detected as ONNX" % name)
        continue
    if report["verdict"] != "safe":
        failures.append("%s: %s %s" % (name, report["verdict"], json.dumps(report["findings"])[:2000]))
    elif any(f["category"] != "member" for f in report["findings"]):  # "member" only lists what was read
        failures.append("%s: findings %s" % (name, json.dumps(report["findings"])[:2000]))
    if name in expected and report["format"] != expected[name]:
        failures.append("%s: format %s, expected %s (%s)" % (name, report["format"], expected[name], report["detail"]))
missing = set(expected) - seen
if missing:
    failures.append("not reported: %s" % sorted(missing))
paths = [f["path"] for f in document["files"]]
if paths != sorted(paths):
    failures.append("output order is not deterministic (sorted)")
# The exit code over the files that must all be safe.
result = subprocess.run([os.environ["STKIT_BIN"], "scan"] + [path(in_folder.get(n, n)) for n in sorted(expected)],
                        capture_output=True, text=True)
if result.returncode != 0:
    failures.append("exit code %d: %s" % (result.returncode, result.stdout[-3000:]))
for f in failures:
    print(f)
print("%d files, %d problems" % (len(document["files"]), len(failures)))
sys.exit(1 if failures else 0)
