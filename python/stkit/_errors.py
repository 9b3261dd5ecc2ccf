"""The exceptions of the stkit package.

Every error of the C++ library reaches Python as a :class:`SafetensorError` (the reference package's
exception name) carrying the library error's fields; a few codes raise a subclass that is also the
builtin exception the reference raises in that case, so existing ``except`` clauses keep working.
"""
from __future__ import annotations

from typing import Optional


class SafetensorError(Exception):
    """Custom Python Exception for Safetensor errors.

    Attributes:
        code: the C++ library's error code, by name (``"st_header_too_large"``, ``"st_tensor_not_found"``,
            ...; ``"invalid_argument"`` for arguments refused by the Python layer)
        message: the code's fixed sentence
        detail: the specifics of this occurrence (may be empty)
        offset: the absolute byte offset in the file where the problem is, or None
        name: the tensor (or archive member, or pickle global) involved, or None
        file: the file involved, or None
    """

    def __init__(
        self,
        text: str,
        code: str = "invalid_argument",
        message: str = "",
        detail: str = "",
        offset: Optional[int] = None,
        name: Optional[str] = None,
        file: Optional[str] = None,
    ) -> None:
        super().__init__(text)
        self.code = code
        self.message = message or text
        self.detail = detail
        self.offset = offset
        self.name = name
        self.file = file

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __reduce__(self):
        return (type(self), (str(self), self.code, self.message, self.detail, self.offset, self.name, self.file))


class UnsafeCheckpointError(SafetensorError):
    """A checkpoint refused on safety grounds by :func:`stkit.convert`: its pickle imports a global outside
    the allowlist (``name`` is ``"module.qualname"``, ``offset`` the opcode's byte offset), calls or
    builds something the converter does not allow, or the file carries code. Nothing in it was run, and
    no output was written."""


class TensorNotFoundError(SafetensorError, KeyError):
    """A tensor name the file does not hold (``code`` ``"st_tensor_not_found"``). Also a ``KeyError``,
    so mapping-style ``except KeyError`` works."""


class SafetensorFileNotFoundError(SafetensorError, FileNotFoundError):
    """A file that cannot be opened (``code`` ``"io_open_failed"``). Also a ``FileNotFoundError``, as the
    reference package raises; ``filename`` is the file."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.filename = self.file


def _from_native(
    text: str,
    code: str,
    message: str,
    detail: str,
    offset: Optional[int],
    name: Optional[str],
    file: Optional[str],
    unsafe: bool,
) -> SafetensorError:
    """The exception for a C++ library error (called by stkit._stkit's error translation)."""
    if unsafe:
        cls = UnsafeCheckpointError
    elif code == "st_tensor_not_found":
        cls = TensorNotFoundError
    elif code == "io_open_failed":
        cls = SafetensorFileNotFoundError
    else:
        cls = SafetensorError
    return cls(text, code, message, detail, offset, name, file)


def _argument_error(text: str, name: Optional[str] = None, file: Optional[str] = None) -> SafetensorError:
    """An argument the Python layer refuses (a dtype the framework lacks, an unknown framework)."""
    return SafetensorError(text, "invalid_argument", text, "", None, name, file)
