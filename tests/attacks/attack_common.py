"""Helpers shared by the attack generators in this folder.

Each generator (one technique per file, NN_<technique>.py) defines:
    EXPECTED = {"verdict": ..., "finding": {"category": ..., "module": ..., "name": ...}}
        the verdict `stkit scan` must give and one finding it must report (keys compared exactly;
        leave a key out to not compare it)
    generate(folder) -> path of the file it wrote

Payloads are harmless: they would only create the marker file named by marker_path() if something
ever executed them. Nothing here unpickles or loads what it writes; run_attacks.py checks the marker
never appears.
"""
import io
import json
import os
import struct
import zipfile
import zlib

MARKER_NAME = "STKIT_ATTACK_MARKER"


def marker_path():
    return os.path.join(os.environ.get("STKIT_SCRATCH", "/tmp"), MARKER_NAME)


def shell_command():
    return "touch " + marker_path()


# --- pickle opcodes, written by hand so every byte is the technique's own ----------------------

def proto(n):
    return b"\x80" + bytes([n])


def global_op(module, name):
    """GLOBAL (protocol 0+): 'c' module '\\n' name '\\n'."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def short_unicode(text):
    data = text.encode()
    return b"\x8c" + bytes([len(data)]) + data


def binunicode(text):
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def short_bytes(data):
    return b"C" + bytes([len(data)]) + data


def binbytes(data):
    return b"B" + struct.pack("<I", len(data)) + data


def tuple1():
    return b"\x85"


REDUCE = b"R"
STOP = b"."
MARK = b"("
TUPLE = b"t"
MEMOIZE = b"\x94"
STACK_GLOBAL = b"\x93"
POP = b"0"
DUP = b"2"


def binget(i):
    return b"h" + bytes([i])


def frame(body):
    return b"\x95" + struct.pack("<Q", len(body)) + body


def call_with_string(module, name, argument, protocol=2):
    """module.name(argument) with a GLOBAL and REDUCE."""
    return proto(protocol) + global_op(module, name) + binunicode(argument) + tuple1() + REDUCE + STOP


def os_system_pickle(protocol=2):
    return call_with_string("os", "system", shell_command(), protocol)


def benign_pickle():
    """{'epoch': 3} at protocol 2."""
    return proto(2) + b"}" + MARK + binunicode("epoch") + b"K\x03" + b"u" + STOP


# --- zips, written entry by entry so the generators can break exactly one thing ------------------

def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def torch_zip_bytes(members, prefix="archive"):
    """A stored zip in torch.save's layout: members is a list of (name under prefix, bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as z:
        for name, data in members:
            z.writestr(prefix + "/" + name, data)
    return bytearray(buffer.getvalue())


def find_local_header(archive, name):
    """Offset of the local header of member `name`."""
    needle = name.encode()
    at = 0
    while True:
        at = archive.index(b"PK\x03\x04", at)
        name_len = struct.unpack_from("<H", archive, at + 26)[0]
        if bytes(archive[at + 30:at + 30 + name_len]) == needle:
            return at
        at += 4


def find_central_header(archive, name):
    needle = name.encode()
    at = 0
    while True:
        at = archive.index(b"PK\x01\x02", at)
        name_len = struct.unpack_from("<H", archive, at + 28)[0]
        if bytes(archive[at + 46:at + 46 + name_len]) == needle:
            return at
        at += 4


def crc32(data):
    return zlib.crc32(data) & 0xFFFFFFFF


# --- protobuf, written field by field: TensorFlow graphs and ONNX models ---------------------------
# Field numbers from tensorflow/core/framework/*.proto, tensorflow/core/protobuf/{saved_model,
# meta_graph}.proto and onnx/onnx.proto3 (src/scan/tensorflow.cpp and onnx.cpp name each one).

def pb_varint(value):
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | 0x80 if value else low)
        if not value:
            return bytes(out)


def pb_bytes(number, payload):
    """A length-delimited field: a string, bytes or an embedded message."""
    if isinstance(payload, str):
        payload = payload.encode()
    return pb_varint(number << 3 | 2) + pb_varint(len(payload)) + payload


def pb_int(number, value):
    return pb_varint(number << 3) + pb_varint(value)


def pb_each(number, items):
    return b"".join(pb_bytes(number, item) for item in items)


DT_FLOAT, DT_STRING = 1, 7


def tf_attr(name, value):
    """A NodeDef.attr map entry; value is an AttrValue."""
    return pb_bytes(5, pb_bytes(1, name) + pb_bytes(2, value))


def tf_type(dtype):
    return pb_int(6, dtype)


def tf_node(name, op, inputs=(), attrs=b""):
    return pb_bytes(1, name) + pb_bytes(2, op) + pb_each(3, inputs) + attrs


def tf_const_string(name, text):
    tensor = pb_int(1, DT_STRING) + pb_bytes(2, b"") + pb_bytes(8, text)
    return tf_node(name, "Const", attrs=tf_attr("dtype", tf_type(DT_STRING)) + tf_attr("value", pb_bytes(8, tensor)))


def tf_function(name, nodes):
    """A FunctionDef: signature (OpDef) name and body nodes."""
    return pb_bytes(1, pb_bytes(1, name)) + pb_each(3, nodes)


def tf_graph(nodes, functions=()):
    """A GraphDef: nodes, a function library, versions {producer}."""
    library = pb_bytes(2, pb_each(1, functions)) if functions else b""
    return pb_each(1, nodes) + library + pb_bytes(4, pb_int(1, 1645))


def tf_saved_model(graph_def, meta_fields=b""):
    """A SavedModel with one meta graph tagged "serve"; meta_fields adds saver_def, asset_file_def..."""
    meta_info = pb_bytes(4, "serve") + pb_bytes(5, "2.15.0")
    return pb_int(1, 1) + pb_bytes(2, pb_bytes(1, meta_info) + pb_bytes(2, graph_def) + meta_fields)


ONNX_FLOAT = 1


def onnx_tensor(name, dims, raw=None, location=None):
    """A float TensorProto with its bytes inline (raw) or in an external file (location)."""
    out = b"".join(pb_int(1, d) for d in dims) + pb_int(2, ONNX_FLOAT) + pb_bytes(8, name)
    if raw is not None:
        out += pb_bytes(9, raw)
    if location is not None:
        size = 4
        for d in dims:
            size *= d
        for key, value in (("location", location), ("offset", "0"), ("length", str(size))):
            out += pb_bytes(13, pb_bytes(1, key) + pb_bytes(2, value))
        out += pb_int(14, 1)  # data_location EXTERNAL
    return out


def onnx_value_info(name, dims):
    shape = pb_each(1, [pb_int(1, d) for d in dims])
    return pb_bytes(1, name) + pb_bytes(2, pb_bytes(1, pb_int(1, ONNX_FLOAT) + pb_bytes(2, shape)))


def onnx_node(op_type, inputs, outputs, name, domain=None):
    out = pb_each(1, inputs) + pb_each(2, outputs) + pb_bytes(3, name) + pb_bytes(4, op_type)
    return out + (pb_bytes(7, domain) if domain is not None else b"")


def onnx_graph(nodes, initializers, inputs, outputs, name="main"):
    return (pb_each(1, nodes) + pb_bytes(2, name) + pb_each(5, initializers) + pb_each(11, inputs) +
            pb_each(12, outputs))


def onnx_model(graph, opsets=(("", 17),)):
    """A ModelProto, IR version 8."""
    imports = b"".join(pb_bytes(8, pb_bytes(1, domain) + pb_int(2, version)) for domain, version in opsets)
    return pb_int(1, 8) + pb_bytes(2, "stkit-attacks") + pb_bytes(3, "1.0") + pb_bytes(7, graph) + imports


def onnx_matmul_model(weight, opsets=(("", 17),), domain=None, op_type="MatMul"):
    """y = op(x, W): x [1, 4], W [4, 4] given as a TensorProto."""
    node = onnx_node(op_type, ["x", "W"], ["y"], "matmul", domain)
    graph = onnx_graph([node], [weight], [onnx_value_info("x", [1, 4])], [onnx_value_info("y", [1, 4])])
    return onnx_model(graph, opsets)


# --- GGUF, written from the spec (llama.cpp's docs/gguf.md): header, then typed key-value pairs ---

GGUF_TYPES = {"u8": 0, "i8": 1, "u16": 2, "i16": 3, "u32": 4, "i32": 5, "f32": 6, "bool": 7, "string": 8,
              "array": 9, "u64": 10, "i64": 11, "f64": 12}
_GGUF_PACK = {"u8": "<B", "i8": "<b", "u16": "<H", "i16": "<h", "u32": "<I", "i32": "<i", "f32": "<f",
              "bool": "<?", "u64": "<Q", "i64": "<q", "f64": "<d"}


def gguf_type_of(value):
    """The GGUF type llama.cpp's writer uses for a Python value (ints as u32 scalars, i32 in arrays)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "u32"
    if isinstance(value, float):
        return "f32"
    if isinstance(value, str):
        return "string"
    return "array"


def gguf_string(text):
    data = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(data)) + data


def gguf_value(kind, value):
    if kind == "string":
        return gguf_string(value)
    if kind == "array":
        item = gguf_type_of(value[0]) if value else "u32"
        item = "i32" if item == "u32" else item
        return struct.pack("<IQ", GGUF_TYPES[item], len(value)) + b"".join(gguf_value(item, v) for v in value)
    return struct.pack(_GGUF_PACK[kind], value)


def gguf_bytes(metadata, tensor_count=0):
    """A version 3 GGUF file: metadata is a list of (key, value) or (key, type name, value)."""
    out = b"GGUF" + struct.pack("<IQQ", 3, tensor_count, len(metadata))
    for entry in metadata:
        key, kind, value = entry if len(entry) == 3 else (entry[0], gguf_type_of(entry[1]), entry[1])
        out += gguf_string(key) + struct.pack("<I", GGUF_TYPES[kind]) + gguf_value(kind, value)
    return out


# --- Keras 3 and skops archives -------------------------------------------------------------------

def zip_bytes(members):
    """A deflated zip of (name, bytes or str) members, as Keras and skops write them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            z.writestr(name, data)
    return buffer.getvalue()


def keras_archive(config, weights=True):
    """A .keras archive: metadata.json, config.json and (usually) model.weights.h5."""
    members = [("metadata.json", '{"keras_version": "3.6.0", "date_saved": "2024-11-02@10:21:43"}'),
               ("config.json", json.dumps(config))]
    if weights:
        members.append(("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 504))
    return zip_bytes(members)


def skops_archive(schema, arrays=()):
    """A .skops archive: schema.json and the .npy members it names."""
    return zip_bytes([("schema.json", json.dumps(schema, indent=2))] + list(arrays))
