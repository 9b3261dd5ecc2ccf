"""Builds the audit test tree: git repositories with scripted authors and dates, LFS pointers, a
Hub-cache snapshot without git. Every fact the tests assert follows from the definitions here."""
import hashlib
import io
import json
import os
import pickle
import shutil
import struct
import subprocess

import numpy
import torch

DEV = ("Dana Developer", "dana@example.com")
MERGER = ("Hub Merger", "merger@example.com")
BOT_TRAILER = "Co-authored-by: Safetensors convertbot <SFconvertbot@users.noreply.huggingface.co>"
BOT_MESSAGE = "Adding `safetensors` variant of this model"


def safetensors_bytes(values=(1.0, 2.0)):
    header = json.dumps({"w": {"dtype": "F32", "shape": [len(values)], "data_offsets": [0, 4 * len(values)]}})
    header += " " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header.encode() + struct.pack(f"<{len(values)}f", *values)


def torch_bytes():
    buffer = io.BytesIO()
    torch.save({"w": torch.arange(4, dtype=torch.float32)}, buffer)
    return buffer.getvalue()


def evil_pickle_bytes():
    # What pickle.dumps writes for an object whose __reduce__ returns (os.system, ("echo hi",)).
    return b"\x80\x04\x95\x1b\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\x07echo hi\x94\x85\x94R\x94."


def plain_pickle_bytes():
    return pickle.dumps({"weights": [1.0, 2.0, 3.0]}, protocol=4)


def npy_bytes():
    buffer = io.BytesIO()
    numpy.save(buffer, numpy.arange(3, dtype=numpy.float32))
    return buffer.getvalue()


def lfs_pointer(content):
    oid = hashlib.sha256(content).hexdigest()
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(content)}\n".encode(), oid


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


class Repo:
    def __init__(self, root, name):
        self.path = os.path.join(root, name)
        os.makedirs(self.path)
        self.git("init", "-q", "-b", "main")

    def git(self, *args, env=None):
        return subprocess.run(["git", "-C", self.path, *args], check=True, env=env,
                              capture_output=True, text=True).stdout.strip()

    @staticmethod
    def env(who, date, committer_date=None):
        """Author and committer `who`; the committer date defaults to the author date."""
        return dict(os.environ, GIT_AUTHOR_NAME=who[0], GIT_AUTHOR_EMAIL=who[1], GIT_AUTHOR_DATE=date,
                    GIT_COMMITTER_NAME=who[0], GIT_COMMITTER_EMAIL=who[1],
                    GIT_COMMITTER_DATE=committer_date or date, GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1")

    def commit(self, date, message, who=DEV, files=None, remove=(), committer_date=None):
        for name, data in (files or {}).items():
            write(os.path.join(self.path, name), data)
        for name in remove:
            self.git("rm", "-q", name)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message, env=self.env(who, date, committer_date))
        return self.git("rev-parse", "HEAD")

    def merge(self, date, message, *refs, who=DEV):
        """A merge commit of the current branch with `refs` (more than one: an octopus)."""
        self.git("merge", "-q", "--no-ff", "-m", message, *refs, env=self.env(who, date))
        return self.git("rev-parse", "HEAD")


def build(root):
    """Creates the tree under root; returns {repo: {name: commit id}} for the commits tests name."""
    if os.path.exists(root):
        shutil.rmtree(root)
    os.makedirs(root)
    ids = {}
    st, pt = safetensors_bytes(), torch_bytes()

    r = Repo(root, "pickle-only")
    r.commit("2022-01-10T09:00:00+00:00", "Initial commit", files={"README.md": "# pickle only\n"})
    ids["pickle-only"] = {"model": r.commit("2022-01-11T09:00:00+00:00", "Upload model",
                                            files={"model.pkl": evil_pickle_bytes(), "config.json": "{}"})}

    r = Repo(root, "bot-message")
    c1 = r.commit("2022-03-01T10:00:00+00:00", "Upload weights", files={"pytorch_model.bin": pt, "config.json": "{}"})
    c2 = r.commit("2022-03-11T10:00:00+00:00", BOT_MESSAGE + " (#1)\n\nConverted by the Hub.", who=MERGER,
                  files={"model.safetensors": st})
    c3 = r.commit("2022-05-02T10:00:00+00:00", "Add adapter", files={"adapter.safetensors": st})
    ids["bot-message"] = {"first": c1, "adoption": c2, "adapter": c3}

    r = Repo(root, "bot-trailer")
    c1 = r.commit("2022-03-05T08:00:00+00:00", "Upload weights", files={"pytorch_model.bin": pt})
    c2 = r.commit("2022-04-05T07:59:59+00:00", "Upload model.safetensors\n\n" + BOT_TRAILER, files={"model.safetensors": st})
    ids["bot-trailer"] = {"first": c1, "adoption": c2}

    r = Repo(root, "developer")
    c1 = r.commit("2022-04-01T00:00:00+00:00", "Add UNet",
                  files={"unet/diffusion_pytorch_model.bin": pt, "unet/config.json": "{}"})
    c2 = r.commit("2022-04-03T12:00:00+00:00", "Convert to safetensors myself",
                  files={"unet/diffusion_pytorch_model.safetensors": st, "training_args.bin": pt})
    ids["developer"] = {"first": c1, "adoption": c2}

    r = Repo(root, "sharded")
    c1 = r.commit("2022-05-01T00:00:00+00:00", "Sharded checkpoint", files={
        "pytorch_model-00001-of-00002.bin": pt, "pytorch_model-00002-of-00002.bin": pt,
        "pytorch_model.bin.index.json": "{\"weight_map\": {}}"})
    c2 = r.commit("2022-06-15T00:00:00+00:00", BOT_MESSAGE, who=MERGER, files={
        "model-00001-of-00002.safetensors": st, "model-00002-of-00002.safetensors": safetensors_bytes((3.0, 4.0))})
    r.commit("2022-06-20T00:00:00+00:00", "Update README", files={"README.md": "sharded\n"})
    ids["sharded"] = {"first": c1, "adoption": c2}

    r = Repo(root, "removed")
    c1 = r.commit("2023-01-01T00:00:00+00:00", "Checkpoint", files={"model.ckpt": pt})
    c2 = r.commit("2023-01-02T06:00:00+00:00", "Add safetensors", files={"model.safetensors": st})
    r.commit("2023-01-20T00:00:00+00:00", "Remove pickle checkpoint", remove=["model.ckpt"])
    ids["removed"] = {"first": c1, "adoption": c2}

    r = Repo(root, "lfs")
    st_pointer, st_oid = lfs_pointer(b"pretend safetensors content" * 10)
    bin_pointer, bin_oid = lfs_pointer(b"pretend pickle content" * 20)
    c1 = r.commit("2023-02-14T00:00:00+00:00", "Upload with LFS", files={
        "model.safetensors": st_pointer, "pytorch_model.bin": bin_pointer,
        ".gitattributes": "*.bin filter=lfs diff=lfs merge=lfs -text\n", "notes.txt": "not a pointer\n"})
    ids["lfs"] = {"first": c1, "st_oid": st_oid, "bin_oid": bin_oid}

    r = Repo(root, "nested/group/deep-repo")
    ids["nested/group/deep-repo"] = {"first": r.commit("2022-03-20T00:00:00+00:00", "Arrays", files={
        "sub/dir/weights.npy": npy_bytes(), "sub/readme.txt": "arrays\n"})}

    r = Repo(root, "docs-only")
    ids["docs-only"] = {"first": r.commit("2022-01-05T00:00:00+00:00", "Docs", files={"README.md": "docs\n"})}

    # A Hub cache entry: snapshots/<rev>/ links into blobs/, which must not count as a repository.
    cache = os.path.join(root, "hub", "models--org--tiny")
    blob = os.path.join(cache, "blobs", hashlib.sha256(st).hexdigest())
    write(blob, st)
    write(os.path.join(cache, "refs", "main"), "abc123")
    snapshot = os.path.join(cache, "snapshots", "abc123")
    os.makedirs(snapshot)
    os.symlink(os.path.relpath(blob, snapshot), os.path.join(snapshot, "model.safetensors"))
    write(os.path.join(snapshot, "config.json"), "{}")
    july = 1626307200  # 2021-07-15T00:00:00Z
    os.utime(blob, (july, july))

    write(os.path.join(root, "misc", "notes.txt"), "not a repository\n")
    return ids
