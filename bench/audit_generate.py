"""Generates the audit benchmark inputs (bench/audit_bench.sh):
  TREE/     1,000 repositories of 50 small files each (50,000 files; 20 model files per repository),
            plain snapshot folders, a tenth of them with a nested folder;
  HISTORY/  one git repository with 2,000 commits made with `git fast-import` (weights added,
            converted to safetensors by the bot at commit 1,200, pickles removed at 1,800)."""
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import zipfile


def safetensors(n):
    header = json.dumps({"w": {"dtype": "F32", "shape": [n], "data_offsets": [0, 4 * n]}})
    header += " " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header.encode() + bytes(4 * n)


def torch_like():
    # The layout of torch.save (zip: archive/data.pkl, archive/version) without needing torch.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pickle.dumps({"w": [0.0] * 8}, protocol=2))
        z.writestr("archive/version", "3\n")
    return buffer.getvalue()


def tree(root):
    st, pt, pk = safetensors(16), torch_like(), pickle.dumps({"a": list(range(10))}, protocol=4)
    for r in range(1000):
        repo = os.path.join(root, f"org{r // 100:02d}", f"model-{r:04d}")
        folder = os.path.join(repo, "unet") if r % 10 == 0 else repo
        os.makedirs(folder, exist_ok=True)
        files = {}
        for i in range(8):
            files[f"model-{i:05d}-of-00008.safetensors"] = st
        for i in range(6):
            files[f"pytorch_model-{i:05d}-of-00006.bin"] = pt
        for i in range(6):
            files[f"extra_{i}.pkl"] = pk
        for i in range(30):
            files[f"notes_{i}.txt" if i % 2 else f"config_{i}.json"] = f"{{\"i\": {i}, \"repo\": {r}}}\n".encode()
        for name, data in files.items():
            target = os.path.join(repo if name.endswith(".json") else folder, name)
            with open(target, "wb") as f:
                f.write(data)


def history(path):
    os.makedirs(path, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", path], check=True)
    st, pt = safetensors(16), torch_like()
    out = io.BytesIO()
    blobs = {"st": st, "pt": pt}
    for mark, (name, data) in enumerate(blobs.items(), start=1):
        out.write(b"blob\nmark :%d\ndata %d\n" % (mark, len(data)) + data + b"\n")
    when = 1_600_000_000
    for c in range(2000):
        who = b"SFconvertbot <support@huggingface.co>" if c == 1200 else b"Dev <dev@example.com>"
        message = b"Adding `safetensors` variant of this model" if c == 1200 else b"commit %d" % c
        out.write(b"commit refs/heads/main\ncommitter " + who + b" %d +0000\n" % (when + c * 3600))
        out.write(b"data %d\n" % len(message) + message + b"\n")
        text = b"step %d\n" % c
        out.write(b"M 100644 inline log/step-%04d.txt\ndata %d\n" % (c % 300, len(text)) + text + b"\n")
        if c % 50 == 0 and c < 1200:
            out.write(b"M 100644 :2 weights/pytorch_model-%05d.bin\n" % c)
        if c == 1200:
            for k in range(0, 1200, 50):
                out.write(b"M 100644 :1 weights/model-%05d.safetensors\n" % k)
        if c == 1800:
            for k in range(0, 1200, 50):
                out.write(b"D weights/pytorch_model-%05d.bin\n" % k)
    subprocess.run(["git", "-C", path, "fast-import", "--quiet"], input=out.getvalue(), check=True)
    subprocess.run(["git", "-C", path, "checkout", "-q", "main"], check=True)


if __name__ == "__main__":
    what, target = sys.argv[1], sys.argv[2]
    (tree if what == "tree" else history)(target)
