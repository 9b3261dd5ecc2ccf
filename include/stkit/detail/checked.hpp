// stkit/detail/checked.hpp — overflow-checked arithmetic for sizes and offsets read from input.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace stkit::detail {

[[nodiscard]] inline std::optional<uint64_t> checked_add(uint64_t a, uint64_t b) noexcept {
    uint64_t sum;
    if (__builtin_add_overflow(a, b, &sum)) return std::nullopt;
    return sum;
}

[[nodiscard]] inline std::optional<uint64_t> checked_mul(uint64_t a, uint64_t b) noexcept {
    uint64_t product;
    if (__builtin_mul_overflow(a, b, &product)) return std::nullopt;
    return product;
}

// Product of all extents (1 for a scalar); nullopt on overflow.
[[nodiscard]] inline std::optional<uint64_t> checked_product(std::span<const uint64_t> extents) noexcept {
    uint64_t product = 1;
    for (uint64_t extent : extents) {
        if (__builtin_mul_overflow(product, extent, &product)) return std::nullopt;
    }
    return product;
}

}  // namespace stkit::detail
