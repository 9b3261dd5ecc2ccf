// Edge cases the reader must accept, the views it hands out, and that views cannot dangle.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <utility>

#include "format_test_util.hpp"

namespace stkit {
namespace {

using test::make_file;

// Accessors that would return views into a temporary file object are deleted.
template <class T>
concept can_list_tensors = requires(T&& file) { std::forward<T>(file).tensors(); };
template <class T>
concept can_find_tensor = requires(T&& file) { std::forward<T>(file).tensor_find("x"); };
template <class T>
concept can_get_metadata = requires(T&& file) { std::forward<T>(file).metadata(); };
static_assert(can_list_tensors<const safetensors_file&>);
static_assert(!can_list_tensors<safetensors_file>);
static_assert(can_find_tensor<const safetensors_file&>);
static_assert(!can_find_tensor<safetensors_file>);
static_assert(!can_get_metadata<safetensors_file>);
static_assert(!can_list_tensors<sharded_model>);
static_assert(!std::is_copy_constructible_v<safetensors_file>);

safetensors_file accept(const std::vector<std::byte>& bytes) {
    auto file = safetensors_file::from_buffer(bytes);
    EXPECT_TRUE(file.ok()) << file.error().to_string();
    if (!file.ok()) return {};
    return std::move(*file);
}

TEST(format_reader_accept, empty_header) {
    auto bytes = make_file("{}");
    auto file = accept(bytes);
    EXPECT_EQ(file.tensor_count(), 0u);
    EXPECT_FALSE(file.has_metadata());
    EXPECT_EQ(file.header_size(), 2u);
    EXPECT_EQ(file.header_text(), "{}");
}

TEST(format_reader_accept, metadata_only) {
    auto bytes = make_file("{\"__metadata__\":{\"format\":\"pt\",\"a\":\"\\u00e9\\n\"}}");
    auto file = accept(bytes);
    EXPECT_EQ(file.tensor_count(), 0u);
    ASSERT_TRUE(file.has_metadata());
    ASSERT_EQ(file.metadata().size(), 2u);
    EXPECT_EQ(file.metadata().at("format"), "pt");
    EXPECT_EQ(file.metadata().at("a"), "\xc3\xa9\n");
}

TEST(format_reader_accept, scalar_and_zero_size_tensors) {
    std::string header = "{\"s\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]},"
                         "\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]},"
                         "\"e\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,4]},"
                         "\"f\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}";
    auto bytes = make_file(header, std::string_view("\x2a\0\0\0", 4));
    auto file = accept(bytes);
    ASSERT_EQ(file.tensor_count(), 4u);
    const tensor_view* scalar = file.tensor_find("s");
    ASSERT_NE(scalar, nullptr);
    EXPECT_TRUE(scalar->shape.empty());
    EXPECT_EQ(scalar->element_count(), 1u);
    EXPECT_EQ(scalar->data.size(), 4u);
    EXPECT_EQ(static_cast<int>(scalar->data[0]), 42);
    EXPECT_EQ(file.tensor_find("z")->element_count(), 0u);
    EXPECT_EQ(file.tensor_find("z")->data.size(), 0u);
    // File order: by offset, zero-size tensors at the same offset by name.
    std::vector<std::string_view> order;
    for (const tensor_view& t : file.tensors()) order.push_back(t.name);
    EXPECT_EQ(order, (std::vector<std::string_view>{"f", "s", "e", "z"}));
}

TEST(format_reader_accept, whitespace_around_and_unpadded_header) {
    std::string header = " \t\r\n{\"a\" : {\"data_offsets\" : [ 0 , 2 ] , \"shape\":[1],\"dtype\":\"F16\"}}\n ";
    auto bytes = make_file(header, "ab");
    auto file = accept(bytes);
    ASSERT_NE(file.tensor_find("a"), nullptr);
    EXPECT_EQ(file.tensor_find("a")->type, dtype::f16);
    EXPECT_EQ(test::bytes_to_string(file.tensor_find("a")->data), "ab");
    auto unpadded = make_file("{\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]}}", "xyz");
    ASSERT_NE((unpadded.size() - 8 - 3) % 8, 0u);
    EXPECT_EQ(accept(unpadded).tensor_count(), 1u);
}

TEST(format_reader_accept, unknown_fields_in_a_tensor_entry) {
    auto bytes = make_file("{\"a\":{\"dtype\":\"U8\",\"extra\":{\"k\":[1,{\"j\":null}]},\"shape\":[1],\"data_offsets\":[0,1]}}", "x");
    EXPECT_EQ(accept(bytes).tensor_count(), 1u);
}

TEST(format_reader_accept, non_ascii_and_escaped_names) {
    std::string header = "{\"caf\xc3\xa9.\xe6\x9d\x83\xe9\x87\x8d\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                         "\"q\\\"\\\\\\/\\u0001\\ud83d\\ude00\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}";
    auto bytes = make_file(header, "xy");
    auto file = accept(bytes);
    ASSERT_EQ(file.tensor_count(), 2u);
    EXPECT_NE(file.tensor_find("caf\xc3\xa9.\xe6\x9d\x83\xe9\x87\x8d"), nullptr);
    const tensor_view* escaped = file.tensor_find(std::string_view("q\"\\/\x01\xf0\x9f\x98\x80", 9));
    ASSERT_NE(escaped, nullptr);
    EXPECT_EQ(test::bytes_to_string(escaped->data), "y");
}

TEST(format_reader_accept, ten_thousand_tensors_in_reverse_order) {
    std::string header = "{";
    std::string data;
    const int count = 10000;
    for (int i = count - 1; i >= 0; --i) {
        if (i != count - 1) header += ',';
        header += "\"t" + std::to_string(i) + "\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[" +
                  std::to_string(2 * i) + "," + std::to_string(2 * i + 2) + "]}";
    }
    header += "}";
    for (int i = 0; i < count; ++i) {
        data += static_cast<char>(i & 0xFF);
        data += static_cast<char>(i >> 8);
    }
    auto bytes = make_file(header, data);
    auto file = accept(bytes);
    ASSERT_EQ(file.tensor_count(), static_cast<std::size_t>(count));
    for (int i = 0; i < count; i += 997) {
        const tensor_view& t = file.tensors()[static_cast<std::size_t>(i)];
        EXPECT_EQ(t.name, "t" + std::to_string(i));
        EXPECT_EQ(t.data_begin, static_cast<uint64_t>(2 * i));
        int16_t value;
        std::memcpy(&value, t.data.data(), 2);
        EXPECT_EQ(value, i);
        EXPECT_EQ(file.tensor_find(t.name), &t);
    }
}

TEST(format_reader_accept, every_dtype_including_packed) {
    std::string header = "{";
    std::string data;
    uint64_t offset = 0;
    for (int i = 0; i < dtype_count; ++i) {
        auto type = static_cast<dtype>(i);
        // 8 elements: a whole number of bytes for every width (F4: 4 bytes, F6: 6 bytes).
        uint64_t size = 8 * dtype_bits(type) / 8;
        if (i) header += ',';
        header += "\"" + std::string(dtype_name(type)) + "\":{\"dtype\":\"" + std::string(dtype_name(type)) +
                  "\",\"shape\":[2,4],\"data_offsets\":[" + std::to_string(offset) + "," +
                  std::to_string(offset + size) + "]}";
        data.append(size, static_cast<char>('a' + i));
        offset += size;
    }
    header += "}";
    auto bytes = make_file(header, data);
    auto file = accept(bytes);
    ASSERT_EQ(file.tensor_count(), static_cast<std::size_t>(dtype_count));
    for (int i = 0; i < dtype_count; ++i) {
        auto type = static_cast<dtype>(i);
        const tensor_view* t = file.tensor_find(dtype_name(type));
        ASSERT_NE(t, nullptr) << dtype_name(type);
        EXPECT_EQ(t->type, type);
        EXPECT_EQ(t->data.size(), dtype_bits(type));
        EXPECT_EQ(t->element_count(), 8u);
    }
    EXPECT_EQ(file.tensor_find("F4")->data.size(), 4u);
    EXPECT_EQ(file.tensor_find("F6_E3M2")->data.size(), 6u);
    // Odd F4 counts pack into whole bytes only in pairs: [1, 2] is one byte.
    auto packed = make_file("{\"p\":{\"dtype\":\"F4\",\"shape\":[1,2],\"data_offsets\":[0,1]}}", "\x21");
    auto packed_file = accept(packed);
    EXPECT_EQ(packed_file.tensor_find("p")->data.size(), 1u);
}

// Integers of every length up to 20 digits, in the usual header shape (read eight digits at a time)
// and with a space after each colon (the general JSON path): the same value, or the same refusal
// past 2^64 - 1. The shape [n, 0] holds no element, so any n is a valid extent.
TEST(format_reader_accept, integers_of_every_length_on_both_paths) {
    std::vector<std::string> numbers = {"0", "9", "10", "99999999", "100000000", "12345678901234567",
                                        "9999999999999999999", "18446744073709551615", "18446744073709551616",
                                        "99999999999999999999"};
    uint64_t next = 0x9e3779b97f4a7c15ull;  // a fixed sequence: every length 1-20, several times
    for (int digits = 1; digits <= 20; ++digits)
        for (int k = 0; k < 20; ++k) {
            next = next * 6364136223846793005ull + 1442695040888963407ull;
            std::string n = std::to_string(1 + next % 9);
            for (uint64_t x = next; static_cast<int>(n.size()) < digits; x = x * 31 + 7) n += char('0' + (x >> 33) % 10);
            numbers.push_back(n);
        }
    for (const std::string& n : numbers) {
        bool fits = n.size() < 20 || n <= "18446744073709551615";
        for (std::string_view colon : {":", ": "}) {
            std::string header = "{\"t\"" + std::string(colon) + "{\"dtype\"" + std::string(colon) + "\"U8\",\"shape\"" +
                                 std::string(colon) + "[" + n + ",0],\"data_offsets\"" + std::string(colon) + "[0,0]}}";
            auto file = safetensors_file::from_buffer(make_file(header));
            ASSERT_EQ(file.ok(), fits) << header;
            if (fits) {
                ASSERT_EQ(file->tensors()[0].shape.size(), 2u);
                EXPECT_EQ(std::to_string(file->tensors()[0].shape[0]), n) << header;
            } else {
                EXPECT_EQ(file.error().code, error_code::st_header_invalid_json) << header;
            }
        }
    }
}

TEST(format_reader_accept, views_survive_moving_the_file) {
    auto bytes = make_file("{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", "hi");
    auto file = accept(bytes);
    const tensor_view* before = file.tensor_find("a");
    safetensors_file moved = std::move(file);
    EXPECT_EQ(moved.tensor_find("a"), before);
    EXPECT_EQ(moved.tensor_find("a")->name, "a");
    EXPECT_EQ(moved.metadata().at("k"), "v");
    EXPECT_EQ(test::bytes_to_string(moved.tensor_find("a")->data), "hi");
}

}  // namespace
}  // namespace stkit
