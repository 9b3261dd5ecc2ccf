"""stkit._errors: the exception classes, what each code raises, and that they pickle with their fields."""
import pickle

import pytest

import stkit
from stkit._errors import _from_native

CASES = [
    ("st_header_too_large", False, stkit.SafetensorError, None),
    ("st_tensor_not_found", False, stkit.TensorNotFoundError, KeyError),
    ("io_open_failed", False, stkit.SafetensorFileNotFoundError, FileNotFoundError),
    ("pk_global_refused", True, stkit.UnsafeCheckpointError, None),
]


@pytest.mark.parametrize("code, unsafe, cls, builtin", CASES)
def test_each_code_raises_its_class_with_every_field(code, unsafe, cls, builtin):
    e = _from_native("f.bin: byte 34: message (detail)", code, "message", "detail", 34, "posix.system", "f.bin", unsafe)
    assert type(e) is cls and isinstance(e, stkit.SafetensorError)
    if builtin:
        assert isinstance(e, builtin)
    assert str(e) == "f.bin: byte 34: message (detail)"  # also for KeyError, whose str() quotes
    assert (e.code, e.message, e.detail, e.offset, e.name, e.file) == (code, "message", "detail", 34, "posix.system", "f.bin")
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is cls
    assert (again.code, again.offset, again.name, again.file, str(again)) == (code, 34, "posix.system", "f.bin", str(e))


def test_raised_from_the_library_with_its_fields(tmp_path):
    bad = tmp_path / "big.safetensors"
    bad.write_bytes((10**12).to_bytes(8, "little") + b"{}")
    with pytest.raises(stkit.SafetensorError) as raised:
        stkit.safe_open(bad, "np")
    e = raised.value
    assert e.code == "st_header_too_large" and e.file == str(bad) and e.offset == 0
    assert e.message and str(bad) in str(e)
