"""`stkit inspect` and `stkit validate` on files made here with Python struct + json (per the spec)
and torch tensors: exit codes, first errors with offsets, JSON output."""
import json
import os
import struct
import subprocess
import sys

import torch

STKIT = os.environ["STKIT_BIN"]
SCRATCH = os.environ.get("STKIT_SCRATCH", "/tmp/stkit_format_cli")
os.makedirs(SCRATCH, exist_ok=True)
failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print("FAIL:", what)


def run(*args):
    result = subprocess.run([STKIT, *args], capture_output=True, text=True)
    return result.returncode, result.stdout, result.stderr


def write(name, header_text, data=b"", length=None):
    path = os.path.join(SCRATCH, name)
    header = header_text.encode() if isinstance(header_text, str) else header_text
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header) if length is None else length) + header + data)
    return path


def safetensors(name, tensors, metadata=None):
    """tensors: name -> torch tensor (whole-byte dtypes), written in the given order."""
    codes = {torch.float32: "F32", torch.int64: "I64", torch.float16: "F16", torch.uint8: "U8"}
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for key, t in tensors.items():
        raw = t.contiguous().numpy().tobytes()
        header[key] = {"dtype": codes[t.dtype], "shape": list(t.shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    return write(name, json.dumps(header), data), header, data


good, good_header, good_data = safetensors(
    "good.safetensors",
    {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "ids": torch.arange(4), "h": torch.ones(3, dtype=torch.float16)},
    {"format": "pt"})
bad_header = '{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
trailing = write("trailing.safetensors", bad_header, b"\0" * 5)
bad_dtype_header = '{"x":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}'
bad_dtype = write("bad_dtype.safetensors", bad_dtype_header, b"\0" * 4)
missing = os.path.join(SCRATCH, "does-not-exist.safetensors")

# validate: exit codes and first errors.
code, out, _ = run("validate", good)
check(code == 0 and out.strip() == good + ": ok", ("validate good", code, out))
code, out, _ = run("validate", good, trailing)
check(code == 1, ("validate with an invalid file exits 1", code))
expected_offset = 8 + len(bad_header) + 4
check(trailing in out and "byte %d" % expected_offset in out, ("trailing-byte error names file and offset", out))
code, out, _ = run("validate", "--json", good, trailing, bad_dtype)
lines = [json.loads(line) for line in out.splitlines()]
check(code == 1 and len(lines) == 3, ("validate --json lines", code, out))
check(lines[0] == {"file": good, "valid": True, "error": None}, ("valid line", lines[0]))
check(lines[1]["valid"] is False and lines[1]["error"]["code"] == "st_data_size_mismatch"
      and lines[1]["error"]["offset"] == expected_offset, ("trailing line", lines[1]))
check(lines[2]["error"]["code"] == "st_invalid_dtype" and lines[2]["error"]["tensor"] == "x"
      and lines[2]["error"]["offset"] == 8 + bad_dtype_header.index('"x"'), ("bad dtype line", lines[2]))
code, out, _ = run("validate", good, missing)
check(code == 2, ("unopenable file exits 2", code))
code, out, _ = run("validate", "--json", missing)
check(code == 2 and json.loads(out)["error"]["code"] == "io_open_failed", ("missing file json", out))

# inspect --json reports exactly what the header says.
code, out, _ = run("inspect", "--json", good)
check(code == 0, ("inspect good", code))
doc = json.loads(out)
check(list(doc) == ["metadata", "tensors", "total_bytes"], ("inspect --json keys", list(doc)))
check(doc["metadata"] == {"format": "pt"}, ("metadata", doc["metadata"]))
names = [t["name"] for t in doc["tensors"]]
check(names == ["w", "ids", "h"], ("file order", names))
for t in doc["tensors"]:
    want = good_header[t["name"]]
    check(t["dtype"] == want["dtype"] and t["shape"] == want["shape"] and t["data_offsets"] == want["data_offsets"]
          and t["bytes"] == want["data_offsets"][1] - want["data_offsets"][0], ("tensor entry", t))
check(doc["total_bytes"] == len(good_data), ("total_bytes", doc["total_bytes"]))

code, out, _ = run("inspect", good)
check(code == 0 and "format: pt" in out and "totals by dtype" in out and "[2, 3]" in out, ("inspect table", out))
code, _, err = run("inspect", trailing)
check(code == 2 and "data buffer size" in err, ("inspect invalid file", code, err))

# A sharded checkpoint: inspect adds the shard, validate checks the index.
s1, _, _ = safetensors("model-00001-of-00002.safetensors", {"a": torch.zeros(2), "a2": torch.zeros(1, dtype=torch.uint8)})
s2, _, _ = safetensors("model-00002-of-00002.safetensors", {"b": torch.ones(3, dtype=torch.uint8)})
index = os.path.join(SCRATCH, "model.safetensors.index.json")
with open(index, "w") as f:
    json.dump({"metadata": {"total_size": 11}, "weight_map": {"a": os.path.basename(s1), "a2": os.path.basename(s1),
                                                      "b": os.path.basename(s2)}}, f)
code, out, _ = run("inspect", "--json", index)
doc = json.loads(out) if code == 0 else {}
check(code == 0 and [(t["name"], t["shard"]) for t in doc["tensors"]]
      == [("a", os.path.basename(s1)), ("a2", os.path.basename(s1)), ("b", os.path.basename(s2))], ("inspect index", code, out))
check(doc.get("total_bytes") == 12, ("index total", doc.get("total_bytes")))
code, out, _ = run("validate", index)
check(code == 0, ("validate index", code, out))
with open(index, "w") as f:
    json.dump({"weight_map": {"a": os.path.basename(s1)}}, f)
code, out, _ = run("validate", "--json", index)
check(code == 1 and json.loads(out)["error"]["code"] == "st_index_unlisted_tensor", ("unlisted", out))

for command in ("inspect", "validate"):
    code, out, _ = run(command, "--help")
    check(code == 0 and "--json" in out, (command + " --help", code))

if failures:
    sys.exit("%d checks failed" % len(failures))
print("ok")
