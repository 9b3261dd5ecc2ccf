"""examples/python/drop_in.py — stkit as the reference safetensors package: the README's "two-line
switch" snippet (run by ctest in a scratch folder)."""
import os
import tempfile

os.chdir(tempfile.mkdtemp())
# README begin
import torch
# from safetensors import safe_open
# from safetensors.torch import load_file, save_file
from stkit import safe_open
from stkit.torch import load_file, save_file

save_file({"embedding": torch.zeros(512, 64), "norm": torch.ones(64)}, "model.safetensors", {"format": "pt"})
weights = load_file("model.safetensors")  # shares the file's pages: nothing read until touched
with safe_open("model.safetensors", framework="pt") as f:
    print(f.keys(), f.metadata())
    rows = f.get_slice("embedding")[:8, ::2]  # reads only the bytes of those rows
# README end
assert rows.shape == (8, 32) and torch.equal(weights["norm"], torch.ones(64))
