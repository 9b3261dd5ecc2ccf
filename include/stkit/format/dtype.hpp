// stkit/format/dtype.hpp — the 22 element types of the safetensors format.
//
// Enumerators are declared in the reference implementation's order (Rust `Dtype`), which is also
// what its serializer sorts by: tensors are written by dtype in *descending* enum order (U64 first,
// BOOL last), then by name. Sub-byte types (F4, F6_*) pack elements densely; a tensor's byte size is
// elements × bits / 8, which must be a whole number.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace stkit {

enum class dtype : uint8_t {
    bool_,
    f4,
    f6_e2m3,
    f6_e3m2,
    u8,
    i8,
    f8_e5m2,
    f8_e4m3,
    f8_e8m0,
    f8_e4m3fnuz,
    f8_e5m2fnuz,
    i16,
    u16,
    f16,
    bf16,
    i32,
    u32,
    f32,
    c64,
    f64,
    i64,
    u64,
};

inline constexpr int dtype_count = 22;

// The exact, case-sensitive name used in headers ("F8_E4M3", "BOOL").
[[nodiscard]] std::string_view dtype_name(dtype type) noexcept;
// Parses an exact name; nullopt for anything else (names are case-sensitive).
[[nodiscard]] std::optional<dtype> dtype_from_name(std::string_view name) noexcept;
// Bits per element: 4, 6, 8, 16, 32 or 64.
[[nodiscard]] unsigned dtype_bits(dtype type) noexcept;
// Bytes per element for whole-byte types; 0 for F4 and F6_* (use dtype_bits).
[[nodiscard]] unsigned dtype_size(dtype type) noexcept;
// Byte size of `elements` elements: nullopt on overflow or when the bits do not fill whole bytes.
[[nodiscard]] std::optional<uint64_t> dtype_byte_size(dtype type, uint64_t elements) noexcept;

}  // namespace stkit
