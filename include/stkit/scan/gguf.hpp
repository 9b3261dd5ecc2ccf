// stkit/scan/gguf.hpp — GGUF metadata (llama.cpp's model files): the header and every key-value
// pair, read the way ggml's gguf reader reads them. Tensor infos and tensor data are not read.
//
// Layout (all little-endian; "count" and "length" are u64 from version 2 on, u32 in version 1):
//   magic "GGUF" | u32 version (1–3) | count tensor_count | count kv_count | kv_count pairs
//   pair:   string key | u32 value type | value
//   string: length | that many bytes (UTF-8 by the spec, not NUL-terminated, not checked here)
//   value types: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool (1 byte), 8 string,
//                9 array, 10 u64, 11 i64, 12 f64
//   array:  u32 item type | count item_count | items (arrays of arrays are allowed)
//
// Limits (gguf_limits, each with its error code): keys, tensors, array items, string bytes and
// array nesting. Every count is checked against its limit and against the bytes that remain (the
// smallest encoding of one item times the count) before anything is read or allocated, so a file
// that claims 2^60 items fails at once with `truncated`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "stkit/error.hpp"

namespace stkit {

enum class gguf_type : uint32_t {
    u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7,
    string = 8, array = 9, u64 = 10, i64 = 11, f64 = 12,
};

struct gguf_limits {
    uint64_t max_kv_count = uint64_t{1} << 20;       // gguf_kv_limit
    uint64_t max_tensor_count = uint64_t{1} << 24;   // gguf_tensor_limit
    uint64_t max_array_items = uint64_t{1} << 28;    // gguf_array_limit (vocabularies are ~10^5)
    uint64_t max_string_bytes = uint64_t{64} << 20;  // gguf_string_limit (keys and values)
    unsigned max_array_depth = 4;                    // gguf_depth_limit (1: no arrays of arrays)
};

struct gguf_header {
    uint32_t version = 0;
    uint64_t tensor_count = 0;
    uint64_t kv_count = 0;
    uint64_t kv_end = 0;  // offset of the first byte after the last pair (the tensor infos); 0 when
                          // the visitor stopped the reading
};

// One pair, as views into the input.
struct gguf_kv {
    std::string_view key;
    gguf_type type = gguf_type::u8;
    uint64_t offset = 0;                // of `value`'s first byte in the input
    std::span<const std::byte> value;   // its encoding: a scalar's bytes, a string's bytes (no
                                        // length), an array's items
    gguf_type item_type = gguf_type::u8;  // arrays only
    uint64_t item_count = 0;              // arrays only

    // The text of a string value; empty for other types.
    [[nodiscard]] std::string_view string() const noexcept {
        if (type != gguf_type::string) return {};
        return {reinterpret_cast<const char*>(value.data()), value.size()};
    }
};

// Called for each pair in file order; return false to stop reading (not an error).
using gguf_visitor = std::function<bool(const gguf_kv&)>;

// Reads the header and every pair, calling `visit` for each pair before reading the next, so pairs
// before a malformation are seen. Errors: gguf_invalid_magic, gguf_unsupported_version,
// gguf_invalid_type, gguf_kv_limit, gguf_tensor_limit, gguf_array_limit, gguf_string_limit,
// gguf_depth_limit, truncated (a length or count that goes past the end). Never allocates in
// proportion to the input.
[[nodiscard]] result<gguf_header> gguf_read_metadata(std::span<const std::byte> bytes, const gguf_visitor& visit,
                                                     const gguf_limits& limits = {});

}  // namespace stkit
