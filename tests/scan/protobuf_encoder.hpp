// A protobuf wire-format encoder for tests: messages are strings built field by field, so each test
// shows the exact bytes a loader would parse (no schema library, as in src/scan/protobuf.hpp).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace stkit::test::proto {

inline std::string varint(uint64_t value) {
    std::string out;
    do {
        uint8_t low = value & 0x7f;
        value >>= 7;
        out += static_cast<char>(value != 0 ? (low | 0x80) : low);
    } while (value != 0);
    return out;
}

inline std::string key(uint32_t number, unsigned type) {
    return varint((uint64_t{number} << 3) | type);
}

// A length-delimited field: a string, bytes or an embedded message.
inline std::string bytes(uint32_t number, std::string_view payload) {
    return key(number, 2) + varint(payload.size()) + std::string(payload);
}

inline std::string number(uint32_t field_number, uint64_t value) {
    return key(field_number, 0) + varint(value);
}

// The same length-delimited field once per item.
inline std::string each(uint32_t field_number, std::initializer_list<std::string_view> items) {
    std::string out;
    for (std::string_view item : items) out += bytes(field_number, item);
    return out;
}

// A group (wire types 3 and 4) holding `body`: no schema here uses one, parsers skip them.
inline std::string group(uint32_t field_number, std::string_view body) {
    return key(field_number, 3) + std::string(body) + key(field_number, 4);
}

}  // namespace stkit::test::proto
