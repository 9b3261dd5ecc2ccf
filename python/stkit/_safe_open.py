"""safe_open: a safetensors file (or a sharded checkpoint's index) opened lazily, tensors read as asked."""
from __future__ import annotations

import os
from types import ModuleType
from typing import Any, Dict, List, Optional, Union

from . import _stkit
from ._errors import SafetensorError, _argument_error

_FRAMEWORKS = {"pt": "torch", "torch": "torch", "pytorch": "torch", "np": "numpy", "numpy": "numpy"}
_OTHER_FRAMEWORKS = {"tf", "tensorflow", "jax", "flax", "mlx", "paddle"}


def _framework_module(framework: str) -> ModuleType:
    """stkit.torch or stkit.numpy, imported on first use so that `import stkit` needs neither."""
    name = _FRAMEWORKS.get(framework) if isinstance(framework, str) else None
    if name is None:
        if framework in _OTHER_FRAMEWORKS:
            raise _argument_error(f"framework {framework} is not supported by stkit: use 'pt' or 'np'")
        raise _argument_error(f"framework {framework} is invalid")
    if name == "torch":
        from . import torch as module
    else:
        from . import numpy as module
    return module


class safe_open:
    """Opens a safetensors lazily and returns tensors as asked

    Args:
        filename (`str`, or `os.PathLike`):
            The filename to open. A sharded checkpoint's index (`model.safetensors.index.json`) opens
            every shard it names, presented as one model.

        framework (`str`):
            The framework you want you tensors in. Supported values:
            `pt` (also `torch`, `pytorch`) and `np` (also `numpy`).

        device (`str`, defaults to `"cpu"`):
            The device on which you want the tensors.

    Tensors on cpu share the file's pages: the file is mapped copy-on-write, so they are writable,
    cost nothing until touched, and writing to them never changes the file. They stay valid after the
    file is closed. Two `get_tensor` calls for one name share those pages too.
    """

    def __init__(self, filename: Union[str, os.PathLike], framework: str, device: Union[str, int, Any] = "cpu"):
        self._module = _framework_module(framework)
        self._device = self._module._check_device(device)
        self._filename = os.fspath(filename)
        self._file: Optional[_stkit.File] = _stkit.File.open(self._filename)

    def __enter__(self) -> "safe_open":
        return self

    def __exit__(self, *exc: Any) -> None:
        self._file = None

    def _open(self) -> _stkit.File:
        if self._file is None:
            raise _argument_error("File is closed", file=self._filename)
        return self._file

    def keys(self) -> List[str]:
        """
        Returns the names of the tensors in the file.

        Returns:
            (`List[str]`):
                The name of the tensors contained in that file
        """
        return self._open().keys()

    def offset_keys(self) -> List[str]:
        """
        Returns the names of the tensors in the file, ordered by offset.

        Returns:
            (`List[str]`):
                The name of the tensors contained in that file
        """
        return self._open().offset_keys()

    def metadata(self) -> Optional[Dict[str, str]]:
        """
        Return the special non tensor information in the header

        Returns:
            (`Dict[str, str]`):
                The freeform metadata. For a sharded checkpoint, the index's "metadata" object, each
                value that is not a string given as its JSON text (`"total_size": "1234"`).
        """
        f = self._open()
        if f.sharded:
            return _index_metadata(f)
        return f.metadata()

    def get_tensor(self, name: str) -> Any:
        """
        Returns a full tensor

        Args:
            name (`str`):
                The name of the tensor you want

        Returns:
            (`Tensor`):
                The tensor in the framework you opened the file for.

        Example:

        ```python
        from stkit import safe_open

        with safe_open("model.safetensors", framework="pt", device="cpu") as f:
            tensor = f.get_tensor("embedding")

        ```
        """
        f = self._open()
        dtype, shape, buffer = f.tensor(name)
        return self._module._tensor(dtype, shape, buffer, name, self._filename, self._device)

    def get_slice(self, name: str) -> "SafeSlice":
        """
        Returns a full slice view object

        Args:
            name (`str`):
                The name of the tensor you want

        Returns:
            (`SafeSlice`):
                A dummy object you can slice into to get a real tensor
        Example:

        ```python
        from stkit import safe_open

        with safe_open("model.safetensors", framework="pt", device="cpu") as f:
            tensor_part = f.get_slice("embedding")[:, ::8]

        ```
        """
        f = self._open()
        dtype, shape = f.info(name)
        return SafeSlice(f, name, dtype, shape, self)

    def __len__(self) -> int:
        return len(self._open())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._open()


class SafeSlice:
    """A tensor not read yet: its shape and dtype, and `[...]` to read part of it.

    Indexing is NumPy's: integers (negative ones count from the end, and drop their dimension), slices
    (`start:stop:step`, positive steps), one `...`, and dimensions left out at the end taken whole. Only
    the selected bytes are copied out of the file.
    """

    def __init__(self, file: _stkit.File, name: str, dtype: str, shape: tuple, owner: safe_open):
        self._file = file
        self._name = name
        self._dtype = dtype
        self._shape = shape
        self._owner = owner

    def get_shape(self) -> List[int]:
        """The tensor's shape."""
        return list(self._shape)

    def get_dtype(self) -> str:
        """The tensor's dtype as the file names it ("F32", "BF16", ...)."""
        return self._dtype

    def __getitem__(self, key: Any) -> Any:
        dtype, shape, buffer = self._file.slice(self._name, key)
        owner = self._owner
        return owner._module._tensor(dtype, shape, buffer, self._name, owner._filename, owner._device)

    def __len__(self) -> int:
        if not self._shape:
            raise TypeError("len() of a 0-d tensor")
        return self._shape[0]


def _index_metadata(f: _stkit.File) -> Optional[Dict[str, str]]:
    import json

    text = f.index_metadata()
    if text is None:
        return None
    values = json.loads(text)
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}


def _tensors(f: _stkit.File, module: ModuleType, path: Optional[str], device: Any) -> Dict[str, Any]:
    """Every tensor of an open file or sharded model, in file order."""
    make = module._tensor
    out = {}
    for name in f.offset_keys():
        dtype, shape, buffer = f.tensor(name)
        out[name] = make(dtype, shape, buffer, name, path, device)
    return out


def _load(filename: Union[str, os.PathLike], module: ModuleType, device: Any) -> Dict[str, Any]:
    """The framework modules' load_file and load_sharded."""
    path = os.fspath(filename)
    return _tensors(_stkit.File.open(path), module, path, device)


def _load_bytes(data: bytes, module: ModuleType) -> Dict[str, Any]:
    """The framework modules' load: a copy of the bytes is parsed, and the tensors share it."""
    return _tensors(_stkit.File.from_bytes(data), module, None, module._check_device("cpu"))


__all__ = ["safe_open", "SafeSlice", "SafetensorError"]
