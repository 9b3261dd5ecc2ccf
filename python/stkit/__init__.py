"""stkit: safetensors at memory speed, pickle checkpoints converted without running them, model files
scanned for code.

A drop-in for the reference `safetensors` package (``safe_open``, ``stkit.torch``, ``stkit.numpy``,
``SafetensorError``, and its raw ``serialize``, ``serialize_file`` and ``deserialize``, also at
``stkit._safetensors_rust`` where the reference has them), built on stkit's C++ library, plus:

- :func:`convert`: PyTorch (``.bin .pt .pth .ckpt``) and NumPy (``.npy .npz``) checkpoints, or a
  transformers folder, to safetensors; the pickle is read by a restricted machine, never unpickled.
- :func:`scan`: every file's format by content, and any code-execution payload in it.
- :func:`inspect`: a safetensors file's or sharded checkpoint's metadata and tensors.

Docstrings and messages of the reference API follow huggingface/safetensors (Apache-2.0), so code
and habits written for it carry over.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, List, Optional, Union

from ._errors import SafetensorError, SafetensorFileNotFoundError, TensorNotFoundError, UnsafeCheckpointError
from . import _stkit
from ._safe_open import SafeSlice, safe_open
from ._safetensors_rust import deserialize, serialize, serialize_file

__version__: str = _stkit.__version__

PathLike = Union[str, "os.PathLike[str]"]


def convert(path: PathLike, output: Optional[PathLike] = None, *, overwrite: bool = False,
            verify: bool = True) -> Dict[str, Any]:
    """
    Converts a PyTorch or NumPy checkpoint to safetensors without running any of its pickle.

    Args:
        path (`str`, or `os.PathLike`):
            A checkpoint file (`.bin .pt .pth .ckpt`, torch zip or legacy; `.npy`, `.npz`), or a
            transformers folder (`pytorch_model.bin`, or shards and their index), converted in place.
        output (`str`, or `os.PathLike`, *optional*):
            The file to write, for a file input (default: beside it, `.safetensors`;
            `pytorch_model.bin` becomes `model.safetensors`).
        overwrite (`bool`, defaults to `False`):
            Replace existing outputs.
        verify (`bool`, defaults to `True`):
            Re-read the output and compare every tensor with the source, bit for bit.

    Returns:
        `Dict[str, Any]`: the report `stkit convert --json` prints: `outputs` (path, source, tensors,
        tensor_bytes, file_bytes), `source_format`, `tensors_written`, `tensor_bytes`, `aliases` (tied
        weights written once), `non_tensors`, `unwrapped`, `model_classes` (whole models: the
        classes needed to rebuild one), `verified`.

    Raises:
        UnsafeCheckpointError: the pickle imports a global outside the allowlist (its `name` is the
            global, its `offset` the opcode's byte offset), or calls or builds what a state dict does
            not; nothing was run and nothing written.
        SafetensorError: malformed input or an I/O error, with its code, file, offset and name.
    """
    out = None if output is None else os.fspath(output)
    return json.loads(_stkit.convert(os.fspath(path), out, overwrite, verify))


def scan(paths: Union[PathLike, Iterable[PathLike]], *, max_bytes: Optional[int] = None,
         jobs: int = 1) -> List[Dict[str, Any]]:
    """
    Scans files (folders: every file under them) for code-execution payloads, statically.

    Args:
        paths (`str`, `os.PathLike`, or an iterable of them):
            Files or folders.
        max_bytes (`int`, *optional*):
            Bytes decompressed per file (default 1 GiB); content beyond is reported as not scanned.
        jobs (`int`, defaults to 1):
            Files scanned in parallel.

    Returns:
        `List[Dict[str, Any]]`: one report per file, as `stkit scan --format json` prints them:
        `path`, `format`, `detail`, `verdict` ("safe", "suspicious", "dangerous" or "error"),
        `findings` (severity, category, module, name, message, location), and `error` when unreadable.
    """
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    names = [os.fsdecode(p) for p in paths]
    return json.loads(_stkit.scan(names, max_bytes, max(1, int(jobs))))["files"]


def inspect(path: PathLike) -> Dict[str, Any]:
    """
    Describes a safetensors file or a sharded checkpoint (its `*.index.json`) without reading tensors.

    Returns:
        `Dict[str, Any]`: what `stkit inspect --json` prints: `metadata`, `tensors` (name, dtype, shape,
        data_offsets, bytes, and shard for a sharded checkpoint) in file order, `total_bytes`.
    """
    return json.loads(_stkit.inspect(os.fspath(path)))


__all__ = [
    "SafeSlice",
    "SafetensorError",
    "SafetensorFileNotFoundError",
    "TensorNotFoundError",
    "UnsafeCheckpointError",
    "__version__",
    "convert",
    "deserialize",
    "inspect",
    "safe_open",
    "scan",
    "serialize",
    "serialize_file",
]
