#!/usr/bin/python3
"""Whole models (`torch.save(model)`, made here with torch 1.13) scan `suspicious`, never `safe`:
loading one imports the modules' classes, which runs their modules' code. Never `dangerous` either
(protocol 1's copyreg._reconstructor and builtins.object, a `__main__` class) unless a dangerous
global or call appears: a REDUCE of os.system in a module's state, a class that is subprocess.Popen.
Each of the model's classes is named in a `whole-model` finding. Bare tensors and lists of tensors scan `safe`.

Environment: STKIT_BIN, STKIT_SCRATCH. Run with /usr/bin/python3 (torch).
"""
import json
import os
import shutil
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "convert"))
import whole_models  # noqa: E402
import torch  # noqa: E402

folder = os.path.join(os.environ["STKIT_SCRATCH"], "whole_model")
shutil.rmtree(folder, ignore_errors=True)
models = whole_models.make_whole_models(os.path.join(folder, "models"))
bare = whole_models.make_bare(os.path.join(folder, "bare"))
payloads = whole_models.make_payload_models(os.path.join(folder, "payload"), os.path.join(folder, "MARKER"))

failures = []


def scan(path):
    done = subprocess.run([os.environ["STKIT_BIN"], "scan", "--format", "json", path], capture_output=True, text=True)
    return json.loads(done.stdout)["files"][0]


for label, path in models.items():
    report = scan(path)
    categories = {f["category"] for f in report["findings"] if f["category"] != "member"}
    named = {f.get("module", "") + "." + f.get("name", "") for f in report["findings"] if f["category"] == "whole-model"}
    if report["verdict"] != "suspicious" or categories != {"whole-model"}:
        failures.append(f"{label}: {report['verdict']} {json.dumps(report['findings'])[:1500]}")
    loaded = torch.load(path, weights_only=False)  # the test's own file: safe to run here
    wanted = set(whole_models.model_classes(loaded["model"] if label == "wrapped" else loaded))
    if label == "mlp_protocol1":
        wanted |= {"copyreg._reconstructor", "builtins.object"}
    if not wanted <= named:
        failures.append(f"{label}: whole-model findings {sorted(named)} lack {sorted(wanted - named)}")

for label, path in bare.items():
    report = scan(path)
    if report["verdict"] != "safe":
        failures.append(f"{label}: {report['verdict']} {json.dumps(report['findings'])[:1500]}")

expected = {"payload": "posix", "payload_legacy": "posix", "popen_class": "subprocess",
            "popen_class_protocol1": "subprocess"}
for label, path in payloads.items():
    report = scan(path)
    modules = {f.get("module") for f in report["findings"] if f["severity"] == "dangerous"}
    if report["verdict"] != "dangerous" or expected[label] not in modules:
        failures.append(f"{label}: {report['verdict']} {json.dumps(report['findings'])[:1500]}")
if os.path.exists(os.path.join(folder, "MARKER")):
    failures.append("the payload ran")

for f in failures:
    print(f)
print(f"{len(models) + len(bare) + len(payloads)} files, {len(failures)} problems")
sys.exit(1 if failures else 0)
