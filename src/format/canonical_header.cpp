// See canonical_header.hpp.
#include "format/canonical_header.hpp"

#include <algorithm>
#include <array>
#include <bit>

namespace stkit::detail {
namespace {

// Shapes longer than this are rare enough to leave to the general path.
constexpr std::size_t max_fast_rank = 32;

template <std::size_t N>
bool equals(std::string_view text, const char (&literal)[N]) noexcept {
    if (text.size() != N - 1) return false;
    for (std::size_t i = 0; i + 1 < N; ++i)  // unrolled: no library call for a dozen bytes
        if (text[i] != literal[i]) return false;
    return true;
}

// A mask with the high bit set in the lowest of the 8 (little-endian) bytes that is below 0x20, a
// quote or a backslash (the bytes a plain string stops or fails at), by the usual word tricks;
// zero when there is none. Bits above the lowest may be spurious (a borrow), the lowest is exact.
uint64_t special_bytes(uint64_t word) noexcept {
    constexpr uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    auto zero_byte = [&](uint64_t x) { return (x - ones) & ~x & highs; };
    uint64_t below_space = (word - ones * 0x20) & ~word & highs;
    return below_space | zero_byte(word ^ (ones * '"')) | zero_byte(word ^ (ones * '\\'));
}

// A cursor over the header: every step checks the bytes that remain.
struct cursor {
    const char* at;
    const char* end;

    void skip_space() noexcept {
        while (at < end && (*at == ' ' || *at == '\n' || *at == '\r' || *at == '\t')) ++at;
    }
    bool take(char c) noexcept {
        skip_space();
        if (at == end || *at != c) return false;
        ++at;
        return true;
    }
    // The exact bytes of `text` (no whitespace before them).
    template <std::size_t N>
    bool literal(const char (&text)[N]) noexcept {
        if (static_cast<std::size_t>(end - at) < N - 1 || std::memcmp(at, text, N - 1) != 0) return false;
        at += N - 1;
        return true;
    }
    bool peek(char c) noexcept {
        skip_space();
        return at < end && *at == c;
    }
    // A string without escapes or control characters (the caller checked the header is UTF-8).
    bool plain_string(std::string_view& out) noexcept {
        if (!take('"')) return false;
        const char* begin = at;
        // Eight bytes at a time up to the first that ends or breaks the string, then byte by byte.
        while (end - at >= 8) {
            uint64_t word;
            std::memcpy(&word, at, 8);
            if (uint64_t special = special_bytes(word); special != 0) {
                // The lowest flag is the first byte in memory on a little-endian machine.
                if constexpr (std::endian::native == std::endian::little)
                    at += static_cast<std::size_t>(std::countr_zero(special)) / 8;
                break;
            }
            at += 8;
        }
        while (at < end && *at != '"') {
            if (static_cast<unsigned char>(*at) < 0x20 || *at == '\\') return false;
            ++at;
        }
        if (at == end) return false;
        out = std::string_view(begin, static_cast<std::size_t>(at - begin));
        ++at;
        return true;
    }
    // A JSON integer without sign, fraction or exponent, that fits 64 bits, right at the cursor.
    // (The loops work on a local pointer: stores through `out` could otherwise alias the cursor's.)
    bool unsigned_integer(uint64_t& out) noexcept {
        auto is_digit = [](char c) { return static_cast<unsigned char>(c - '0') <= 9; };
        const char* p = at;
        if (p == end || !is_digit(*p)) return false;
        uint64_t value = static_cast<uint64_t>(*p++ - '0');
        if (value != 0) {
            // 19 digits never overflow; only a 20th needs the checked step.
            for (const char* unchecked_end = end - p > 18 ? p + 18 : end; p < unchecked_end && is_digit(*p); ++p)
                value = value * 10 + static_cast<uint64_t>(*p - '0');
            for (; p < end && is_digit(*p); ++p)
                if (__builtin_mul_overflow(value, uint64_t{10}, &value) ||
                    __builtin_add_overflow(value, static_cast<uint64_t>(*p - '0'), &value))
                    return false;
        }
        at = p;
        out = value;
        // A leading zero followed by digits, a fraction or an exponent: not this matcher's to read.
        return p == end || !(is_digit(*p) || *p == '.' || *p == 'e' || *p == 'E');
    }
    // '[' integers separated by ',' ']' into `out`; false past `capacity` entries.
    bool integer_array(uint64_t* out, std::size_t capacity, std::size_t& count) noexcept {
        count = 0;
        if (!take('[')) return false;
        if (peek(']')) {
            ++at;
            return true;
        }
        for (std::size_t read = 0;;) {
            uint64_t value;
            skip_space();
            if (read == capacity || !unsigned_integer(value)) return false;
            out[read++] = value;
            if (take(']')) {
                count = read;
                return true;
            }
            if (!take(',')) return false;
        }
    }
};

bool read_metadata(cursor& c, canonical_header_visitor& visitor) {
    if (!c.take('{')) return false;
    visitor.metadata_begin();
    if (c.peek('}')) {
        ++c.at;
        return true;
    }
    for (;;) {
        std::string_view key, value;
        if (!c.plain_string(key) || !c.take(':') || !c.plain_string(value)) return false;
        visitor.metadata(key, value);
        if (c.take('}')) return true;
        if (!c.take(',')) return false;
    }
}

// One tensor entry's fields, read into these.
struct tensor_fields {
    std::string_view dtype;
    std::array<uint64_t, max_fast_rank> shape;
    std::size_t rank = 0;
    uint64_t offsets[2];
};

// The entry exactly as the reference writer (and ours) prints it, with no whitespace:
// {"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]}. Fixed bytes are compared as blocks.
bool read_compact_tensor(cursor& c, tensor_fields& fields) {
    if (!c.literal("{\"dtype\":")) return false;
    if (!c.plain_string(fields.dtype) || !c.literal(",\"shape\":[")) return false;
    if (!c.literal("]")) {
        for (;;) {
            if (fields.rank == max_fast_rank || !c.unsigned_integer(fields.shape[fields.rank])) return false;
            ++fields.rank;
            if (c.literal("]")) break;
            if (!c.literal(",")) return false;
        }
    }
    return c.literal(",\"data_offsets\":[") && c.unsigned_integer(fields.offsets[0]) && c.literal(",") &&
           c.unsigned_integer(fields.offsets[1]) && c.literal("]}");
}

// The entry's three fields in any order, with any JSON whitespace between tokens.
bool read_spaced_tensor(cursor& c, tensor_fields& fields) {
    if (!c.take('{')) return false;
    bool has_dtype = false, has_shape = false, has_offsets = false;
    for (int field = 0; field < 3; ++field) {
        if (field > 0 && !c.take(',')) return false;
        std::string_view key;
        if (!c.plain_string(key) || !c.take(':')) return false;
        if (equals(key, "dtype") && !has_dtype) {
            has_dtype = c.plain_string(fields.dtype);
            if (!has_dtype) return false;
        } else if (equals(key, "shape") && !has_shape) {
            has_shape = c.integer_array(fields.shape.data(), fields.shape.size(), fields.rank);
            if (!has_shape) return false;
        } else if (equals(key, "data_offsets") && !has_offsets) {
            std::size_t count = 0;
            has_offsets = c.integer_array(fields.offsets, 2, count) && count == 2;
            if (!has_offsets) return false;
        } else {
            return false;
        }
    }
    return c.take('}');
}

bool read_tensor(cursor& c, std::string_view name, canonical_header_visitor& visitor) {
    tensor_fields fields;
    c.skip_space();
    const char* entry = c.at;
    if (!read_compact_tensor(c, fields)) {
        c.at = entry;
        fields.rank = 0;
        if (!read_spaced_tensor(c, fields)) return false;
    }
    return visitor.tensor(name, fields.dtype, std::span<const uint64_t>(fields.shape.data(), fields.rank),
                          fields.offsets[0], fields.offsets[1]);
}

}  // namespace

bool read_canonical_header(std::string_view header, canonical_header_visitor& visitor) {
    cursor c{header.data(), header.data() + header.size()};
    if (!c.take('{')) return false;
    if (!c.peek('}')) {
        for (;;) {
            std::string_view key;
            if (!c.plain_string(key) || !c.take(':')) return false;
            bool read = equals(key, "__metadata__") ? read_metadata(c, visitor) : read_tensor(c, key, visitor);
            if (!read) return false;
            if (c.peek('}')) break;
            if (!c.take(',')) return false;
        }
    }
    ++c.at;  // the closing brace
    c.skip_space();
    return c.at == c.end;
}

}  // namespace stkit::detail
