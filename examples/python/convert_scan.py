"""examples/python/convert_scan.py — stkit's extras from Python: the README's "Beyond the reference"
snippet (run by ctest on examples/tiny/pytorch_model.bin, writing into a scratch folder)."""
import os
import shutil
import tempfile

work = tempfile.mkdtemp()
shutil.copy(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tiny", "pytorch_model.bin"), work)
os.chdir(work)
# README begin
import stkit

for report in stkit.scan(["pytorch_model.bin"]):  # static: nothing in the file runs
    print(report["path"], report["verdict"], [f["message"] for f in report["findings"]])
try:
    report = stkit.convert("pytorch_model.bin")  # -> model.safetensors, verified bit for bit
    print(report["outputs"][0]["path"], report["tensors_written"], "tensors; tied:", report["aliases"])
except stkit.UnsafeCheckpointError as e:  # a global outside the allowlist: nothing written
    print("refused:", e.name, "at byte", e.offset)
print(stkit.inspect("model.safetensors")["total_bytes"], "bytes of tensors")
# README end
assert report["verified"] and os.path.exists("model.safetensors")
