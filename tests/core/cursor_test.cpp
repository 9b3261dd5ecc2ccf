#include "stkit/detail/cursor.hpp"
#include "stkit/detail/checked.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <limits>

namespace stkit::detail {
namespace {

std::array<std::byte, 10> sample() {
    return {std::byte{0x01}, std::byte{0x02}, std::byte{0x03}, std::byte{0x04}, std::byte{0x05},
            std::byte{0x06}, std::byte{0x07}, std::byte{0x08}, std::byte{0x09}, std::byte{0x0a}};
}

TEST(byte_cursor, reads_little_and_big_endian) {
    auto bytes = sample();
    byte_cursor cursor(bytes, 100);
    EXPECT_EQ(*cursor.u16le(), 0x0201);
    EXPECT_EQ(*cursor.u16be(), 0x0304);
    EXPECT_EQ(cursor.offset(), 104u);
    EXPECT_EQ(*cursor.u32le(), 0x08070605u);
    EXPECT_EQ(cursor.remaining(), 2u);
}

TEST(byte_cursor, short_read_reports_offset_and_does_not_move) {
    auto bytes = sample();
    byte_cursor cursor(bytes, 1000, error_code::pk_truncated);
    ASSERT_TRUE(cursor.skip(8).ok());
    auto value = cursor.u32le();
    ASSERT_FALSE(value.ok());
    EXPECT_EQ(value.error().code, error_code::pk_truncated);
    EXPECT_EQ(value.error().offset, 1008u);
    EXPECT_EQ(cursor.position(), 8u);
    EXPECT_FALSE(cursor.take(3).ok());
    EXPECT_TRUE(cursor.take(2).ok());
    EXPECT_TRUE(cursor.at_end());
    EXPECT_FALSE(cursor.seek(11).ok());
    EXPECT_TRUE(cursor.seek(0).ok());
    EXPECT_EQ(*cursor.u8(), 1);
}

TEST(checked, detects_overflow) {
    constexpr uint64_t max = std::numeric_limits<uint64_t>::max();
    EXPECT_EQ(checked_add(max - 1, 1), max);
    EXPECT_FALSE(checked_add(max, 1).has_value());
    EXPECT_EQ(checked_mul(1ull << 32, (1ull << 32) - 1), ((1ull << 32) - 1) << 32);
    EXPECT_FALSE(checked_mul(1ull << 32, 1ull << 32).has_value());
    std::array<uint64_t, 3> extents{1ull << 30, 1ull << 30, 16};
    EXPECT_FALSE(checked_product(extents).has_value());
    std::array<uint64_t, 0> scalar{};
    EXPECT_EQ(checked_product(scalar), 1u);
}

}  // namespace
}  // namespace stkit::detail
