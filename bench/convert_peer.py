#!/usr/bin/python3
"""The peer of bench/convert_bench.sh: what the Hub's conversion script does, in Debian's Python
with torch (the reference safetensors package is not installable here: no PyPI).

  torch.load(weights_only=True), keep one name of each shared tensor (the others recorded in the
  metadata as "dropped": "kept"), make each tensor contiguous,
  write a safetensors file (the reference layout: dtype order, then names; bytes of each tensor
  through tensor.numpy().tobytes() as safetensors.torch._tobytes does; fsync), load it back through
  a read-only map (torch.frombuffer, as load_file shares pages) and require torch.equal for every
  tensor.

Usage: convert_peer.py INPUT OUTPUT   prints the seconds it took; run under /usr/bin/time for memory.
"""
import json
import mmap
import os
import struct
import sys
import time

import torch

DTYPES = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
          torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
          torch.bool: "BOOL"}
ORDER = ["U64", "I64", "F64", "C64", "F32", "U32", "I32", "BF16", "F16", "U16", "I16", "I8", "U8", "BOOL"]
BACK = {v: k for k, v in DTYPES.items()}


def tobytes(tensor):
    if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16: its bytes as int16
        tensor = tensor.view(torch.int16)
    return tensor.numpy().tobytes()


def main(source, destination):
    start = time.perf_counter()
    loaded = torch.load(source, map_location="cpu", weights_only=True)
    if "state_dict" in loaded:
        loaded = loaded["state_dict"]
    # Shared tensors: keep the smallest name (safetensors.torch._remove_duplicate_names).
    seen, kept, metadata = {}, {}, {"format": "pt"}
    for name in sorted(loaded):
        tensor = loaded[name]
        key = (tensor.untyped_storage().data_ptr() if hasattr(tensor, "untyped_storage") else tensor.storage().data_ptr(),
               tensor.storage_offset(), tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype)
        if key in seen and tensor.numel() > 0:
            metadata[name] = seen[key]  # the dropped name points at the kept one, as the Hub records
            continue
        seen[key] = name
        kept[name] = tensor.contiguous()
    names = sorted(kept, key=lambda n: (ORDER.index(DTYPES[kept[n].dtype]), n))
    header, offset = {"__metadata__": dict(sorted(metadata.items()))}, 0
    for name in names:
        size = kept[name].numel() * kept[name].element_size()
        header[name] = {"dtype": DTYPES[kept[name].dtype], "shape": list(kept[name].shape),
                        "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(destination, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for name in names:
            f.write(tobytes(kept[name]))
        f.flush()
        os.fsync(f.fileno())
    # load_file: tensors over a read-only map of the file, then compared.
    with open(destination, "rb") as f:
        view = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    size = struct.unpack("<Q", view[:8])[0]
    entries = json.loads(view[8:8 + size])
    base = 8 + size
    for name, entry in entries.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = BACK[entry["dtype"]]
        element = torch.empty(0, dtype=dtype).element_size()
        if end == begin:
            continue
        reloaded = torch.frombuffer(view, dtype=dtype, count=(end - begin) // element, offset=base + begin)
        if not torch.equal(reloaded.reshape(entry["shape"]), kept[name]):
            sys.exit("peer: %s differs after reload" % name)
    print("%.3f" % (time.perf_counter() - start))


if __name__ == "__main__":
    import warnings
    warnings.filterwarnings("ignore")
    main(sys.argv[1], sys.argv[2])
