#include "stkit/error.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace stkit {
namespace {

TEST(error_table, every_code_has_a_distinct_message_and_name) {
    std::set<std::string_view> messages;
    std::set<std::string_view> names;
    for (std::size_t i = 0; i < error_code_count; ++i) {
        auto code = static_cast<error_code>(i);
        EXPECT_FALSE(error_message(code).empty()) << i;
        EXPECT_FALSE(error_code_name(code).empty()) << i;
        EXPECT_TRUE(messages.insert(error_message(code)).second) << "duplicate message for " << i;
        EXPECT_TRUE(names.insert(error_code_name(code)).second) << "duplicate name for " << i;
    }
    EXPECT_EQ(error_code_name(error_code::st_header_too_large), "st_header_too_large");
    EXPECT_EQ(error_message(static_cast<error_code>(error_code_count)), "unknown error");
}

TEST(error, to_string_names_file_tensor_offset_and_detail) {
    error e = make_error(error_code::st_size_mismatch, "12 != 8", 40, "layer.weight");
    e = std::move(e).in_file("model.safetensors");
    EXPECT_EQ(e.to_string(),
              "model.safetensors: 'layer.weight': byte 40: data_offsets span does not match shape "
              "and dtype (12 != 8)");
    error bare = make_error(error_code::truncated);
    EXPECT_EQ(bare.to_string(), "unexpected end of data");
}

result<int> parse_positive(int value) {
    if (value <= 0) return make_error(error_code::invalid_argument, "not positive");
    return value;
}

result<int> doubled(int value) {
    STKIT_TRY(int checked, parse_positive(value));
    return checked * 2;
}

TEST(result, carries_value_or_error_through_try) {
    auto good = doubled(4);
    ASSERT_TRUE(good.ok());
    EXPECT_EQ(*good, 8);
    auto bad = doubled(-1);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, error_code::invalid_argument);
    EXPECT_EQ(bad.error().detail, "not positive");
}

TEST(result, copies_and_moves_strings) {
    result<std::string> a = std::string(100, 'x');
    result<std::string> b = a;
    result<std::string> c = std::move(a);
    EXPECT_EQ(*b, std::string(100, 'x'));
    EXPECT_EQ(*c, std::string(100, 'x'));
    b = make_error(error_code::truncated);
    EXPECT_FALSE(b.ok());
    b = c;
    EXPECT_EQ(b->size(), 100u);
}

}  // namespace
}  // namespace stkit
