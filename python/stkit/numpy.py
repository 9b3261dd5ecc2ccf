"""NumPy arrays to and from safetensors, with the reference package's functions (`safetensors.numpy`).

Dtypes: BOOL, U8, I8, U16, I16, U32, I32, U64, I64, F16, F32, F64 and C64. Files holding a dtype NumPy
lacks (BF16, the F8 kinds, F4, F6) open, but reading such a tensor raises SafetensorError naming it:
read those with framework "pt".
"""
from __future__ import annotations

import os
import sys
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from . import _stkit
from ._errors import _argument_error
from ._safe_open import _load, _load_bytes

_TYPES: Dict[str, Any] = {
    "BOOL": np.bool_,
    "U8": np.uint8,
    "I8": np.int8,
    "U16": np.uint16,
    "I16": np.int16,
    "U32": np.uint32,
    "I32": np.int32,
    "U64": np.uint64,
    "I64": np.int64,
    "F16": np.float16,
    "F32": np.float32,
    "F64": np.float64,
    "C64": np.complex64,
}
# Little-endian, as the format stores them.
_FILE_TYPES = {name: np.dtype(t).newbyteorder("<") for name, t in _TYPES.items()}
_NAMES = {np.dtype(t): name for name, t in _TYPES.items()}


def _check_device(device: Any) -> str:
    if device != "cpu":
        raise _argument_error(f"Device {device} is not supported for framework numpy")
    return "cpu"


def _tensor(dtype: str, shape: Tuple[int, ...], buffer: Any, name: str, file: Optional[str], device: str) -> np.ndarray:
    """An array over `buffer` (no copy; on a big-endian machine, a byte-swapped copy)."""
    file_type = _FILE_TYPES.get(dtype)
    if file_type is None:
        raise _argument_error(
            f"tensor {name!r} has dtype {dtype}, which NumPy does not have: read it with framework='pt'",
            name, file)
    array = np.ndarray(shape, file_type, buffer)
    if sys.byteorder == "big":
        array = array.astype(file_type.newbyteorder("="))
    return array


def _entries(tensor_dict: Dict[str, np.ndarray]) -> List[tuple]:
    """(name, dtype, shape, C-contiguous little-endian array) for the native writer."""
    if not isinstance(tensor_dict, dict):
        raise ValueError(f"Expected a dict of [str, np.ndarray] but received {type(tensor_dict)}")
    entries = []
    for name, array in tensor_dict.items():
        if isinstance(array, np.generic):
            array = np.asarray(array)
        if not isinstance(array, np.ndarray):
            raise ValueError(f"Key `{name}` is invalid, expected np.ndarray but received {type(array)}")
        dtype = _NAMES.get(array.dtype.newbyteorder("="))
        if dtype is None:
            raise _argument_error(f"tensor {name!r}: dtype {array.dtype} cannot be stored in safetensors", name)
        data = np.ascontiguousarray(array, dtype=_FILE_TYPES[dtype])
        entries.append((name, dtype, array.shape, data))
    return entries


def save(tensor_dict: Dict[str, np.ndarray], metadata: Optional[Dict[str, str]] = None) -> bytes:
    """
    Saves a dictionary of tensors into raw bytes in safetensors format.

    Args:
        tensor_dict (`Dict[str, np.ndarray]`):
            The incoming tensors. Tensors need to be contiguous and dense.
        metadata (`Dict[str, str]`, *optional*, defaults to `None`):
            Optional text only metadata you might want to save in your header.
            For instance it can be useful to specify more about the underlying
            tensors. This is purely informative and does not affect tensor loading.

    Returns:
        `bytes`: The raw bytes representing the format

    Example:

    ```python
    from stkit.numpy import save
    import numpy as np

    tensors = {"embedding": np.zeros((512, 1024)), "attention": np.zeros((256, 256))}
    byte_data = save(tensors)
    ```
    """
    return _stkit.write_bytes(_entries(tensor_dict), metadata)


def save_file(
    tensor_dict: Dict[str, np.ndarray],
    filename: Union[str, os.PathLike],
    metadata: Optional[Dict[str, str]] = None,
) -> None:
    """
    Saves a dictionary of tensors into raw bytes in safetensors format.

    Args:
        tensor_dict (`Dict[str, np.ndarray]`):
            The incoming tensors. Tensors need to be contiguous and dense.
        filename (`str`, or `os.PathLike`)):
            The filename we're saving into.
        metadata (`Dict[str, str]`, *optional*, defaults to `None`):
            Optional text only metadata you might want to save in your header.
            For instance it can be useful to specify more about the underlying
            tensors. This is purely informative and does not affect tensor loading.

    Returns:
        `None`

    The file is written to a temporary file and linked into place once complete, so a reader never
    sees it half written.

    Example:

    ```python
    from stkit.numpy import save_file
    import numpy as np

    tensors = {"embedding": np.zeros((512, 1024)), "attention": np.zeros((256, 256))}
    save_file(tensors, "model.safetensors")
    ```
    """
    _stkit.write_file(os.fspath(filename), _entries(tensor_dict), metadata)


def load(data: bytes) -> Dict[str, np.ndarray]:
    """
    Loads a safetensors file into numpy format from pure bytes.

    Args:
        data (`bytes`):
            The content of a safetensors file

    Returns:
        `Dict[str, np.ndarray]`: dictionary that contains name as key, value as `np.ndarray` on cpu

    Example:

    ```python
    from stkit.numpy import load

    file_path = "./my_folder/bert.safetensors"
    with open(file_path, "rb") as f:
        data = f.read()

    loaded = load(data)
    ```
    """
    return _load_bytes(data, sys.modules[__name__])


def load_file(filename: Union[str, os.PathLike]) -> Dict[str, np.ndarray]:
    """
    Loads a safetensors file into numpy format.

    Args:
        filename (`str`, or `os.PathLike`)):
            The name of the file which contains the tensors

    Returns:
        `Dict[str, np.ndarray]`: dictionary that contains name as key, value as `np.ndarray`

    The arrays share the file's pages (a copy-on-write mapping): writable, free until touched, and
    writing to them never changes the file.

    Example:

    ```python
    from stkit.numpy import load_file

    file_path = "./my_folder/bert.safetensors"
    loaded = load_file(file_path)
    ```
    """
    return _load(filename, sys.modules[__name__], "cpu")


def load_sharded(index_filename: Union[str, os.PathLike]) -> Dict[str, np.ndarray]:
    """
    Loads a sharded checkpoint (`model.safetensors.index.json` and the shards it names) into numpy
    format, as one dictionary. Every shard is validated, and the index must list exactly the tensors
    the shards hold.

    Args:
        index_filename (`str`, or `os.PathLike`):
            The index file.

    Returns:
        `Dict[str, np.ndarray]`: dictionary that contains name as key, value as `np.ndarray`
    """
    return _load(index_filename, sys.modules[__name__], "cpu")


__all__ = ["save", "save_file", "load", "load_file", "load_sharded"]
