// Protobuf wire format, read through the bounded cursor: the one field reader behind the strict
// ONNX/SavedModel checks (protobuf.cpp) and the lenient graph walks (tensorflow.cpp, onnx.cpp).
//
// Hand-written on purpose: the scanner needs a handful of fields from a few messages, and a schema
// library (libprotobuf and generated code for the TensorFlow and ONNX protos) would be a large
// dependency for that. Wire format: each field is a varint key (number << 3 | wire type) followed by
// a varint (0), 8 bytes (1), a varint length and that many bytes (2), a group up to its end key
// (3 ... 4) or 4 bytes (5).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "scan/internal.hpp"
#include "stkit/detail/cursor.hpp"

namespace stkit::detail::protobuf {

enum wire : uint8_t {
    varint = 0,
    fixed64 = 1,
    length_delimited = 2,
    start_group = 3,
    end_group = 4,
    fixed32 = 5,
};

// libprotobuf's default recursion limit: a parser refuses messages (and groups) nested deeper.
constexpr unsigned max_nesting = 100;
// libprotobuf refuses a length-delimited field longer than INT_MAX.
constexpr uint64_t max_field_bytes = 0x7fffffff;

struct field {
    uint32_t number = 0;
    uint8_t type = 0;
    uint64_t value = 0;                // varint / fixed
    std::span<const std::byte> bytes;  // length-delimited
    uint64_t offset = 0;               // of the payload, in the buffer the walk started from

    [[nodiscard]] bool is_bytes(uint32_t wanted) const { return number == wanted && type == length_delimited; }
    [[nodiscard]] std::string_view text() const { return as_text(bytes); }
};

// A varint of at most 10 bytes, never past the end. Like libprotobuf, bits past the 64th are
// dropped rather than refused.
[[nodiscard]] bool read_varint(byte_cursor& cursor, uint64_t& out);
// The next field. A group is read to its matching end key and handed back whole in `bytes`, so no
// walk has to know about groups (none of the schemas here uses them, but a parser accepts them as
// unknown fields). False on anything a parser refuses: a zero or oversized field number, a stray
// end-group key, wire types 6 and 7, a length past the end.
[[nodiscard]] bool read_field(byte_cursor& cursor, field& f);

// Visits every field of a message, of any number and wire type, the way a parser sees them before
// it looks at the schema: a walk reads the fields it knows when their wire type is the schema's and
// skips the rest, as a parser keeps mismatched fields as unknown ones. `visit(const field&)` returns
// false to stop; the result is false when it did or when the bytes are not valid wire format.
// `base_offset` is the offset of bytes[0], so fields carry offsets in the outer buffer.
template <class Visit>
[[nodiscard]] bool for_each_field(std::span<const std::byte> bytes, uint64_t base_offset, Visit&& visit) {
    byte_cursor cursor(bytes, base_offset);
    while (!cursor.at_end()) {
        field f;
        if (!read_field(cursor, f) || !visit(static_cast<const field&>(f))) return false;
    }
    return true;
}

}  // namespace stkit::detail::protobuf
