#!/usr/bin/python3
"""Makes the bundled example checkpoints in examples/tiny/ (committed, so the demo needs no Python):

  pytorch_model.bin  a tiny language-model-like module saved with torch.save: an embedding tied to
                     the output head (shared storage), a transposed (non-contiguous) buffer, and
                     float32 / float16 / int64 tensors
  arrays.npz         NumPy arrays, one of them in Fortran order

Run with Debian's python3 (torch 1.13, numpy): /usr/bin/python3 examples/make_examples.py
"""
import os

import numpy as np
import torch

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny")
os.makedirs(here, exist_ok=True)
torch.manual_seed(1234)


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(32, 8)
        self.proj = torch.nn.Linear(8, 8)
        self.norm = torch.nn.LayerNorm(8).half()
        self.head = torch.nn.Linear(8, 32, bias=False)
        self.head.weight = self.embed.weight  # tied: one storage, two names
        self.register_buffer("positions", torch.arange(16, dtype=torch.int64))
        self.register_buffer("mixing", torch.randn(4, 6).t())  # a transposed view


torch.save(Tiny().state_dict(), os.path.join(here, "pytorch_model.bin"))
rng = np.random.default_rng(1234)
np.savez(os.path.join(here, "arrays.npz"), weights=rng.standard_normal((4, 3)).astype("f4"),
         table=np.asfortranarray(np.arange(12, dtype="i4").reshape(3, 4)))
print("wrote", ", ".join(sorted(os.listdir(here))), "in", here)
