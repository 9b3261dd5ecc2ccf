"""PyTorch tensors to and from safetensors, with the reference package's functions (`safetensors.torch`).

Dtypes: every one this torch has among BOOL, U8, I8, U16, I16, U32, I32, U64, I64, F16, BF16, F32, F64,
C64 and the F8 kinds (torch 1.13, Debian's, has no U16/U32/U64 and no F8: reading such a tensor raises
SafetensorError naming it). Sub-byte dtypes (F4, F6_*) are not framework dtypes and raise likewise.
"""
from __future__ import annotations

import os
import sys
from collections import defaultdict
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple, Union

import numpy as np
import torch

from . import _stkit
from ._errors import _argument_error
from ._safe_open import _load, _load_bytes
from ._safetensors_rust import FRAMEWORK_NAMES


def _dtypes() -> Dict[str, torch.dtype]:
    return {name: getattr(torch, attr) for name, attr in FRAMEWORK_NAMES.items()
            if isinstance(getattr(torch, attr, None), torch.dtype)}


_TYPES = _dtypes()
_NAMES = {t: name for name, t in _TYPES.items()}
# Tensors are made as NumPy arrays over the file's bytes (np.ndarray is the cheapest view there is) and
# handed to torch.from_numpy; dtypes NumPy lacks are made as same-width integers, then viewed.
_NUMPY_SAME = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "U16": np.uint16, "I16": np.int16,
               "U32": np.uint32, "I32": np.int32, "U64": np.uint64, "I64": np.int64, "F16": np.float16,
               "F32": np.float32, "F64": np.float64, "C64": np.complex64}
_STORAGE = {name: (np.dtype(_NUMPY_SAME.get(name, np.int16 if name == "BF16" else np.uint8)).newbyteorder("<"),
                   None if name in _NUMPY_SAME else t)
            for name, t in _TYPES.items()}  # BF16 as int16, the F8 kinds as uint8


def _check_device(device: Any) -> torch.device:
    if isinstance(device, int):
        device = f"cuda:{device}"
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise _argument_error(f"device {device} is invalid") from e


def _tensor(dtype: str, shape: Tuple[int, ...], buffer: Any, name: str, file: Optional[str],
            device: torch.device) -> torch.Tensor:
    """A tensor over `buffer` (no copy on cpu), moved to `device`."""
    storage = _STORAGE.get(dtype)
    if storage is None:
        raise _argument_error(
            f"tensor {name!r} has dtype {dtype}, which torch {torch.__version__} does not have", name, file)
    array_type, view_type = storage
    array = np.ndarray(shape, array_type, buffer)
    if sys.byteorder == "big":
        array = array.astype(array_type.newbyteorder("="))
    tensor = torch.from_numpy(array)
    if view_type is not None:
        tensor = tensor.view(view_type)
    if device.type != "cpu":
        tensor = tensor.to(device)
    return tensor


def _storage(tensor: torch.Tensor):
    """The tensor's untyped storage (torch >= 2.0) or typed storage (older), or None (meta, sparse)."""
    try:
        return tensor.untyped_storage() if hasattr(tensor, "untyped_storage") else tensor.storage()
    except (NotImplementedError, RuntimeError):
        return None


def storage_ptr(tensor: torch.Tensor) -> int:
    storage = _storage(tensor)
    return 0 if storage is None else storage.data_ptr()


def storage_size(tensor: torch.Tensor) -> int:
    storage = _storage(tensor)
    if storage is None:
        return tensor.nelement() * tensor.element_size()
    return storage.nbytes()


def _end_ptr(tensor: torch.Tensor) -> int:
    if tensor.nelement() == 0:
        return tensor.data_ptr()
    last = sum((size - 1) * stride for size, stride in zip(tensor.shape, tensor.stride()))
    return tensor.data_ptr() + (last + 1) * tensor.element_size()


def _filter_shared_not_shared(tensors: List[Set[str]], state_dict: Dict[str, torch.Tensor]) -> List[Set[str]]:
    """Splits groups of names on one storage into groups whose bytes really overlap."""
    filtered: List[Set[str]] = []
    for shared in tensors:
        if len(shared) < 2:
            filtered.append(shared)
            continue
        areas = sorted((state_dict[name].data_ptr(), _end_ptr(state_dict[name]), name) for name in shared)
        _, last_stop, last_name = areas[0]
        filtered.append({last_name})
        for start, stop, name in areas[1:]:
            if start >= last_stop:
                filtered.append({name})
            else:
                filtered[-1].add(name)
            last_stop = max(last_stop, stop)
    return filtered


def _find_shared_tensors(state_dict: Dict[str, torch.Tensor]) -> List[Set[str]]:
    tensors: Dict[tuple, Set[str]] = defaultdict(set)
    for k, v in state_dict.items():
        if v.device != torch.device("meta") and storage_ptr(v) != 0 and storage_size(v) != 0:
            # Need to add device as key because of multiple GPU.
            tensors[(v.device, storage_ptr(v), storage_size(v))].add(k)
    return _filter_shared_not_shared(sorted(tensors.values(), key=sorted), state_dict)


def _is_complete(tensor: torch.Tensor) -> bool:
    return tensor.data_ptr() == storage_ptr(tensor) and tensor.nelement() * tensor.element_size() == storage_size(tensor)


def _remove_duplicate_names(
    state_dict: Dict[str, torch.Tensor],
    *,
    preferred_names: Optional[Iterable[str]] = None,
    discard_names: Optional[Iterable[str]] = None,
) -> Dict[str, List[str]]:
    preferred = set(preferred_names or [])
    discard = set(discard_names or [])
    to_remove: Dict[str, List[str]] = defaultdict(list)
    for shared in _find_shared_tensors(state_dict):
        complete_names = {name for name in shared if _is_complete(state_dict[name])}
        if not complete_names:
            raise RuntimeError(
                "Error while trying to find names to remove to save state dict, but found no suitable name to keep"
                f" for saving amongst: {shared}. None is covering the entire storage. Refusing to save/load the"
                " model since you could be storing much more memory than needed."
            )
        keep_name = sorted(complete_names)[0]
        # Mechanism to preferentially select keys to keep coming from the on-disk file to allow
        # loading models saved with a different choice of keep_name.
        kept = complete_names - discard
        if kept:
            keep_name = sorted(kept)[0]
        if preferred:
            kept = preferred & complete_names
            if kept:
                keep_name = sorted(kept)[0]
        for name in sorted(shared):
            if name != keep_name:
                to_remove[keep_name].append(name)
    return to_remove


def _entries(tensors: Dict[str, torch.Tensor]) -> List[tuple]:
    """(name, dtype, shape, bytes as a uint8 array) for the native writer, refusing what the reference
    refuses: sparse, non-contiguous and shared tensors."""
    if not isinstance(tensors, dict):
        raise ValueError(f"Expected a dict of [str, torch.Tensor] but received {type(tensors)}")
    invalid_tensors = []
    for k, v in tensors.items():
        if not isinstance(v, torch.Tensor):
            raise ValueError(f"Key `{k}` is invalid, expected torch.Tensor but received {type(v)}")
        if v.layout != torch.strided:
            invalid_tensors.append(k)
    if invalid_tensors:
        raise ValueError(
            f"You are trying to save a sparse tensors: `{invalid_tensors}` which this library does not support."
            " You can make it a dense tensor before saving with `.to_dense()` but be aware this might"
            " make a much larger file than needed."
        )
    failing = [names for names in _find_shared_tensors(tensors) if len(names) > 1]
    if failing:
        raise RuntimeError(
            f"Some tensors share memory, this will lead to duplicate memory on disk and potential differences"
            f" when loading them again: {failing}.\n"
            "A potential way to correctly save your model is to use `save_model`."
        )
    entries = []
    for name, tensor in tensors.items():
        if not tensor.is_contiguous():
            raise ValueError(
                f"You are trying to save a non contiguous tensor: `{name}` which is not allowed. It either means you"
                " are trying to save tensors which are reference of each other in which case it's recommended to"
                " save only the full tensors, and reslice at load time, or simply call `.contiguous()` on your"
                " tensor to pack it before saving."
            )
        dtype = _NAMES.get(tensor.dtype)
        if dtype is None:
            raise _argument_error(f"tensor {name!r}: dtype {tensor.dtype} cannot be stored in safetensors", name)
        if tensor.device.type != "cpu":
            # Moving tensor to cpu before saving
            tensor = tensor.to("cpu")
        if tensor.nelement() == 0:
            data = b""
        else:
            data = tensor.detach().resolve_conj().resolve_neg().reshape(-1).view(torch.uint8).numpy()
            if sys.byteorder == "big" and tensor.element_size() > 1:
                data = data.reshape(-1, tensor.element_size())[:, ::-1].copy()
        entries.append((name, dtype, tuple(tensor.shape), data))
    return entries


def save(tensors: Dict[str, torch.Tensor], metadata: Optional[Dict[str, str]] = None) -> bytes:
    """
    Saves a dictionary of tensors into raw bytes in safetensors format.

    Args:
        tensors (`Dict[str, torch.Tensor]`):
            The incoming tensors. Tensors need to be contiguous and dense.
        metadata (`Dict[str, str]`, *optional*, defaults to `None`):
            Optional text only metadata you might want to save in your header.
            For instance it can be useful to specify more about the underlying
            tensors. This is purely informative and does not affect tensor loading.

    Returns:
        `bytes`: The raw bytes representing the format

    Example:

    ```python
    from stkit.torch import save
    import torch

    tensors = {"embedding": torch.zeros((512, 1024)), "attention": torch.zeros((256, 256))}
    byte_data = save(tensors)
    ```
    """
    return _stkit.write_bytes(_entries(tensors), metadata)


def save_file(
    tensors: Dict[str, torch.Tensor],
    filename: Union[str, os.PathLike],
    metadata: Optional[Dict[str, str]] = None,
) -> None:
    """
    Saves a dictionary of tensors into raw bytes in safetensors format.

    Args:
        tensors (`Dict[str, torch.Tensor]`):
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
    from stkit.torch import save_file
    import torch

    tensors = {"embedding": torch.zeros((512, 1024)), "attention": torch.zeros((256, 256))}
    save_file(tensors, "model.safetensors")
    ```
    """
    _stkit.write_file(os.fspath(filename), _entries(tensors), metadata)


def load_file(filename: Union[str, os.PathLike], device: Union[str, int] = "cpu") -> Dict[str, torch.Tensor]:
    """
    Loads a safetensors file into torch format.

    Args:
        filename (`str`, or `os.PathLike`):
            The name of the file which contains the tensors
        device (`Union[str, int]`, *optional*, defaults to `cpu`):
            The device where the tensors need to be located after load.
            available options are all regular torch device locations.

    Returns:
        `Dict[str, torch.Tensor]`: dictionary that contains name as key, value as `torch.Tensor`

    On cpu the tensors share the file's pages (a copy-on-write mapping): writable, free until
    touched, and writing to them never changes the file.

    Example:

    ```python
    from stkit.torch import load_file

    file_path = "./my_folder/bert.safetensors"
    loaded = load_file(file_path)
    ```
    """
    return _load(filename, sys.modules[__name__], _check_device(device))


def load(data: bytes) -> Dict[str, torch.Tensor]:
    """
    Loads a safetensors file into torch format from pure bytes.

    Args:
        data (`bytes`):
            The content of a safetensors file

    Returns:
        `Dict[str, torch.Tensor]`: dictionary that contains name as key, value as `torch.Tensor` on cpu

    Example:

    ```python
    from stkit.torch import load

    file_path = "./my_folder/bert.safetensors"
    with open(file_path, "rb") as f:
        data = f.read()

    loaded = load(data)
    ```
    """
    return _load_bytes(data, sys.modules[__name__])


def load_sharded(index_filename: Union[str, os.PathLike], device: Union[str, int] = "cpu") -> Dict[str, torch.Tensor]:
    """
    Loads a sharded checkpoint (`model.safetensors.index.json` and the shards it names) into torch
    format, as one dictionary. Every shard is validated, and the index must list exactly the tensors
    the shards hold.

    Args:
        index_filename (`str`, or `os.PathLike`):
            The index file.
        device (`Union[str, int]`, *optional*, defaults to `cpu`):
            The device where the tensors need to be located after load.

    Returns:
        `Dict[str, torch.Tensor]`: dictionary that contains name as key, value as `torch.Tensor`
    """
    return _load(index_filename, sys.modules[__name__], _check_device(device))


def save_model(
    model: torch.nn.Module,
    filename: Union[str, os.PathLike],
    metadata: Optional[Dict[str, str]] = None,
    force_contiguous: bool = False,
) -> None:
    """
    Saves a given torch model to specified filename.
    This method exists specifically to avoid tensor sharing issues which are
    not allowed in `safetensors`.

    Args:
        model (`torch.nn.Module`):
            The model to save on disk.
        filename (`str`):
            The filename location to save the file
        metadata (`Dict[str, str]`, *optional*):
            Extra information to save along with the file.
            Some metadata will be added for each dropped tensors.
            This information will not be enough to recover the entire
            shared structure but might help understanding things
        force_contiguous (`boolean`, *optional*):
            Forcing the state_dict to be saved as contiguous tensors.
            This has no effect on the correctness of the model, but it
            could potentially change performance if the layout of the tensor
            was chosen specifically for that reason.
    """
    state_dict = model.state_dict()
    to_removes = _remove_duplicate_names(state_dict)

    for kept_name, to_remove_group in to_removes.items():
        for to_remove in to_remove_group:
            if metadata is None:
                metadata = {}
            if to_remove not in metadata:
                # Do not override user data
                metadata[to_remove] = kept_name
            del state_dict[to_remove]
    if force_contiguous:
        state_dict = {k: v.contiguous() for k, v in state_dict.items()}
    try:
        save_file(state_dict, filename, metadata=metadata)
    except ValueError as e:
        msg = str(e)
        msg += " Or use save_model(..., force_contiguous=True), read the docs for potential caveats."
        raise ValueError(msg) from e


def load_model(
    model: torch.nn.Module,
    filename: Union[str, os.PathLike],
    strict: bool = True,
    device: Union[str, int] = "cpu",
) -> Tuple[List[str], List[str]]:
    """
    Loads a given filename onto a torch model.
    This method exists specifically to avoid tensor sharing issues which are
    not allowed in `safetensors`.

    Args:
        model (`torch.nn.Module`):
            The model to load onto.
        filename (`str`, or `os.PathLike`):
            The filename location to load the file from.
        strict (`bool`, *optional*, defaults to True):
            Whether to fail if you're missing keys or having unexpected ones.
            When false, the function simply returns missing and unexpected names.
        device (`Union[str, int]`, *optional*, defaults to `cpu`):
            The device where the tensors need to be located after load.
            available options are all regular torch device locations.

    Returns:
        `(missing, unexpected): (List[str], List[str])`
            `missing` are names in the model which were not modified during loading
            `unexpected` are names that are on the file, but weren't used during
            the load.
    """
    state_dict = load_file(filename, device=device)
    model_state_dict = model.state_dict()
    to_removes = _remove_duplicate_names(model_state_dict, preferred_names=state_dict.keys())
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    missing = set(missing)
    for to_remove_group in to_removes.values():
        for to_remove in to_remove_group:
            if to_remove not in missing:
                unexpected.append(to_remove)
            else:
                missing.remove(to_remove)
    if strict and (missing or unexpected):
        missing_keys = ", ".join([f'"{k}"' for k in sorted(missing)])
        unexpected_keys = ", ".join([f'"{k}"' for k in sorted(unexpected)])
        error = f"Error(s) in loading state_dict for {model.__class__.__name__}:"
        if missing:
            error += f"\n    Missing key(s) in state_dict: {missing_keys}"
        if unexpected:
            error += f"\n    Unexpected key(s) in state_dict: {unexpected_keys}"
        raise RuntimeError(error)
    return list(missing), unexpected


__all__ = ["save", "save_file", "load", "load_file", "load_sharded", "save_model", "load_model"]
