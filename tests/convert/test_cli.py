"""`stkit convert` as a command: default output names, never overwriting without --force,
corrupted inputs (exit 2, no output), big-endian torch zips, --json and --no-verify."""
import json
import os
import shutil
import struct
import zipfile

import torch

import fixtures
from common import check, compare_with_torch, finish, read_safetensors, scratch, stkit

work = scratch("cli")
source = os.path.join(work, "weights.pt")
torch.save({"a": torch.arange(12, dtype=torch.float32).reshape(3, 4), "b": torch.ones(5, dtype=torch.int16)},
           source)

# Default output: beside the input, extension replaced.
code, out, err = stkit("convert", source)
default = os.path.join(work, "weights.safetensors")
check(code == 0 and os.path.exists(default), f"default output: exit {code} {err}")
compare_with_torch("default", source, default)

# pytorch_model.bin -> model.safetensors beside it.
renamed = scratch("cli_renamed")
shutil.copy(source, os.path.join(renamed, "pytorch_model.bin"))
code, out, err = stkit("convert", os.path.join(renamed, "pytorch_model.bin"))
check(code == 0 and os.path.exists(os.path.join(renamed, "model.safetensors")),
      f"pytorch_model.bin naming: exit {code} {os.listdir(renamed)}")

# An existing output is never replaced without --force.
with open(default, "wb") as f:
    f.write(b"precious")
code, out, err = stkit("convert", source)
check(code == 2 and "output_exists" in err, f"exists: exit {code} {err}")
with open(default, "rb") as f:
    check(f.read() == b"precious", "exists: original untouched")
code, out, err = stkit("convert", source, "--force")
check(code == 0, f"--force: exit {code} {err}")
compare_with_torch("force", source, default)

# --no-verify still converts; --json is a JSON document.
code, out, err = stkit("convert", source, "-o", os.path.join(work, "nv.safetensors"), "--no-verify", "--json")
check(code == 0, f"--no-verify: exit {code} {err}")
report = json.loads(out) if code == 0 else {}
check(report.get("verified") is False and report.get("source_format") == "torch zip",
      f"--no-verify report: {report}")
check(report.get("tensors_written") == 2 and report.get("tensor_bytes") == 48 + 10,
      f"report counts: {report}")


def refused_malformed(label, path, want):
    output = path + ".safetensors"
    code, out, err = stkit("convert", path, "-o", output)
    check(code == 2, f"{label}: exit {code} (want 2): {err.strip()}")
    check(want in err, f"{label}: error says {want}: {err.strip()}")
    check(path in err, f"{label}: error names the file: {err.strip()}")
    check(not os.path.exists(output), f"{label}: no output")
    check(not [n for n in os.listdir(work) if n.startswith(os.path.basename(output))],
          f"{label}: no temporary file")


# A record shorter than its storage declares.
short = fixtures.rewrite_zip(source, os.path.join(work, "short_record.pt"),
                             replace={"data/0": lambda data: data[:-4]})
refused_malformed("size mismatch", short, "cv_storage_size_mismatch")
# A missing record.
missing = fixtures.rewrite_zip(source, os.path.join(work, "missing_record.pt"), drop={"data/1"})
refused_malformed("missing record", missing, "cv_storage_missing")
# A truncated file.
with open(source, "rb") as f:
    data = f.read()
truncated = os.path.join(work, "truncated.pt")
with open(truncated, "wb") as f:
    f.write(data[: len(data) // 2])
refused_malformed("truncated zip", truncated, "zip_")
# Not a checkpoint at all.
text = os.path.join(work, "notes.txt")
with open(text, "w") as f:
    f.write("hello\n")
refused_malformed("not a checkpoint", text, "cv_unrecognized_input")


# A stored record whose bytes no longer match its CRC-32 is refused, verified or not, wherever the
# flipped byte lies: inside a tensor the size of its record (CRC computed while copying), in the
# part of a storage no tensor views (CRC computed after), and in an .npz array.
def flip_byte_in_member(path, member, at, out):
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    with open(path, "rb") as f:
        data = bytearray(f.read())
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_length + extra_length
    data[start + at] ^= 0x01
    with open(out, "wb") as f:
        f.write(data)
    return out


def refused_crc(label, path, member, *extra):
    for flags in ((), ("--no-verify",)):
        output = path + ".safetensors"
        code, out, err = stkit("convert", path, "-o", output, *flags, *extra)
        check(code == 2 and "zip_crc_mismatch" in err and member in err and path in err,
              f"{label} {flags}: exit {code}, error names the member: {err.strip()}")
        check(not os.path.exists(output), f"{label} {flags}: no output")


big_source = os.path.join(work, "big.pt")
base = torch.arange(3 << 20, dtype=torch.float32)  # 12 MiB: several copy pieces
torch.save({"big": base, "small": torch.ones(3)}, big_source)
refused_crc("flipped byte in a whole-record tensor",
            flip_byte_in_member(big_source, "big/data/0", (9 << 20) + 5, os.path.join(work, "flip_big.pt")),
            "big/data/0")
view_source = os.path.join(work, "view.pt")
torch.save({"tail": base[16:]}, view_source)
refused_crc("flipped byte outside every view",
            flip_byte_in_member(view_source, "view/data/0", 3, os.path.join(work, "flip_view.pt")),
            "view/data/0")
npz_source = os.path.join(work, "arrays.npz")
import numpy
numpy.savez(npz_source, w=numpy.arange(4096, dtype=numpy.float64))
refused_crc("flipped byte in an npz array",
            flip_byte_in_member(npz_source, "w.npy", 1000, os.path.join(work, "flip.npz")), "w.npy")
# The untouched files convert: the check is not refusing every stored record.
for label, path in (("big", big_source), ("view", view_source)):
    code, out, err = stkit("convert", path, "-o", path + ".ok.safetensors")
    check(code == 0, f"{label} unflipped: exit {code} {err}")
    compare_with_torch(label, path, path + ".ok.safetensors")
code, out, err = stkit("convert", npz_source, "-o", npz_source + ".ok.safetensors")
check(code == 0, f"npz unflipped: exit {code} {err}")
# A view reaching outside its storage: the pickle says offset 10 into a 12-element storage.
def widen(pickled):
    return pickled.replace(b"K\x00K\x03K\x04\x86", b"K\nK\x03K\x04\x86", 1)
with zipfile.ZipFile(source) as z:
    check(b"K\x00K\x03K\x04\x86" in z.read("weights/data.pkl"), "view fixture: pattern present")
oob = fixtures.rewrite_zip(source, os.path.join(work, "out_of_bounds.pt"), replace={"data.pkl": widen})
refused_malformed("view out of bounds", oob, "cv_view_out_of_bounds")

# A negative stride (torch never writes one): refused (by the pickle machine already).
def negative(pickled):
    return pickled.replace(b"K\x04K\x01\x86", b"K\x04J\xff\xff\xff\xff\x86", 1)
negative_stride = fixtures.rewrite_zip(source, os.path.join(work, "negative_stride.pt"),
                                       replace={"data.pkl": negative})
refused_malformed("negative stride", negative_stride, "stride")

# Structure: not a dict, a tensor, a list or a model; no tensors; two entries flattening to one name.
for label, obj, want in (("str_root", "weights", "cv_invalid_checkpoint"),
                         ("no_tensors", {"epoch": 3}, "cv_no_tensors"),
                         ("duplicate", {"a.b": torch.ones(1), "a": {"b": torch.zeros(1)}},
                          "cv_duplicate_name")):
    path = os.path.join(work, label + ".pt")
    torch.save(obj, path)
    refused_malformed(label, path, want)


# A big-endian zip (byteorder record "big", every element swapped) converts to the same values.
def swap(size):
    def apply(data):
        return b"".join(data[i:i + size][::-1] for i in range(0, len(data), size))
    return apply


big = fixtures.rewrite_zip(source, os.path.join(work, "big_endian.pt"),
                           replace={"data/0": swap(4), "data/1": swap(2)}, add={"byteorder": b"big"})
code, out, err = stkit("convert", big)
output = os.path.join(work, "big_endian.safetensors")
check(code == 0, f"big-endian: exit {code} {err}")
if os.path.exists(output):
    compare_with_torch("big-endian", source, output)

finish()
