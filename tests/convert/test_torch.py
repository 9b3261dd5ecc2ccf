"""Converts real torch.save checkpoints (tied weights, every torch 1.13 dtype, views, Parameters,
legacy format, pickle protocols 2/4/5, nested .ckpt, transformers folders) and compares every
tensor bit for bit with torch.load."""
import json
import os
import shutil

import torch

import fixtures
from common import (check, compare_with_torch, convert_ok, finish, read_safetensors, scratch,
                    stkit)

made = fixtures.make_torch(scratch("torch"))
for label, path in made.items():
    output = convert_ok(label, path)
    if os.path.exists(output):
        metadata = compare_with_torch(label, path, output)
        if label in ("tied", "nested"):
            check(metadata.get("head.weight") == "embed.weight",
                  f"{label}: tied weight alias recorded as {metadata}")
        if label == "views":
            # The Hub's rule: the smallest name of the group is kept ("also_base" < "base").
            check(metadata.get("base") == "also_base", f"views: alias base -> {metadata}")
            _, tensors = read_safetensors(output)
            check("sliced" in tensors and "transposed" in tensors,
                  "views: partial overlaps of one storage are each written")

# --json report of a nested checkpoint: tensors, alias, and every non-tensor entry with its kind.
code, out, err = stkit("convert", made["nested"], "-o", made["nested"] + ".json.safetensors", "--json")
check(code == 0, f"nested --json: exit {code} {err}")
if code == 0:
    report = json.loads(out)
    others = {entry["name"]: entry for entry in report.get("non_tensors", [])}
    check(others.get("epoch", {}).get("kind") == "int" and others["epoch"].get("value") == "3",
          f"nested: epoch listed: {others.get('epoch')}")
    check(others.get("hyper_parameters", {}).get("kind") == "dict",
          f"nested: hyper_parameters listed: {others.get('hyper_parameters')}")
    check("global_step" in others and "loops" in others, f"nested: all entries listed: {list(others)}")
    check(report.get("unwrapped") == "state_dict", "nested: report says state_dict was unwrapped")
    check({"alias": "head.weight", "kept": "embed.weight"} in report.get("aliases", []),
          f"nested: alias in report: {report.get('aliases')}")
    check(report.get("tensors_written") == 5, f"nested: 5 tensors written: {report.get('tensors_written')}")
    check(report.get("verified") is True, "nested: verified")
    check("holds tensors" in others.get("optimizer_states", {}).get("value", ""),
          f"nested: optimizer_states listed as holding tensors: {others.get('optimizer_states')}")

# A global outside the allowlist anywhere (here a Lightning AttributeDict) is a refusal naming it.
lightning = fixtures.make_lightning_attributedict(os.path.join(scratch("torch"), "lightning.ckpt"))
code, out, err = stkit("convert", lightning)
check(code == 1 and "pytorch_lightning.utilities.parsing.AttributeDict" in err and "byte" in err,
      f"AttributeDict: exit {code} {err}")
check(not os.path.exists(lightning[:-5] + ".safetensors"), "AttributeDict: no output")

# complex128 cannot be represented: refused by tensor name, exit 2, no output.
bad = os.path.join(scratch("torch"), "complex128.pt")
torch.save({"fine": torch.ones(2), "z": torch.ones(2, dtype=torch.complex128)}, bad)
code, out, err = stkit("convert", bad)
check(code == 2 and "'z'" in err and "cv_unsupported_dtype" in err, f"complex128: exit {code} {err}")
check(not os.path.exists(bad[:-3] + ".safetensors"), "complex128: no output left")

# A transformers folder with one pytorch_model.bin -> model.safetensors, original kept.
single = fixtures.make_single_folder(scratch("single"))
code, out, err = stkit("convert", single)
check(code == 0, f"single folder: exit {code} {err}")
check(os.path.exists(os.path.join(single, "pytorch_model.bin")), "single folder: original kept")
if check(os.path.exists(os.path.join(single, "model.safetensors")), "single folder: model.safetensors"):
    compare_with_torch("single", os.path.join(single, "pytorch_model.bin"),
                       os.path.join(single, "model.safetensors"))

# A sharded folder: every shard converted, the index rewritten.
sharded = fixtures.make_sharded(scratch("sharded"))
code, out, err = stkit("convert", sharded)
check(code == 0, f"sharded: exit {code} {err}")
index_path = os.path.join(sharded, "model.safetensors.index.json")
if check(os.path.exists(index_path), "sharded: model.safetensors.index.json written"):
    with open(os.path.join(sharded, "pytorch_model.bin.index.json")) as f:
        source_index = json.load(f)
    with open(index_path) as f:
        index = json.load(f)
    expected_map = {name: file.replace("pytorch_model", "model").replace(".bin", ".safetensors")
                    for name, file in source_index["weight_map"].items()}
    dropped = {}
    for k in (1, 2):
        shard = f"model-0000{k}-of-00002.safetensors"
        source = os.path.join(sharded, f"pytorch_model-0000{k}-of-00002.bin")
        check(os.path.exists(source), f"sharded: original shard {k} kept")
        if check(os.path.exists(os.path.join(sharded, shard)), f"sharded: {shard} written"):
            metadata = compare_with_torch(shard, source, os.path.join(sharded, shard))
            dropped.update({a: v for a, v in metadata.items() if a != "format"})
    for alias in dropped:
        expected_map.pop(alias, None)
    check(index.get("weight_map") == expected_map, f"sharded: weight_map {index.get('weight_map')}")
    check(index.get("metadata", {}).get("total_size") == source_index["metadata"]["total_size"],
          f"sharded: total_size kept: {index.get('metadata')}")
code, out, err = stkit("convert", sharded)
check(code == 2 and "output_exists" in err, f"sharded again without --force: exit {code} {err}")
code, out, err = stkit("convert", sharded, "--force")
check(code == 0, f"sharded again with --force: exit {code} {err}")

# A shard that the index does not describe is refused before anything is written.
broken = scratch("sharded_broken")
shutil.rmtree(broken)
shutil.copytree(sharded, broken)
for name in os.listdir(broken):
    if name.startswith("model"):
        os.remove(os.path.join(broken, name))
with open(os.path.join(broken, "pytorch_model.bin.index.json")) as f:
    index = json.load(f)
index["weight_map"]["not.in.any.shard"] = "pytorch_model-00001-of-00002.bin"
with open(os.path.join(broken, "pytorch_model.bin.index.json"), "w") as f:
    json.dump(index, f)
code, out, err = stkit("convert", broken)
check(code == 2 and "cv_index_invalid" in err, f"broken index: exit {code} {err}")
check(not any(name.startswith("model") for name in os.listdir(broken)), "broken index: no output")

finish()
