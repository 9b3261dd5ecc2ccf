"""Whole models (`torch.save(model)`) convert to exactly `model.state_dict()` without running
anything: Sequential MLP, TransformerEncoder, a CNN with BatchNorm, an LSTM, tied embeddings, buffers (one non-persistent),
ParameterList/ParameterDict, a user's classes from a helper module and from __main__, nested
containers, legacy and zip formats, protocol 1. Each is compared bit for bit with the state_dict()
of the real torch.load(weights_only=False) of the file the test made. Bare tensors and lists or
tuples of tensors convert under the names "tensor", "0", "1"... A model carrying a payload, or
whose class is on the dangerous list, is refused, and the payload never runs."""
import json
import os
import subprocess
import sys

import torch

import whole_models
from common import check, compare_with_torch, finish, flatten, read_safetensors, scratch, stkit

work = scratch("whole_model")


def convert_json(label, path):
    output = path + ".safetensors"
    code, out, err = stkit("convert", path, "-o", output, "--json")
    check(code == 0, f"{label}: exit {code}: {out} {err}")
    return output, (json.loads(out) if code == 0 else {})


counts = {}
for label, path in whole_models.make_whole_models(os.path.join(work, "models")).items():
    loaded = torch.load(path, weights_only=False)  # the test's own file: safe to run here
    model = loaded["model"] if label == "wrapped" else loaded
    expected = model.state_dict()
    if label == "wrapped":
        expected = {"model." + name: tensor for name, tensor in expected.items()}
    output, report = convert_json(label, path)
    if not report:
        continue
    metadata = compare_with_torch(label, path, output, expected=dict(expected))
    aliases = {entry["alias"]: entry["kept"] for entry in report["aliases"]}
    check(report["tensors_written"] == len(expected) - len(aliases),
          f"{label}: {report['tensors_written']} written, state_dict has {len(expected)}, aliases {aliases}")
    check(report["model_classes"] == whole_models.model_classes(model),
          f"{label}: model classes {report['model_classes']} vs {whole_models.model_classes(model)}")
    counts[label] = (len(expected), report["tensors_written"])
    if label == "tied":
        check(aliases == {"head.weight": "embed.weight"} and metadata.get("head.weight") == "embed.weight",
              f"tied: alias recorded: {aliases} {metadata}")
    if label == "buffers":
        _, tensors = read_safetensors(output)
        check("cache" not in tensors and "cache" not in metadata, "buffers: the non-persistent buffer is left out")
        check("running_mean" in tensors and "scales.2" in tensors and "gates.right" in tensors,
              f"buffers: persistent buffer, ParameterList and ParameterDict entries: {sorted(tensors)}")
        check("__main__.Buffers" in report["model_classes"], f"buffers: __main__ class listed: {report}")
    if label == "user_module":
        check(aliases.get("shared.weight") == "again.weight" and aliases.get("shared.bias") == "again.bias",
              f"user_module: a module under two names is one set of tensors: {aliases}")
        check("stkit_user_models.Encoder" in report["model_classes"], f"user_module: classes {report}")
    if label == "transformer":
        check("layers.2.self_attn.out_proj.weight" in expected, "transformer: dotted names as state_dict")
    if label == "wrapped":
        check(any(entry["name"] == "epoch" for entry in report["non_tensors"]),
              f"wrapped: the epoch is listed: {report['non_tensors']}")

# The text report names the classes too.
code, out, err = stkit("convert", os.path.join(work, "models", "mlp.pt"), "-o",
                       os.path.join(work, "mlp_text.safetensors"))
check(code == 0 and "model classes: torch.nn.modules.activation.ReLU, torch.nn.modules.container.Sequential, "
      "torch.nn.modules.linear.Linear" in out, f"text report: {out} {err}")

# What state_dict() alone cannot say is refused as malformed (exit 2), naming the module: a
# registered state_dict hook (it would change the result), a module that contains itself.
hooked = torch.nn.Sequential(torch.nn.Linear(2, 2))
hooked[0]._register_state_dict_hook(whole_models.state_dict_hook)
looped = torch.nn.Sequential(torch.nn.Linear(2, 2))
looped._modules["again"] = looped
for label, model, why in (("hooked", hooked, "_state_dict_hooks"), ("looped", looped, "contains itself")):
    path = os.path.join(work, label + ".pt")
    torch.save(model, path)
    code, out, err = stkit("convert", path, "-o", path + ".safetensors")
    check(code == 2 and "cv_invalid_checkpoint" in err and why in err, f"{label}: exit {code}: {err}")
    check(not os.path.exists(path + ".safetensors"), f"{label}: no output")

# An object that is not a module, beside tensors: listed, not converted.
path = os.path.join(work, "with_object.pt")
torch.save({"w": torch.ones(2), "config": whole_models.Config()}, path)
output, report = convert_json("with_object", path)
check(report.get("tensors_written") == 1 and {"name": "config", "kind": "object", "value": "instance of __main__.Config"}
      in report.get("non_tensors", []), f"with_object: {report}")

# Bare tensors, lists and tuples.
for label, path in whole_models.make_bare(os.path.join(work, "bare")).items():
    loaded = torch.load(path, weights_only=False)
    expected = {"tensor": loaded} if isinstance(loaded, torch.Tensor) else flatten(loaded)
    output, report = convert_json(label, path)
    if report:
        compare_with_torch(label, path, output, expected=expected)
        check(sorted(read_safetensors(output)[1]) == sorted(expected), f"{label}: names {sorted(expected)}")
        counts[label] = (len(expected), report["tensors_written"])

# Payloads: refused with the global and its offset, nothing written, nothing run.
marker = os.path.join(work, "MARKER")
payloads = whole_models.make_payload_models(os.path.join(work, "payload"), marker)
probe = marker + ".probe"
probe_file = whole_models.make_payload_models(os.path.join(work, "probe"), probe)["payload"]
subprocess.run([sys.executable, "-c", "import sys, torch; torch.load(sys.argv[1], weights_only=False)", probe_file],
               capture_output=True, cwd=work)
check(os.path.exists(probe), "payload: the file really runs its command under torch.load")
expected_global = {"payload": "posix.system", "payload_legacy": "posix.system", "popen_class": "subprocess.Popen",
                   "popen_class_protocol1": "subprocess.Popen"}
for label, path in payloads.items():
    output = path + ".safetensors"
    code, out, err = stkit("convert", path, "-o", output, "--json")
    failure = json.loads(out).get("error", {}) if out else {}
    check(code == 1 and failure.get("name") == expected_global[label] and isinstance(failure.get("offset"), int),
          f"{label}: exit {code}, refusal names {expected_global[label]} with an offset: {out} {err}")
    check(not os.path.exists(output), f"{label}: no output")
    check(not os.path.exists(marker), f"{label}: the payload ran")

for label, (state, written) in sorted(counts.items()):
    print(f"{label}: {state} state_dict entries, {written} tensors written")
finish()
