// dtype names and widths. See stkit/format/dtype.hpp.
#include "stkit/format/dtype.hpp"

#include <array>

#include "stkit/detail/checked.hpp"

namespace stkit {
namespace {

struct dtype_info {
    std::string_view name;
    unsigned bits;
};

// Indexed by the enum value.
constexpr std::array<dtype_info, dtype_count> dtype_table{{
    {"BOOL", 8},         {"F4", 4},           {"F6_E2M3", 6},     {"F6_E3M2", 6},
    {"U8", 8},           {"I8", 8},           {"F8_E5M2", 8},     {"F8_E4M3", 8},
    {"F8_E8M0", 8},      {"F8_E4M3FNUZ", 8},  {"F8_E5M2FNUZ", 8}, {"I16", 16},
    {"U16", 16},         {"F16", 16},         {"BF16", 16},       {"I32", 32},
    {"U32", 32},         {"F32", 32},         {"C64", 64},        {"F64", 64},
    {"I64", 64},         {"U64", 64},
}};

}  // namespace

std::string_view dtype_name(dtype type) noexcept {
    return dtype_table[static_cast<std::size_t>(type)].name;
}

std::optional<dtype> dtype_from_name(std::string_view name) noexcept {
    for (std::size_t i = 0; i < dtype_table.size(); ++i)
        if (dtype_table[i].name == name) return static_cast<dtype>(i);
    return std::nullopt;
}

unsigned dtype_bits(dtype type) noexcept { return dtype_table[static_cast<std::size_t>(type)].bits; }

unsigned dtype_size(dtype type) noexcept {
    unsigned bits = dtype_bits(type);
    return bits % 8 == 0 ? bits / 8 : 0;
}

std::optional<uint64_t> dtype_byte_size(dtype type, uint64_t elements) noexcept {
    auto bits = detail::checked_mul(elements, dtype_bits(type));
    if (!bits || *bits % 8 != 0) return std::nullopt;
    return *bits / 8;
}

}  // namespace stkit
