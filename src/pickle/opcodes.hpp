// Pickle opcodes as pickletools.py names them, shared by the restricted machine (machine.cpp) and
// the reachability interpreter (reach.cpp). Not installed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace stkit::pickle::detail {

enum opcode : uint8_t {
    MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', FLOAT = 'F', INT = 'I',
    BININT = 'J', BININT1 = 'K', LONG = 'L', BININT2 = 'M', NONE = 'N', PERSID = 'P',
    BINPERSID = 'Q', REDUCE = 'R', STRING = 'S', BINSTRING = 'T', SHORT_BINSTRING = 'U',
    UNICODE = 'V', BINUNICODE = 'X', APPEND = 'a', BUILD = 'b', GLOBAL = 'c', DICT = 'd',
    EMPTY_DICT = '}', APPENDS = 'e', GET = 'g', BINGET = 'h', INST = 'i', LONG_BINGET = 'j',
    LIST = 'l', EMPTY_LIST = ']', OBJ = 'o', PUT = 'p', BINPUT = 'q', LONG_BINPUT = 'r',
    SETITEM = 's', TUPLE = 't', EMPTY_TUPLE = ')', SETITEMS = 'u', BINFLOAT = 'G',
    PROTO = 0x80, NEWOBJ = 0x81, EXT1 = 0x82, EXT2 = 0x83, EXT4 = 0x84, TUPLE1 = 0x85,
    TUPLE2 = 0x86, TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b,
    BINBYTES = 'B', SHORT_BINBYTES = 'C',
    SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, BINBYTES8 = 0x8e, EMPTY_SET = 0x8f,
    ADDITEMS = 0x90, FROZENSET = 0x91, NEWOBJ_EX = 0x92, STACK_GLOBAL = 0x93, MEMOIZE = 0x94,
    FRAME = 0x95, BYTEARRAY8 = 0x96, NEXT_BUFFER = 0x97, READONLY_BUFFER = 0x98,
};

inline constexpr int highest_protocol = 5;

// The width of the length field of an opcode that carries counted bytes (BINSTRING ... BYTEARRAY8).
constexpr std::size_t counted_length_width(uint8_t op) noexcept {
    switch (op) {
        case SHORT_BINSTRING:
        case SHORT_BINUNICODE:
        case SHORT_BINBYTES: return 1;
        case BINUNICODE8:
        case BINBYTES8:
        case BYTEARRAY8: return 8;
        default: return 4;
    }
}

// An unsigned little-endian integer of `width` (1..8) bytes.
inline uint64_t little_endian(const char* bytes, std::size_t width) noexcept {
    uint64_t value = 0;
    for (std::size_t i = width; i-- > 0;) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
    return value;
}

}  // namespace stkit::pickle::detail
