"""Mutations of differential.py: byte-level and opcode-aware changes of a seed pickle, each a function
(rng, data, context) -> bytes, or None when it does not apply to that seed (another is drawn).

Opcode boundaries come from pickletools (spans()), read through every STOP while the bytes parse.
Nothing is ever unpickled here.
"""
import pickle
import pickletools
import struct

from differential_oracle import EXTENSIONS

STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING", "SHORT_BINSTRING"}
MEMO_OPS = {"MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"}
MAX_SIZE = 1 << 16

# Opcodes with plausible operands, for op_insert.
TEMPLATES = [
    b"N", b")", b"}", b"]", b"(", b"0", b"1", b"2", b"K\x00", b"K\xff", b"M\x00\x01", b"J\xff\xff\xff\xff",
    b"\x88", b"\x89", b"\x8c\x02os", b"\x8c\x06system", b"\x8c\x08builtins", b"\x8c\x04eval", b"\x93", b"R",
    b"b", b"\x81", b"\x92", b"\x94", b"q\x00", b"q\x01", b"h\x00", b"h\x01", b"j\x00\x00\x00\x00", b"g0\n",
    b"p0\n", b"cos\nsystem\n", b"c__builtin__\neval\n", b"ios\nsystem\n", b"o", b"\x82\x01", b"\x83\x00\x01",
    b"\x84\xff\xff\xff\x7f", b"\x95\x00\x00\x00\x00\x00\x00\x00\x00", b"\x95\x10\x00\x00\x00\x00\x00\x00\x00",
    b"\x80\x02", b"\x80\x04", b"\x80\x05", b".", b"P0\n", b"Q", b"s", b"u", b"a", b"e", b"t", b"l", b"d", b"\x85",
    b"\x86", b"\x87", b"\x8f", b"\x90", b"\x91", b"\x97", b"\x98", b"S'os'\n", b"Vsystem\n", b"U\x02os",
    b"T\x06\x00\x00\x00system", b"X\x02\x00\x00\x00os", b"I1\n", b"L1L\n", b"F1.5\n", b"G?\xf8\x00\x00\x00\x00\x00\x00",
    b"C\x01x", b"B\x01\x00\x00\x00x", b"\x8e\x01\x00\x00\x00\x00\x00\x00\x00x",
    b"\x96\x01\x00\x00\x00\x00\x00\x00\x00x", b"\x8a\x01\x01", b"\x8b\x01\x00\x00\x00\x01",
]


def spans(data):
    """[(start, end, name, arg)] of the opcodes pickletools reads, through every STOP, up to the first
    byte it cannot read."""
    out = []
    at = 0
    while at < len(data):
        count = len(out)
        try:
            for op, arg, pos, end in pickletools._genops(data[at:], yield_end_pos=True):
                out.append((at + pos, at + end, op.name, arg))
        except Exception:
            break
        if len(out) == count or out[-1][2] != "STOP":
            break
        at = out[-1][1]
    return out


def boundaries(data, ops):
    return sorted({0, len(data)} | {s for s, _, _, _ in ops} | {e for _, e, _, _ in ops})


def insert(data, at, piece):
    return data[:at] + piece + data[at:]


def replace(data, start, end, piece):
    return data[:start] + piece + data[end:]


# --- operand encodings ----------------------------------------------------------------------------

def short_unicode(text):
    raw = text.encode("utf-8", "surrogatepass")
    return b"\x8c" + bytes([len(raw)]) + raw if len(raw) < 256 else b"X" + struct.pack("<I", len(raw)) + raw


def text_unicode(text):
    """UNICODE (V): raw-unicode-escape with the characters protocol 0 escapes."""
    for c, e in (("\\", "\\u005c"), ("\0", "\\u0000"), ("\n", "\\u000a"), ("\r", "\\u000d"), ("\x1a", "\\u001a")):
        text = text.replace(c, e)
    return b"V" + text.encode("raw-unicode-escape") + b"\n"


def text_string(text):
    """STRING (S): a quoted, escaped Python 2 byte string (the oracle decodes it as UTF-8)."""
    return b"S" + repr(text.encode("utf-8", "surrogatepass"))[1:].encode() + b"\n"


def binstring(text):
    raw = text.encode("utf-8", "surrogatepass")
    return b"U" + bytes([len(raw)]) + raw if len(raw) < 256 else b"T" + struct.pack("<I", len(raw)) + raw


def put(index, form):
    if form == "text":
        return b"p%d\n" % index
    return b"q" + bytes([index]) if index < 256 and form == "short" else b"r" + struct.pack("<I", index & 0xFFFFFFFF)


def get(index, form):
    if form == "text":
        return b"g%d\n" % index
    return b"h" + bytes([index]) if index < 256 and form == "short" else b"j" + struct.pack("<I", index & 0xFFFFFFFF)


def ext(code, width=None):
    if width is None:
        width = 1 if 0 <= code < 256 else 2 if 0 <= code < 65536 else 4
    if width == 1:
        return b"\x82" + bytes([code & 0xFF])
    if width == 2:
        return b"\x83" + struct.pack("<H", code & 0xFFFF)
    return b"\x84" + struct.pack("<I", code & 0xFFFFFFFF)


def frame_header(length):
    return b"\x95" + struct.pack("<Q", length & 0xFFFFFFFFFFFFFFFF)


def global_names(data, span):
    """(module, name) of a GLOBAL or INST span, from its bytes."""
    start, end, _, _ = span
    parts = data[start + 1:end].split(b"\n")
    if len(parts) < 2:
        return None
    try:
        return parts[0].decode("utf-8"), parts[1].decode("utf-8")
    except UnicodeDecodeError:
        return None


def string_value(data, span):
    name, arg = span[2], span[3]
    return arg if name in STRING_OPS and isinstance(arg, str) else None


def stack_global_operands(data, ops, i):
    """For ops[i] == STACK_GLOBAL: the indexes of the two string pushes before it (memo opcodes between
    them skipped), or None."""
    found = []
    j = i - 1
    while j >= 0 and len(found) < 2:
        if ops[j][2] in MEMO_OPS:
            j -= 1
            continue
        if string_value(data, ops[j]) is None:
            return None
        found.append(j)
        j -= 1
    return (found[1], found[0]) if len(found) == 2 else None


def imports(data, ops):
    """[(index of the first op to replace, index of the import op, module, name)] of GLOBAL and of
    STACK_GLOBAL with literal operands."""
    out = []
    for i, span in enumerate(ops):
        if span[2] == "GLOBAL":
            names = global_names(data, span)
            if names:
                out.append((i, i) + names)
        elif span[2] == "STACK_GLOBAL":
            operands = stack_global_operands(data, ops, i)
            if operands:
                out.append((operands[0], i, string_value(data, ops[operands[0]]), string_value(data, ops[operands[1]])))
    return out


def body_start(ops):
    """Offset after a leading PROTO (where a pickle's first real opcode is)."""
    return ops[0][1] if ops and ops[0][2] == "PROTO" else 0


def strip_frames(data, ops):
    """The bytes without FRAME opcodes, and the spans of the result."""
    out = bytearray()
    at = 0
    for start, end, name, _ in ops:
        if name == "FRAME":
            out += data[at:start]
            at = end
    out += data[at:]
    out = bytes(out)
    return out, spans(out)


# --- the mutations --------------------------------------------------------------------------------

def byte_flip(rng, data, ctx):
    if not data:
        return None
    at = rng.randrange(len(data))
    value = data[at] ^ (1 << rng.randrange(8)) if rng.random() < 0.5 else rng.randrange(256)
    return replace(data, at, at + 1, bytes([value]))


def byte_insert(rng, data, ctx):
    value = rng.choice(b"().0123NRbcihjgpqr\x80\x85\x8c\x93\x94\x95\n") if rng.random() < 0.7 else rng.randrange(256)
    return insert(data, rng.randrange(len(data) + 1), bytes([value]))


def byte_delete(rng, data, ctx):
    if not data:
        return None
    at = rng.randrange(len(data))
    return data[:at] + data[at + rng.randint(1, 4):]


def byte_dup(rng, data, ctx):
    if not data:
        return None
    at = rng.randrange(len(data))
    return insert(data, at, data[at:at + rng.randint(1, 8)])


def op_delete(rng, data, ctx):
    if not ctx.ops:
        return None
    start, end, _, _ = rng.choice(ctx.ops)
    return data[:start] + data[end:]


def op_dup(rng, data, ctx):
    if not ctx.ops:
        return None
    start, end, _, _ = rng.choice(ctx.ops)
    return insert(data, end, data[start:end])


def op_swap(rng, data, ctx):
    if len(ctx.ops) < 2:
        return None
    i = rng.randrange(len(ctx.ops) - 1)
    j = i + 1 if rng.random() < 0.7 else rng.randrange(i + 1, len(ctx.ops))
    (a0, a1, _, _), (b0, b1, _, _) = ctx.ops[i], ctx.ops[j]
    return data[:a0] + data[b0:b1] + data[a1:b0] + data[a0:a1] + data[b1:]


def op_insert(rng, data, ctx):
    return insert(data, rng.choice(boundaries(data, ctx.ops)), rng.choice(TEMPLATES))


def op_splice(rng, data, ctx):
    other = rng.choice(ctx.seeds)[1]
    ops = spans(other)
    if not ops:
        return None
    start, end, _, _ = rng.choice(ops)
    return insert(data, rng.choice(boundaries(data, ctx.ops)), other[start:end])


def truncate(rng, data, ctx):
    if rng.random() < 0.2 or not ctx.ops:
        return data[:rng.randrange(len(data) + 1)]
    return data[:rng.choice(boundaries(data, ctx.ops)[:-1] or [0])]


def stack(rng, data, ctx):
    other = rng.choice(ctx.seeds)[1]
    return data + other if rng.random() < 0.5 else other + data


def after_stop(rng, data, ctx):
    suffixes = [rng.choice(ctx.seeds)[1], b"cos\nsystem\n(Vid\ntR.", b"cos\nsystem\n", b"\n", b".", b"\x00" * 7,
                b"\x80\x02cbuiltins\nexec\n.", bytes(rng.randrange(256) for _ in range(rng.randint(1, 16))),
                b"\x95\x0e\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x8c\x06system\x93.", b"\x82\x01.",
                b"\x80\x04\x82\xff."]
    ops = ctx.ops
    cut = ops[-1][1] if ops and ops[-1][2] == "STOP" and rng.random() < 0.5 else len(data)
    return data[:cut] + rng.choice(suffixes)


def proto_insert(rng, data, ctx):
    version = rng.choice([0, 1, 2, 3, 4, 5, 6, 255])
    at = 0 if rng.random() < 0.6 else rng.choice(boundaries(data, ctx.ops))
    return insert(data, at, b"\x80" + bytes([version]))


def proto_drop(rng, data, ctx):
    found = [s for s in ctx.ops if s[2] == "PROTO"]
    if not found:
        return None
    if rng.random() < 0.5:
        start, end, _, _ = rng.choice(found)
        return data[:start] + data[end:]
    for start, end, _, _ in reversed(found):
        data = data[:start] + data[end:]
    return data


def framed(rng, data, ctx):
    """(data, ops, frames) with at least one FRAME: existing ones, or the body framed anew."""
    frames = [s for s in ctx.ops if s[2] == "FRAME"]
    if frames:
        return data, ctx.ops, frames
    data = frame_wrap(rng, data, ctx)
    ops = spans(data)
    return data, ops, [s for s in ops if s[2] == "FRAME"]


def frame_wrap(rng, data, ctx):
    """Valid frames at random opcode boundaries over the body (PROTO 4 put in front when missing)."""
    body, ops = strip_frames(data, ctx.ops)
    head = body_start(ops)
    if not ops or ops[0][2] != "PROTO":
        body, head = b"\x80\x04" + body, 2
        ops = spans(body)
    inner = [s for s, _, _, _ in ops if s > head]
    cuts = sorted({head, ops[-1][1] if ops else len(body)} | set(rng.sample(inner, min(3, len(inner)))))
    out = body[:head]
    for a, b in zip(cuts, cuts[1:]):
        if b > a:
            out += frame_header(b - a) + body[a:b]
    return out + body[cuts[-1]:]


def frame_length(rng, data, ctx):
    data, ops, frames = framed(rng, data, ctx)
    if not frames:
        return None
    start, end, _, length = rng.choice(frames)
    remaining = len(data) - end
    new = rng.choice([0, 1, length - 1, length + 1, length + rng.randint(2, 20), max(length - rng.randint(2, 20), 0),
                      remaining, remaining + 1, remaining + 4096, 1 << 31, (1 << 63) - 1, 1 << 63, (1 << 64) - 1])
    return replace(data, start, end, frame_header(new))


def frame_cross(rng, data, ctx):
    """One frame whose end falls inside an operand (the rest unframed, or framed anew after the
    operand's end)."""
    body, ops = strip_frames(data, ctx.ops)
    head = body_start(ops)
    if not ops or ops[0][2] != "PROTO":
        body, head = b"\x80\x04" + body, 2
        ops = spans(body)
    inner = [s for s in ops if s[1] - s[0] >= 2 and s[0] >= head]
    if not inner:
        return None
    start, end, _, _ = rng.choice(inner)
    cut = rng.randrange(start + 1, end)
    first = rng.choice([head, start]) if rng.random() < 0.5 else head
    out = body[:first] + frame_header(cut - first) + body[first:cut]
    if rng.random() < 0.5:
        return out + body[cut:]
    return out + body[cut:end] + frame_header(len(body) - end) + body[end:]


def frame_nested(rng, data, ctx):
    data, ops, frames = framed(rng, data, ctx)
    if not frames:
        return None
    _, fend, _, length = rng.choice(frames)
    inside = [s for s, _, _, _ in ops if fend < s < fend + length] + [fend]
    at = rng.choice(inside)
    left = fend + length - at
    return insert(data, at, frame_header(rng.choice([0, left, max(left - 1, 0), left + 1, rng.randint(1, 64)])))


def text_form(rng, data, ctx):
    """An opcode's protocol-2 form replaced by its protocol 0 text form."""
    ops = ctx.ops
    choices = []
    for i, (start, end, name, arg) in enumerate(ops):
        if name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8"):
            choices.append((start, end, rng.choice([text_unicode, text_string, binstring])(arg)))
        elif name == "STACK_GLOBAL" and stack_global_operands(data, ops, i):
            a, b = stack_global_operands(data, ops, i)
            m, n = string_value(data, ops[a]), string_value(data, ops[b])
            if "\n" not in m + n:
                choices.append((start, end, b"00c" + m.encode("utf-8", "surrogatepass") + b"\n" +
                                n.encode("utf-8", "surrogatepass") + b"\n"))
        elif name in ("BININT", "BININT1", "BININT2"):
            choices.append((start, end, b"I%d\n" % arg))
        elif name in ("LONG1", "LONG4"):
            choices.append((start, end, b"L%dL\n" % arg))
        elif name == "BINFLOAT":
            choices.append((start, end, b"F" + repr(arg).encode() + b"\n"))
        elif name in ("BINPUT", "LONG_BINPUT"):
            choices.append((start, end, put(arg, "text")))
        elif name in ("BINGET", "LONG_BINGET"):
            choices.append((start, end, get(arg, "text")))
        elif name == "MEMOIZE":
            choices.append((start, end, put(sum(1 for s in ops[:i] if s[2] in MEMO_OPS), "text")))
        elif name in ("NEWTRUE", "NEWFALSE"):
            choices.append((start, end, b"I01\n" if name == "NEWTRUE" else b"I00\n"))
        elif name in ("EMPTY_LIST", "EMPTY_DICT", "EMPTY_TUPLE"):
            choices.append((start, end, b"(" + {"EMPTY_LIST": b"l", "EMPTY_DICT": b"d", "EMPTY_TUPLE": b"t"}[name]))
        elif name in ("SHORT_BINBYTES", "BINBYTES"):
            choices.append((start, end, b"c_codecs\nencode\n(" + text_unicode(arg.decode("latin-1")) + b"Vlatin1\ntR"))
        elif name == "BINPERSID":
            choices.append((start, end, b"0Pid\n"))
    if not choices:
        return None
    start, end, piece = rng.choice(choices)
    return replace(data, start, end, piece)


def binary_form(rng, data, ctx):
    """The reverse: a text opcode replaced by its binary form (GLOBAL becomes STACK_GLOBAL)."""
    choices = []
    for start, end, name, arg in ctx.ops:
        if name in ("UNICODE", "STRING", "BINSTRING", "SHORT_BINSTRING") and isinstance(arg, str):
            choices.append((start, end, short_unicode(arg)))
        elif name in ("GLOBAL", "INST") and global_names(data, (start, end, name, arg)):
            m, n = global_names(data, (start, end, name, arg))
            piece = short_unicode(m) + short_unicode(n) + b"\x93"
            choices.append((start, end, piece if name == "GLOBAL" else piece + b")\x81"))
        elif name == "INT" and isinstance(arg, int) and not isinstance(arg, bool):
            choices.append((start, end, b"J" + struct.pack("<i", arg) if -2 ** 31 <= arg < 2 ** 31 else
                            b"\x8a" + bytes([len(pickle.encode_long(arg))]) + pickle.encode_long(arg)))
        elif name == "INT" and isinstance(arg, bool):
            choices.append((start, end, b"\x88" if arg else b"\x89"))
        elif name == "LONG":
            raw = pickle.encode_long(arg)
            choices.append((start, end, b"\x8a" + bytes([len(raw)]) + raw if len(raw) < 256 else
                            b"\x8b" + struct.pack("<i", len(raw)) + raw))
        elif name == "FLOAT":
            choices.append((start, end, b"G" + struct.pack(">d", arg)))
        elif name == "PUT":
            choices.append((start, end, put(arg, "short" if arg < 256 else "long")))
        elif name == "GET":
            choices.append((start, end, get(arg, "short" if arg < 256 else "long")))
    if not choices:
        return None
    start, end, piece = rng.choice(choices)
    return replace(data, start, end, piece)


def ext_op(rng, data, ctx):
    """EXT1/EXT2/EXT4 in place of an import, or inserted; registered codes, their edges and a few
    unregistered or negative ones."""
    codes = list(EXTENSIONS) + [0, 2, 1000, 65537, 0xFFFFFFFF, 0x80000000]
    code = rng.choice(codes)
    width = None if rng.random() < 0.7 else rng.choice([1, 2, 4])
    found = imports(data, ctx.ops)
    if found and rng.random() < 0.6:
        first, last, module, name = rng.choice(found)
        registered = {v: k for k, v in EXTENSIONS.items()}
        code = registered.get((module, name), code)
        start, end = ctx.ops[last][0], ctx.ops[last][1]
        piece = ext(code, width)
        return replace(data, start, end, piece if ctx.ops[last][2] == "GLOBAL" else b"00" + piece)
    piece = ext(code, width) + (b"0" if rng.random() < 0.5 else b"")
    return insert(data, rng.choice(boundaries(data, ctx.ops)), piece)


def memo_games(rng, data, ctx):
    """An import's module and name memoized early (PUT, BINPUT, LONG_BINPUT or MEMOIZE), dropped, and
    fetched back with GET before STACK_GLOBAL; sometimes a decoy in the slot first."""
    body, ops = strip_frames(data, ctx.ops)
    found = imports(body, ops)
    if not found:
        return None
    first, last, module, name = rng.choice(found)
    form = rng.choice(["text", "short", "long", "memoize"])
    slots = [rng.choice([0, 1, 2, 200, 255, 256, 70000, 0xFFFFFFFF]) for _ in range(2)]
    head = body_start(ops)

    def store(text, slot):
        if form == "memoize":
            return short_unicode(text) + b"\x94" + b"0"
        return short_unicode(text) + put(slot, form) + b"0"

    decoys = rng.random() < 0.3
    prefix = store("builtins", slots[0]) + store("print", slots[1]) if decoys else b""  # overwritten below
    prefix += store(module, slots[0]) + store(name, slots[1])
    if form == "memoize":  # MEMOIZE stores at len(memo), and the memo is empty where the prefix goes
        slots = [2, 3] if decoys else [0, 1]
        if rng.random() < 0.3:
            slots = slots[::-1]
    fetch_form = "text" if form == "text" else ("short" if form != "long" else "long")
    fetch = get(slots[0], fetch_form) + get(slots[1], fetch_form) + b"\x93"
    out = body[:ops[last][0]] + fetch + body[ops[last][1]:]
    if ops[last][2] == "STACK_GLOBAL" and rng.random() < 0.5:
        out = body[:ops[first][0]] + fetch + body[ops[last][1]:]  # the strings gone
    elif ops[last][2] == "STACK_GLOBAL":
        out = body[:ops[last][0]] + b"00" + fetch + body[ops[last][1]:]
    return out[:head] + prefix + out[head:]


def mark_games(rng, data, ctx):
    """MARK popped by POP, decoy strings under a MARK dropped by POP_MARK, MARK ... POP_MARK around
    opcodes, stray marks."""
    points = boundaries(data, ctx.ops)
    choice = rng.randrange(5)
    if choice == 0:
        return insert(data, rng.choice(points), b"(0")
    if choice == 1:
        found = imports(data, ctx.ops)
        at = ctx.ops[rng.choice(found)[1]][0] if found else rng.choice(points)
        return insert(data, at, b"(" + short_unicode("builtins") + short_unicode("print") + b"1")
    if choice == 2:
        a, b = sorted(rng.sample(points, 2)) if len(points) > 1 else (0, 0)
        return data[:a] + b"(" + data[a:b] + b"1" + data[b:]
    if choice == 3:
        return insert(data, rng.choice(points), rng.choice([b"(", b"1", b"20", b"(2", b"((01"]))
    found = imports(data, ctx.ops)
    if not found:
        return None
    i = rng.choice(found)[1]
    return insert(data, ctx.ops[i][0], b"(0" * rng.randint(1, 3))


MUTATIONS = {f.__name__: f for f in [
    byte_flip, byte_insert, byte_delete, byte_dup, op_delete, op_dup, op_swap, op_insert, op_splice, truncate,
    stack, after_stop, proto_insert, proto_drop, frame_length, frame_cross, frame_nested, frame_wrap, text_form,
    binary_form, ext_op, memo_games, mark_games]}


class Context:
    def __init__(self, data, seeds):
        self.ops = spans(data)
        self.seeds = seeds


def mutate(rng, seeds):
    """One variant: (kind, seed name, bytes). kind names the mutations applied, joined by '+'."""
    name, data = rng.choice(seeds)
    kinds = []
    while True:
        for _ in range(20):
            kind = rng.choice(list(MUTATIONS))
            out = MUTATIONS[kind](rng, data, Context(data, seeds))
            if out is not None and out != data and len(out) <= MAX_SIZE:
                break
        else:
            continue
        kinds.append(kind)
        data = out
        if len(kinds) >= 3 or rng.random() < 0.7:
            return "+".join(kinds), name, data
