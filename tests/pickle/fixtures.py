"""Fixtures for the pickle machine tests, written by Debian's python3 (pickle, torch 1.13).

usage: fixtures.py OUTDIR

Writes pickles into OUTDIR and OUTDIR/manifest.json describing what the machine must make of each:
  values      pickles of plain data for protocols 0-5, with a canonical rendering of the value
              (see render()); the C++ test renders the machine's nodes the same way
  events      pickles of objects, with the imports/calls/... CPython's own unpickler performs
  torch       data.pkl of torch.save zips and whole legacy torch.save files, with what torch.load
              reports for every tensor
  crafted     hand-assembled pickles for what Python never writes (STRING, INST, DUP, v3 tensors
              over UntypedStorage, ...), with their expected rendering or tensors
The script also checks that the pickles together use every opcode of pickletools.
"""
import collections
import copyreg
import io
import json
import os
import pickle
import pickletools
import struct
import sys
import zipfile

import _compat_pickle

out_dir = sys.argv[1]
os.makedirs(out_dir, exist_ok=True)
manifest = {"values": [], "events": [], "torch": [], "legacy": [], "crafted": [], "refusals": []}
used_opcodes = set()


def write(name, data):
    with open(os.path.join(out_dir, name), "wb") as f:
        f.write(data)
    for op, _, _ in pickletools.genops(data):
        used_opcodes.add(op.name)
    return name


# ---------------------------------------------------------------------------------------------
# Canonical rendering, mirrored by render() in machine_test.cpp.

def twos(value):
    n = 1
    while True:
        try:
            return value.to_bytes(n, "little", signed=True)
        except OverflowError:
            n += 1


def render(value, path=()):
    if value is None:
        return "N"
    if value is True:
        return "T"
    if value is False:
        return "F"
    if isinstance(value, int):
        if -2**63 <= value < 2**63:
            return "i%d" % value
        return "I" + twos(value).hex()
    if isinstance(value, float):
        return "f" + struct.pack("<d", value).hex()
    if isinstance(value, str):
        return "s" + value.encode("utf-8", "surrogatepass").hex()
    if isinstance(value, (bytes, bytearray)):
        return "b" + bytes(value).hex()
    if any(value is p for p in path):
        return "..."
    inner = path + (value,)
    if isinstance(value, tuple):
        return "(" + ",".join(render(v, inner) for v in value) + ")"
    if isinstance(value, list):
        return "[" + ",".join(render(v, inner) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(render(k, inner) + ":" + render(v, inner) for k, v in value.items()) + "}"
    if isinstance(value, frozenset):
        return "F<" + ",".join(render(v, inner) for v in value) + ">"
    if isinstance(value, set):
        return "<" + ",".join(render(v, inner) for v in value) + ">"
    raise TypeError(type(value))


# ---------------------------------------------------------------------------------------------
# Plain values, every protocol.

recursive_list = [1]
recursive_list.append(recursive_list)
recursive_tuple_holder = []
recursive_tuple = (recursive_tuple_holder, 2)
recursive_tuple_holder.append(recursive_tuple)
shared = [1, 2]
many_shared = [[i] for i in range(300)]

values = {
    "ints": [0, 1, -1, 255, 256, 300, 65535, 65536, -2**31, 2**31 - 1, 2**31, 2**62, -2**63,
             2**63 - 1, 2**63, -2**63 - 1, 2**64, 2**100, -2**100, 2**2100, -2**2100],
    "floats": [0.0, -0.0, 1.5, -2.25, 1e300, 5e-324, float("inf"), float("-inf"), 3.141592653589793],
    "strings": ["", "a", "hello world", "h\u00e9llo", "\u20ac\U0001f600", "back\\slash\n", "x" * 300,
                "quote'\"", "\u0000nul"],
    "bytes": [b"", b"a", b"\x00\xff\x80", b"y" * 300, bytearray(b"ba\x00"), bytearray()],
    "containers": ((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [1], {}, {"a": 1},
                   {"a": 1, "b": [2, 3], 4: (5,)}, {1, 2, 3}, set(), frozenset({4, 5}), frozenset()),
    "nested": {"a": [{"b": ({"c": [1, [2, [3, [4]]]]},)}], "d": {"e": {"f": None}}},
    "bools": [True, False, None, True],
    "shared": [shared, shared, {"k": shared}],
    "many_shared": [many_shared, many_shared[299]],
    "recursive_list": recursive_list,
    "recursive_tuple": recursive_tuple,
}
for protocol in range(6):
    for name, value in values.items():
        data = pickle.dumps(value, protocol=protocol)
        manifest["values"].append({"file": write("p%d_%s.pkl" % (protocol, name), data),
                                   "protocol": protocol, "render": render(value)})


# ---------------------------------------------------------------------------------------------
# Objects: what CPython's unpickler imports and calls, recorded by running it with find_class and
# persistent_load hooked (the hooks return harmless stand-ins, nothing from the pickle runs).

class Plain:
    def __init__(self):
        self.x = 1


class WithNewArgsEx:
    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __getnewargs_ex__(self):
        return (1,), {"k": 2}


class Slots:
    __slots__ = ("a",)

    def __init__(self):
        self.a = 3


class Extended:
    pass


copyreg.add_extension(__name__, "Extended", 240)
copyreg.add_extension(__name__, "Plain", 0x1234)
copyreg.add_extension(__name__, "Slots", 0x123456)


class Recorder(pickle._Unpickler):
    """Runs pickle.py's unpickler with stand-ins; records the globals asked for."""

    def __init__(self, data):
        super().__init__(io.BytesIO(data))
        self.globals = []

    def find_class(self, module, name):
        if self.proto < 3 and self.fix_imports:
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        self.globals.append((module, name))
        return super().find_class(module, name)

    def persistent_load(self, pid):
        return pid


class PersistentPickler(pickle.Pickler):
    def __init__(self, file, protocol):
        super().__init__(file, protocol=protocol)
        self.protocol = protocol

    def persistent_id(self, obj):
        if isinstance(obj, str) and obj.startswith("pid:"):
            return obj if self.protocol == 0 else ("custom", obj[4:])
        return None


def event_list(data):
    """The events the analysis machine must record, from pickletools and the recorder."""
    recorder = Recorder(data)
    recorder.load()
    imports = iter(recorder.globals)
    events = []
    for op, arg, pos in pickletools.genops(data):
        if op.name in ("GLOBAL", "STACK_GLOBAL", "INST"):
            module, name = next(imports)
            events.append(["import", module, name, pos])
            if op.name == "INST":
                events.append(["instantiate", module, name, pos])
        elif op.name == "REDUCE":
            events.append(["call", None, None, pos])
        elif op.name in ("NEWOBJ", "NEWOBJ_EX", "OBJ"):
            events.append(["instantiate", None, None, pos])
        elif op.name == "BUILD":
            events.append(["build", None, None, pos])
        elif op.name.startswith("EXT"):
            events.append(["extension", "copyreg", "extension %d" % arg, pos])
        elif op.name in ("PERSID", "BINPERSID"):
            events.append(["persistent_id", None, None, pos])
    return events


objects = {
    "plain": Plain(),
    "newargs_ex": WithNewArgsEx(),
    "slots": Slots(),
    "ordered": collections.OrderedDict([("a", 1), ("b", 2)]),
    "persistent": ["pid:one", {"k": "pid:two"}],
    "extension": [Extended, Plain, Slots],
}
for protocol in range(6):
    for name, value in objects.items():
        if name in ("newargs_ex", "slots") and protocol < 2:
            continue
        buffer = io.BytesIO()
        PersistentPickler(buffer, protocol=protocol).dump(value)
        data = buffer.getvalue()
        manifest["events"].append({"file": write("obj_p%d_%s.pkl" % (protocol, name), data),
                                   "protocol": protocol, "events": event_list(data)})
# Out-of-band buffers (protocol 5): the machine has none to give.
buffers = []
data = pickle.dumps([pickle.PickleBuffer(b"abc"), pickle.PickleBuffer(memoryview(b"de").toreadonly())],
                    protocol=5, buffer_callback=buffers.append)
manifest["out_of_band"] = write("out_of_band.pkl", data)


# ---------------------------------------------------------------------------------------------
# Hand-assembled pickles for what Python 3 never writes.

def glob(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def ustr(text):
    b = text.encode()
    return b"\x8c" + bytes([len(b)]) + b


def binint(n):
    return b"J" + struct.pack("<i", n)


crafted = {
    # Python 2 strings: STRING (with escapes), BINSTRING, SHORT_BINSTRING; DUP; INT bools.
    "py2_strings": (b"(S'a\\n\\x41\\'b'\nS\"q\"\nT\x03\x00\x00\x00xyzU\x02hiU\x02\xff\xfeI01\nI00\n"
                    b"I-7\nL123L\n2l.", "[s" + b"a\nA'b".hex() + ",s71,s78797a,s6869,b" + "fffe" +
                    ",T,F,i-7,i123,i123]"),
    "unicode8_bytes8": (b"\x80\x04\x8d\x02\x00\x00\x00\x00\x00\x00\x00hi\x8e\x01\x00\x00\x00\x00\x00\x00"
                        b"\x00z\x96\x00\x00\x00\x00\x00\x00\x00\x00\x87.", "(s6869,b7a,b)"),
    "raw_unicode_escape": (b"(V\\u20ac\\\\u0041\\U0001F600\xe9\nI1\nI2\nI3\nt.",
                           None),
    "pop_mark_get": (b"(I1\np0\n0(I2\n1g0\ng0\n\x86.", "(i1,i1)"),
    "long4": (b"\x80\x02\x8b\x09\x00\x00\x00" + (2**70).to_bytes(9, "little", signed=True) + b".",
              "I" + twos(2**70).hex()),
    "empty_long1": (b"\x80\x02\x8a\x00.", "i0"),
    "negative_long1": (b"\x80\x02\x8a\x02\x00\xff.", "i-256"),
    "binint_negative": (b"\x80\x02J\xfe\xff\xff\xffM\xff\xffK\x07\x87.", "(i-2,i65535,i7)"),
    "frame": (b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01K\x02\x86\x95\x02\x00\x00\x00\x00\x00"
              b"\x00\x00\x94.", "(i1,i2)"),
    "readonly_buffer_noop": (b"\x80\x05C\x01a\x98.", "b61"),
    "stack_global_memo": (b"\x80\x04" + ustr("collections") + b"\x94" + ustr("OrderedDict") + b"\x94"
                          b"0h\x00h\x01\x93)R.", "{}"),
}
crafted["raw_unicode_escape"] = (crafted["raw_unicode_escape"][0],
                                 "(s" + ("\u20ac\\\\u0041\U0001F600\u00e9".replace("\\\\", "\\\\")).encode(
                                     "utf-8").hex() + ",i1,i2,i3)")
for name, (data, rendering) in crafted.items():
    manifest["crafted"].append({"file": write("crafted_%s.pkl" % name, data), "render": rendering})

# INST and OBJ (analysis mode).
inst = b"(I1\nibuiltins\nlist\n."
obj = b"(cbuiltins\nlist\nI1\no."
manifest["events"].append({"file": write("obj_inst.pkl", inst), "protocol": 0,
                           "events": [["import", "builtins", "list", inst.index(b"i")],
                                      ["instantiate", "builtins", "list", inst.index(b"i")]]})
manifest["events"].append({"file": write("obj_obj.pkl", obj), "protocol": 0,
                           "events": [["import", "builtins", "list", 1],
                                      ["instantiate", "builtins", "list", obj.index(b"o.")]]})


# ---------------------------------------------------------------------------------------------
# Refusals: (file, code, name, offset of the offending opcode).

def first_op(data, names):
    for op, _, pos in pickletools.genops(data):
        if op.name in names:
            return pos
    raise ValueError(names)


class Boom:
    def __reduce__(self):
        return (os.system, ("touch /nonexistent/marker",))


refusals = {
    "os_system_global": (b"cos\nsystem\n(S'true'\ntR.", "pk_global_refused", "os.system", 0),
    "eval_builtin_p0": (b"c__builtin__\neval\n(S'1'\ntR.", "pk_global_refused", "builtins.eval", 0),
    "stack_global_memo": (b"\x80\x04" + ustr("os") + b"\x94" + ustr("system") + b"\x94" +
                          b"00h\x00h\x01\x93" + ustr("true") + b"\x85R.",
                          "pk_global_refused", "os.system", 22),
    "newobj_allowlisted": (b"\x80\x02ccollections\nOrderedDict\n)\x81.", "pk_call_refused",
                           "collections.OrderedDict", 28),
    "build_list": (b"\x80\x02]}b.", "pk_build_refused", "", 4),
    "build_plain_dict": (b"\x80\x02}}b.", "pk_build_refused", "", 4),
    "ext1": (b"\x80\x02\x82\x01.", "pk_extension_refused", "", 2),
    "call_dtype": (b"\x80\x02ctorch\nfloat32\n)R.", "pk_call_refused", "", 18),
    "call_storage_class": (b"\x80\x02ctorch\nFloatStorage\n)R.", "pk_call_refused",
                           "torch.FloatStorage", 23),
    "persistent_not_storage": (b"\x80\x02X\x03\x00\x00\x00abcQ.", "pk_persistent_id_refused", "", 10),
}
for protocol in (0, 2, 4):
    data = pickle.dumps(Boom(), protocol=protocol)
    refusals["boom_p%d" % protocol] = (data, "pk_global_refused", "posix.system",
                                       first_op(data, ("GLOBAL", "STACK_GLOBAL")))
class Victim:
    pass


data = pickle.dumps(Victim(), protocol=2)
refusals["newobj_class"] = (data, "pk_global_refused", "__main__.Victim", first_op(data, ("GLOBAL",)))
for name, (data, code, global_name, offset) in refusals.items():
    manifest["refusals"].append({"file": write("refuse_%s.pkl" % name, data), "code": code,
                                 "name": global_name, "offset": offset})


# ---------------------------------------------------------------------------------------------
# torch.save: zip data.pkl and legacy files, with torch.load's view of every tensor.

import torch  # noqa: E402  (after the pure-pickle fixtures, which must not depend on it)

torch.manual_seed(0)


class TensorStub:
    def __init__(self, key):
        self.key = key


class KeyReplay(pickle.Unpickler):
    """Replays data.pkl with CPython's unpickler, tensors replaced by their storage key."""

    def find_class(self, module, name):
        if module == "torch._utils" and name.startswith("_rebuild_tensor"):
            return lambda storage, *args: TensorStub(storage)
        if module == "torch._utils" and name.startswith("_rebuild_parameter"):
            return lambda data, *args: data
        return super().find_class(module, name)

    def persistent_load(self, pid):
        return pid[2]


def describe(obj, path, out):
    if isinstance(obj, TensorStub):
        out[path] = obj.key
    elif isinstance(obj, torch.Tensor):
        out[path] = {"dtype": str(obj.dtype).replace("torch.", ""), "size": list(obj.size()),
                     "stride": list(obj.stride()), "offset": obj.storage_offset(),
                     "numel": obj.storage().size(), "group": obj.storage().data_ptr(),
                     "parameter": isinstance(obj, torch.nn.Parameter),
                     "requires_grad": obj.requires_grad}
    elif isinstance(obj, dict):
        for k, v in obj.items():
            describe(v, path + "/" + str(k) if path else str(k), out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            describe(v, path + "/" + str(i) if path else str(i), out)


def expectations(loaded, data_pkl=None):
    """What torch.load says of each tensor; storages numbered by first use; keys from the replay."""
    out = {}
    describe(loaded, "", out)
    groups = {}
    for t in out.values():
        t["group"] = groups.setdefault(t["group"], len(groups))
    if data_pkl is not None:
        keys = {}
        describe(KeyReplay(io.BytesIO(data_pkl)).load(), "", keys)
        assert keys.keys() == out.keys()
        for path, key in keys.items():
            out[path]["key"] = key
    return out


dtypes = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.uint8, torch.int8,
          torch.int16, torch.int32, torch.int64, torch.bool, torch.complex64, torch.complex128]
base = torch.arange(48, dtype=torch.float32).reshape(6, 8)
linear = torch.nn.Linear(4, 3)
tied = torch.nn.Embedding(5, 4)
checkpoints = {
    "dtypes": {str(d).replace("torch.", ""): (torch.arange(6).reshape(2, 3) % 2).to(d) for d in dtypes},
    "parameter": {"weight": torch.nn.Parameter(torch.randn(3, 2)),
                  "frozen": torch.nn.Parameter(torch.randn(2), requires_grad=False)},
    "tied": {"a": tied.weight.data, "b": tied.weight.data, "c": tied.weight.data[1:3]},
    "views": {"whole": base, "row": base[2], "column": base[:, 3], "block": base[1:4, 2:6],
              "transposed": base.t(), "strided": base[::2, ::3], "scalar": base[5, 7]},
    "state_dict": linear.state_dict(),
    "nested": {"epoch": 3, "lr": 0.5, "name": "run", "state_dict": {"model": linear.state_dict(),
               "extra": [torch.ones(2), (torch.zeros(1, dtype=torch.int64),)]}},
    "empty": {"none": torch.zeros(0), "zero_dim": torch.tensor(7.0)},
}
for name, obj in checkpoints.items():
    for protocol in (2, 4):
        path = os.path.join(out_dir, "ckpt.pt")
        torch.save(obj, path, pickle_protocol=protocol)
        loaded = torch.load(path)
        with zipfile.ZipFile(path) as z:
            data_name = next(n for n in z.namelist() if n.endswith("/data.pkl"))
            data_pkl = z.read(data_name)
        expected = expectations(loaded, data_pkl)
        manifest["torch"].append({"file": write("torch_%s_p%d.pkl" % (name, protocol), data_pkl),
                                  "protocol": protocol, "tensors": expected})
    legacy_path = os.path.join(out_dir, "legacy_%s.pt" % name)
    torch.save(obj, legacy_path, _use_new_zipfile_serialization=False)
    expected = expectations(torch.load(legacy_path))
    manifest["legacy"].append({"file": os.path.basename(legacy_path), "tensors": expected})
os.remove(os.path.join(out_dir, "ckpt.pt"))


# v3 rebuilds over UntypedStorage and new dtypes torch 1.13 lacks, assembled by hand.
def v3_pickle(dtype, numel_bytes, size, stride, offset):
    def tup(items):
        return b"(" + b"".join(items) + b"t"
    pid = tup([ustr("storage"), glob("torch", "UntypedStorage"), ustr("0"), ustr("cpu"),
               binint(numel_bytes)]) + b"Q"
    args = tup([pid, binint(offset), tup([binint(s) for s in size]), tup([binint(s) for s in stride]),
                b"\x89", glob("collections", "OrderedDict") + b")R", glob("torch", dtype)])
    return (b"\x80\x02}" + ustr("w") + glob("torch._utils", "_rebuild_tensor_v3") + args + b"Rs.")


for dtype, size_bytes in (("float8_e4m3fn", 1), ("float8_e5m2", 1), ("uint16", 2), ("uint32", 4),
                          ("uint64", 8), ("bfloat16", 2)):
    data = v3_pickle(dtype, 24, [2, 3], [3, 1], 1)
    manifest["torch"].append({"file": write("v3_%s.pkl" % dtype, data), "protocol": 2, "tensors": {
        "w": {"dtype": dtype, "size": [2, 3], "stride": [3, 1], "offset": 1, "numel": 24,
              "parameter": False, "requires_grad": False, "key": "0", "storage": "uint8"}}})

# Protocol 0/1 spellings of a storage pid and a legacy view.
legacy_view = (b"\x80\x02}X\x01\x00\x00\x00v" + glob("torch._utils", "_rebuild_tensor_v2") +
               b"((X\x07\x00\x00\x00storage" + glob("torch", "FloatStorage") +
               b"X\x04\x00\x00\x00rootX\x03\x00\x00\x00cpuK\x10(X\x04\x00\x00\x00viewK\x04K\x08ttQ"
               b"K\x02K\x03\x85K\x01\x85\x89" + glob("collections", "OrderedDict") + b")Rt" + b"Rs.")
manifest["torch"].append({"file": write("legacy_view.pkl", legacy_view), "protocol": 2, "tensors": {
    "v": {"dtype": "float32", "size": [3], "stride": [1], "offset": 6, "numel": 16,
          "parameter": False, "requires_grad": False, "key": "root", "view_key": "view"}}})

missing = sorted(set(op.name for op in pickletools.opcodes) - used_opcodes)
assert not missing, "fixtures do not use: %s" % missing
with open(os.path.join(out_dir, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1)
