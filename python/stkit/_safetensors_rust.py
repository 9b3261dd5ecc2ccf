"""The reference package's low-level functions (`safetensors._safetensors_rust`, re-exported by
`safetensors`): tensors as plain dicts `{"dtype", "shape", "data"}`, written by the C++ writer and read
by the C++ reader, so code written against the reference's raw API runs unchanged.

As in the reference, `serialize` takes framework dtype names ("float32", "bfloat16", "float8_e4m3fn",
... as `str(torch.float32)` ends) and `deserialize` gives header names ("F32", "BF16", "F8_E4M3").
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Tuple, Union

from . import _stkit
from ._errors import SafetensorError, _argument_error
from ._safe_open import safe_open

__version__: str = _stkit.__version__

# Header name -> the framework (torch, and NumPy where it has one) name of the same dtype, as the
# reference's serializer takes them. stkit.torch maps its dtypes through this table too.
FRAMEWORK_NAMES: Dict[str, str] = {
    "BOOL": "bool", "U8": "uint8", "I8": "int8", "U16": "uint16", "I16": "int16", "U32": "uint32",
    "I32": "int32", "U64": "uint64", "I64": "int64", "F16": "float16", "BF16": "bfloat16",
    "F32": "float32", "F64": "float64", "C64": "complex64", "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2", "F8_E4M3FNUZ": "float8_e4m3fnuz", "F8_E5M2FNUZ": "float8_e5m2fnuz",
    "F8_E8M0": "float8_e8m0fnu",
}
_HEADER_NAMES = {framework: header for header, framework in FRAMEWORK_NAMES.items()}
# torch's packed F4 (two values a byte): the reference doubles the last dimension to count elements.
_F4_PACKED = "float4_e2m1fn_x2"


def _entries(tensor_dict: Dict[str, Dict[str, Any]]) -> List[Tuple[str, str, List[int], Any]]:
    """(name, header dtype, shape, data) for the native writer."""
    if not isinstance(tensor_dict, dict):
        raise TypeError(f"tensor_dict must be a dict, not {type(tensor_dict).__name__}")
    entries = []
    for name, desc in tensor_dict.items():
        if not isinstance(desc, dict):
            raise TypeError(f"tensor {name!r}: expected a dict with dtype, shape and data, not {type(desc).__name__}")
        missing = [key for key in ("shape", "data", "dtype") if key not in desc]
        if missing:
            raise _argument_error(f"Missing `{missing[0]}` in {desc!r}", name)
        shape = [int(d) for d in desc["shape"]]
        framework = desc["dtype"]
        if framework == _F4_PACKED:
            if not shape:
                raise _argument_error(f"tensor {name!r}: {_F4_PACKED} needs at least one dimension", name)
            header, shape[-1] = "F4", shape[-1] * 2
        else:
            header = _HEADER_NAMES.get(framework)
            if header is None:
                raise _argument_error(f"dtype {framework} is not covered", name)
        entries.append((name, header, shape, desc["data"]))
    return entries


def serialize(tensor_dict: Dict[str, Dict[str, Any]], metadata: Optional[Dict[str, str]] = None) -> bytes:
    """
    Serializes raw data.

    Args:
        tensor_dict (`Dict[str, Dict[Any]]`):
            The tensor dict is like:
                {"tensor_name": {"dtype": "float32", "shape": [2, 3], "data": b"\\0\\0"}}
        metadata (`Dict[str, str]`, *optional*):
            The optional purely text annotations

    Returns:
        (`bytes`):
            The serialized content.
    """
    return _stkit.write_bytes(_entries(tensor_dict), metadata)


def serialize_file(
    tensor_dict: Dict[str, Dict[str, Any]],
    filename: Union[str, os.PathLike],
    metadata: Optional[Dict[str, str]] = None,
) -> None:
    """
    Serializes raw data.

    Args:
        tensor_dict (`Dict[str, Dict[Any]]`):
            The tensor dict is like:
                {"tensor_name": {"dtype": "float32", "shape": [2, 3], "data": b"\\0\\0"}}
        filename (`str`, or `os.PathLike`):
            The name of the file to write into (through a temporary file linked into place).
        metadata (`Dict[str, str]`, *optional*):
            The optional purely text annotations

    Returns:
        `None`
    """
    _stkit.write_file(os.fspath(filename), _entries(tensor_dict), metadata)


def deserialize(bytes: Any) -> List[Tuple[str, Dict[str, Any]]]:
    """
    Opens a safetensors lazily and returns tensors as asked

    Args:
        data (`bytes`):
            The byte content of a file

    Returns:
        (`List[str, Dict[str, Dict[str, any]]]`):
            The deserialized content is like:
                [("tensor_name", {"shape": [2, 3], "dtype": "F32", "data": b"\\0\\0.." }), (...)]
            in file order; each `data` is a `bytearray` of its own.
    """
    file = _stkit.File.from_bytes(bytes)
    items = []
    for name in file.offset_keys():
        dtype, shape, buffer = file.tensor(name)
        items.append((name, {"shape": list(shape), "dtype": dtype, "data": bytearray(buffer)}))
    return items


__all__ = ["SafetensorError", "__version__", "deserialize", "safe_open", "serialize", "serialize_file"]
