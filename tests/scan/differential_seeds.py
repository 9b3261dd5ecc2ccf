"""Seed pickles for differential.py: what every attack generator writes, pickles of ordinary objects at
protocols 0-5, hand-written payloads in every form a global can be reached by (GLOBAL, STACK_GLOBAL,
INST, OBJ, NEWOBJ, NEWOBJ_EX, EXT, persistent ids, nested pickle.loads) and torch.save checkpoints
(the zip layout's data.pkl and the legacy layout whole).

Nothing here unpickles: pickle.dumps only calls __reduce_ex__ on stdlib objects, and the payloads
are written opcode by opcode with tests/attacks/attack_common.py.
"""
import collections
import datetime
import decimal
import fractions
import functools
import glob
import importlib.util
import io
import os
import pickle
import pickletools
import struct
import sys
import tarfile
import types
import uuid
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ATTACKS = os.path.join(HERE, "..", "attacks")
MARKER_FOLDER = "/tmp/stkit-differential-marker"  # where a payload that ran would leave its marker
sys.path.insert(0, ATTACKS)
from attack_common import (MARK, MEMOIZE, REDUCE, STOP, TUPLE, binbytes, binunicode,  # noqa: E402
                           frame, global_op, proto, shell_command, short_unicode, tuple1)
from differential_oracle import EXTENSIONS  # noqa: E402


def parses(data):
    """True when pickletools reads at least two opcodes of data (so it is worth mutating)."""
    try:
        count = 0
        for _ in pickletools.genops(data):
            count += 1
            if count >= 2:
                return True
    except Exception:
        return count >= 2
    return False


def pickles_in_file(path):
    """Pickles a generator's output holds: the file itself, members of zips and tars, a zlib stream's
    content, an .npy's data section."""
    with open(path, "rb") as f:
        data = f.read()
    found = []
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                for info in z.infolist():
                    try:
                        member = z.read(info.filename)
                    except Exception:  # the generators break zips on purpose: take the stored bytes
                        member = b""
                    found.append((info.filename, member))
        except zipfile.BadZipFile:
            pass
        # Stored members straight from the bytes too (a broken central directory or CRC).
        at = data.find(b"PK\x03\x04")
        while at >= 0 and at + 30 <= len(data):
            size, name_len, extra_len = struct.unpack_from("<IHH", data, at + 22)
            start = at + 30 + name_len + extra_len
            found.append(("stored@%d" % at, data[start:start + size]))
            at = data.find(b"PK\x03\x04", at + 4)
    elif tarfile.is_tarfile(path):
        with tarfile.open(path) as t:
            for member in t.getmembers():
                if member.isfile():
                    found.append((member.name, t.extractfile(member).read()))
    elif data[:6] == b"\x93NUMPY":
        header_len = struct.unpack_from("<H", data, 8)[0]
        found.append(("npy-data", data[10 + header_len:]))
    elif data[:1] == b"\x78":
        try:
            found.append(("zlib", zlib.decompress(data)))
        except zlib.error:
            pass
    else:
        found.append(("", data))
    return [(name, member) for name, member in found if parses(member)]


def attack_seeds(folder):
    seeds = []
    for path in sorted(glob.glob(os.path.join(ATTACKS, "a[0-9][0-9]_*.py"))):
        name = os.path.basename(path)[:-3]
        out = os.path.join(folder, name)
        os.makedirs(out, exist_ok=True)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
            written = module.generate(out)
        except Exception as e:  # a generator needing a missing tool (7z, h5py) is skipped, not fatal
            print("seeds: %s skipped (%s: %s)" % (name, type(e).__name__, e))
            continue
        seen = set()
        for member, data in pickles_in_file(written):
            if data not in seen:
                seen.add(data)
                seeds.append(("%s%s" % (name, ":" + member if member else ""), data))
    return seeds


class Reduced:
    """An object whose __reduce__ names a global and its arguments (like a user class would)."""

    def __init__(self, callable_, *args):
        self.value = (callable_, args)

    def __reduce__(self):
        return self.value


def object_seeds():
    objects = {
        "dict": {"a": 1, "b": [1, 2, 3], 3: None, "nested": {"x": (1, 2)}},
        "list": [1, -1, 255, 256, 65535, 65536, -2 ** 31, 2 ** 31, 1.5, float("inf"), None, True, False],
        "set": {1, 2, (3, 4)},  # ints only: str and bytes hashes vary per process
        "frozenset": frozenset({7, 8}),
        "tuples": ((), (1,), (1, 2), (1, 2, 3), ((1, (2, (3, (4,)))),)),
        "bytes": [b"", b"x", b"\x00\xff" * 200, bytearray(b"ba")],
        "bigint": [2 ** 64, -2 ** 70, 10 ** 300, 2 ** 2050],
        "floats": [0.0, -0.0, 1e308, 5e-324, 3.141592653589793],
        "strings": ["", "a\nb\\c'\"", "\x00\r\x1a", "\u20ac\U0001f600", "x" * 300, "é" * 3],
        "ordered_dict": collections.OrderedDict([("w", 1), ("b", 2)]),
        "defaultdict": collections.defaultdict(list, {"k": [1]}),
        "counter": collections.Counter("abca"),
        "deque": collections.deque([1, 2]),
        "datetime": [datetime.datetime(2024, 5, 1, 12, 30), datetime.date(2020, 2, 29), datetime.timedelta(3)],
        "decimal": decimal.Decimal("1.5"),
        "fraction": fractions.Fraction(1, 3),
        "partial": functools.partial(os.path.join, "a"),
        "complex": complex(1, 2),
        "range_slice": [range(3), slice(1, 2)],
        "uuid": uuid.UUID(int=5),
        "namespace": types.SimpleNamespace(a=1),
        "reduce_getattr": Reduced(getattr, int, "real"),
        "reduce_eval": Reduced(eval, "1+1"),
        "reduce_os_system": Reduced(os.system, "true"),  # pickled only, never unpickled
    }
    shared = [1, 2]
    objects["shared_refs"] = [shared, shared, {"again": shared}]
    recursive = []
    recursive.append(recursive)
    objects["recursive"] = recursive
    seeds = []
    for name, value in objects.items():
        for protocol in range(6):
            seeds.append(("obj:%s:p%d" % (name, protocol), pickle.dumps(value, protocol=protocol)))
    return seeds


def payload_seeds():
    """Each way a pickle reaches a global, at each protocol that has it."""
    cmd = shell_command()
    call = binunicode(cmd) + tuple1() + REDUCE
    seeds = []
    for protocol in range(6):
        head = proto(protocol) if protocol >= 2 else b""
        seeds.append(("global_reduce:p%d" % protocol, head + global_op("os", "system") + call + STOP))
    text_call = b"(V" + cmd.encode() + b"\ntR."
    seeds += [
        ("text_eval", b"c__builtin__\neval\n(S'1+1'\ntR."),
        ("text_system", b"cos\nsystem\n" + text_call),
        ("inst", b"(S'" + cmd.encode() + b"'\nios\nsystem\n."),
        ("obj", b"(cos\nsystem\nS'" + cmd.encode() + b"'\no."),
        ("persid_text", b"Pdata\n."),
        ("stack_global", proto(4) + short_unicode("os") + short_unicode("system") + b"\x93" + call + STOP),
        ("stack_global_framed", proto(4) + frame(short_unicode("subprocess") + MEMOIZE + short_unicode("check_output") +
                                                MEMOIZE + b"\x93" + MEMOIZE + b"]" + binunicode("id") + b"a" +
                                                tuple1() + REDUCE) + STOP),
        ("stack_global_p5", proto(5) + frame(short_unicode("builtins") + short_unicode("exec") + b"\x93" +
                                            binunicode("pass") + tuple1() + REDUCE) + STOP),
        ("newobj", proto(2) + global_op("subprocess", "Popen") + b"]" + binunicode("id") + b"a" + tuple1() + b"\x81" +
         STOP),
        ("newobj_ex", proto(4) + short_unicode("subprocess") + short_unicode("Popen") + b"\x93" + b")" + b"}" +
         short_unicode("args") + binunicode("id") + b"s" + b"\x92" + STOP),
        ("build", proto(2) + global_op("mylib", "Thing") + b")\x81" + b"}" + binunicode("k") + b"K\x01" + b"s" + b"b" +
         STOP),
        ("binpersid", proto(2) + MARK + binunicode("storage") + global_op("torch", "FloatStorage") +
         binunicode("0") + binunicode("cpu") + b"K\x04" + TUPLE + b"Q" + STOP),
        ("nested_loads", proto(3) + global_op("pickle", "loads") + binbytes(proto(2) + global_op("os", "system") +
                                                                            call + STOP) + tuple1() + REDUCE + STOP),
        ("dotted", proto(4) + short_unicode("posixpath") + short_unicode("os.system") + b"\x93" + call + STOP),
        ("builtin_compat", proto(2) + global_op("__builtin__", "getattr") + STOP),
        ("copy_reg_compat", proto(1) + global_op("copy_reg", "_reconstructor") + STOP),
        ("memo_text", b"S'os'\np0\n0S'system'\np1\n0g0\ng1\n."),  # strings only: no import by itself
    ]
    for code, (module, name) in EXTENSIONS.items():
        op = (b"\x82" + struct.pack("<B", code) if code < 256 else
              b"\x83" + struct.pack("<H", code) if code < 65536 else b"\x84" + struct.pack("<i", code))
        seeds.append(("ext:%d" % code, proto(2) + op + call + STOP))
    return seeds


def torch_seeds(folder):
    try:
        import torch
    except ImportError as e:
        print("seeds: no torch (%s)" % e)
        return []
    state = collections.OrderedDict(weight=torch.arange(6, dtype=torch.float32).reshape(2, 3),
                                    bias=torch.zeros(2, dtype=torch.float16), step=3)
    seeds = []
    buffer = io.BytesIO()
    torch.save(state, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as z:
        for name in z.namelist():
            if name.endswith("data.pkl"):
                seeds.append(("torch:data.pkl", z.read(name)))
    legacy = io.BytesIO()
    torch.save(state, legacy, _use_new_zipfile_serialization=False)
    data = legacy.getvalue()
    # The legacy layout names storages by their addresses; same-length stand-ins keep runs reproducible.
    keys = sorted({arg for op, arg, _ in pickletools.genops(data[data.index(b".\x80\x02]") + 1:])
                   if op.name == "BINUNICODE"})
    for number, key in enumerate(keys):
        data = data.replace(key.encode(), str(10 ** (len(key) - 1) + number).encode())
    seeds.append(("torch:legacy", data))
    return seeds


def make_seeds(folder):
    """Every seed as (name, bytes), in a fixed order, the same wherever the checkout and the scratch
    folder are: payloads name the marker file in MARKER_FOLDER, and seeds that hold the checkout's
    path (TorchScript debug info) are left out."""
    scratch = os.environ.get("STKIT_SCRATCH")
    os.environ["STKIT_SCRATCH"] = MARKER_FOLDER  # what attack_common.marker_path() reads
    try:
        seeds = attack_seeds(folder) + object_seeds() + payload_seeds() + torch_seeds(folder)
    finally:
        if scratch is None:
            del os.environ["STKIT_SCRATCH"]
        else:
            os.environ["STKIT_SCRATCH"] = scratch
    checkout = os.path.dirname(os.path.dirname(HERE)).encode()
    unique = []
    seen = set()
    for name, data in seeds:
        if data not in seen and checkout not in data:
            seen.add(data)
            unique.append((name, data))
    return unique
