// One hand-made malformed file per reader error code, each asserting the exact code (and the offset
// and tensor name where they are meaningful), plus each named limit set to 1.
#include <gtest/gtest.h>

#include <string>

#include "format_test_util.hpp"

namespace stkit {
namespace {

using test::make_file;

error reject(const std::vector<std::byte>& bytes, const read_options& options = {}) {
    auto file = safetensors_file::from_buffer(bytes, options);
    EXPECT_FALSE(file.ok()) << "accepted a malformed file";
    if (file.ok()) return error{};
    return file.error();
}

error reject(std::string_view header, std::string_view data = {}, const read_options& options = {}) {
    return reject(make_file(header, data), options);
}

// Offset in the file of `"name"` within `header` (which starts at byte 8).
uint64_t key_at(std::string_view header, std::string_view name) {
    return 8 + header.find("\"" + std::string(name) + "\"");
}

TEST(format_reader_reject, file_too_small) {
    std::vector<std::byte> bytes(7, std::byte{0});
    error e = reject(bytes);
    EXPECT_EQ(e.code, error_code::st_file_too_small);
    EXPECT_EQ(e.offset, 0u);
    EXPECT_EQ(reject(std::vector<std::byte>{}).code, error_code::st_file_too_small);
}

TEST(format_reader_reject, header_too_large_default_cap) {
    error e = reject(make_file("{}", {}, 100'000'001));
    EXPECT_EQ(e.code, error_code::st_header_too_large);
    EXPECT_EQ(e.offset, 0u);
    // Exactly the cap is not "too large" (it is incomplete here).
    EXPECT_EQ(reject(make_file("{}", {}, 100'000'000)).code, error_code::st_header_incomplete);
}

TEST(format_reader_reject, header_limit_set_to_one) {
    read_options options;
    options.max_header_bytes = 1;
    EXPECT_EQ(reject("{}", {}, options).code, error_code::st_header_too_large);
    // A one-byte header passes the cap and fails as JSON.
    EXPECT_EQ(reject(" ", {}, options).code, error_code::st_header_invalid_json);
}

TEST(format_reader_reject, header_incomplete) {
    error e = reject(make_file("{}", {}, 3));
    EXPECT_EQ(e.code, error_code::st_header_incomplete);
    EXPECT_EQ(reject(make_file("", {}, UINT64_MAX - 1)).code, error_code::st_header_too_large);
    read_options unlimited;
    unlimited.max_header_bytes = UINT64_MAX;
    EXPECT_EQ(reject(make_file("{}", {}, UINT64_MAX - 1), unlimited).code, error_code::st_header_incomplete);
}

TEST(format_reader_reject, header_invalid_utf8_points_at_the_byte) {
    std::string header = "{\"__metadata__\":{\"k\":\"a\xff\"}}";
    error e = reject(header);
    EXPECT_EQ(e.code, error_code::st_header_invalid_utf8);
    EXPECT_EQ(e.offset, 8 + header.find('\xff'));
    // Overlong encoding and a lone surrogate are not UTF-8 either.
    EXPECT_EQ(reject("{\"\xc0\xaf\":1}").code, error_code::st_header_invalid_utf8);
    EXPECT_EQ(reject("{\"\xed\xa0\x80\":1}").code, error_code::st_header_invalid_utf8);
}

TEST(format_reader_reject, header_invalid_json) {
    EXPECT_EQ(reject("{\"a\":}").code, error_code::st_header_invalid_json);
    EXPECT_EQ(reject("").code, error_code::st_header_invalid_json);
    EXPECT_EQ(reject("{} x").code, error_code::st_header_invalid_json);
    EXPECT_EQ(reject("{}{}").code, error_code::st_header_invalid_json);
    EXPECT_EQ(reject(std::string("{}\0\0\0\0\0\0", 8)).code, error_code::st_header_invalid_json);
    EXPECT_EQ(reject(std::string("\0{}", 3)).code, error_code::st_header_invalid_json);
    // Integers beyond 64 bits are refused by the parser as a whole.
    error e = reject("{\"t\":{\"dtype\":\"U8\",\"shape\":[18446744073709551616],\"data_offsets\":[0,0]}}");
    EXPECT_EQ(e.code, error_code::st_header_invalid_json);
    EXPECT_EQ(e.offset, 8u);
}

TEST(format_reader_reject, header_not_object) {
    EXPECT_EQ(reject("[]").code, error_code::st_header_not_object);
    EXPECT_EQ(reject("\"x\"").code, error_code::st_header_not_object);
    EXPECT_EQ(reject("12345678").code, error_code::st_header_not_object);
}

TEST(format_reader_reject, header_too_deep) {
    std::string nested = "{\"t\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0],\"x\":";
    for (int i = 0; i < 20; ++i) nested += "[";
    for (int i = 0; i < 20; ++i) nested += "]";
    nested += "}}";
    EXPECT_EQ(reject(nested).code, error_code::st_header_too_deep);
}

TEST(format_reader_reject, json_depth_limit_set_to_one) {
    read_options options;
    options.max_json_depth = 1;
    EXPECT_TRUE(safetensors_file::from_buffer(make_file("{}"), options).ok());
    EXPECT_EQ(reject("{\"__metadata__\":{}}", {}, options).code, error_code::st_header_too_deep);
}

TEST(format_reader_reject, duplicate_keys_at_every_level) {
    std::string twice = "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                        "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}";
    error e = reject(twice, "xy");
    EXPECT_EQ(e.code, error_code::st_duplicate_key);
    EXPECT_EQ(e.name, "a");
    EXPECT_EQ(reject("{\"__metadata__\":{},\"__metadata__\":{}}").code, error_code::st_duplicate_key);
    EXPECT_EQ(reject("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}").code, error_code::st_duplicate_key);
    std::string field = "{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
    e = reject(field, "x");
    EXPECT_EQ(e.code, error_code::st_duplicate_key);
    EXPECT_EQ(e.offset, key_at(field, "a"));
    std::string unknown = "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"x\":[{\"y\":1,\"y\":2}]}}";
    EXPECT_EQ(reject(unknown, "x").code, error_code::st_duplicate_key);
}

TEST(format_reader_reject, duplicate_name_in_another_sorted_run) {
    // In file order the names run b, z | a, b: two ascending runs (as two dtypes give in the
    // reference layout); the repeated b is only adjacent once the runs are merged.
    std::string header = "{\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                         "\"z\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]},"
                         "\"a\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[2,3]},"
                         "\"b\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[3,4]}}";
    error e = reject(header, "wxyz");
    EXPECT_EQ(e.code, error_code::st_duplicate_key);
    EXPECT_EQ(e.name, "b");
}

TEST(format_reader_reject, tensor_not_object) {
    std::string header = "{\"__metadata__\":{},  \"w\":[1]}";
    error e = reject(header);
    EXPECT_EQ(e.code, error_code::st_tensor_not_object);
    EXPECT_EQ(e.name, "w");
    EXPECT_EQ(e.offset, key_at(header, "w"));
}

TEST(format_reader_reject, missing_fields) {
    EXPECT_EQ(reject("{\"w\":{\"shape\":[0],\"data_offsets\":[0,0]}}").code, error_code::st_missing_dtype);
    EXPECT_EQ(reject("{\"w\":{\"dtype\":\"U8\",\"data_offsets\":[0,0]}}").code, error_code::st_missing_shape);
    EXPECT_EQ(reject("{\"w\":{\"dtype\":\"U8\",\"shape\":[0]}}").code, error_code::st_missing_offsets);
}

TEST(format_reader_reject, invalid_dtype) {
    error e = reject("{\"w\":{\"dtype\":\"f32\",\"shape\":[0],\"data_offsets\":[0,0]}}");
    EXPECT_EQ(e.code, error_code::st_invalid_dtype);
    EXPECT_EQ(e.name, "w");
    EXPECT_EQ(reject("{\"w\":{\"dtype\":32,\"shape\":[0],\"data_offsets\":[0,0]}}").code, error_code::st_invalid_dtype);
    EXPECT_EQ(reject("{\"w\":{\"dtype\":\"F32 \",\"shape\":[0],\"data_offsets\":[0,0]}}").code,
              error_code::st_invalid_dtype);
}

TEST(format_reader_reject, invalid_shape) {
    for (const char* shape : {"[1.0]", "[-1]", "[1e2]", "\"1\"", "[true]", "[null]", "{}", "[[1]]"}) {
        std::string header = std::string("{\"w\":{\"dtype\":\"U8\",\"shape\":") + shape + ",\"data_offsets\":[0,1]}}";
        EXPECT_EQ(reject(header, "x").code, error_code::st_invalid_shape) << shape;
    }
}

TEST(format_reader_reject, invalid_offsets) {
    for (const char* offsets : {"[0]", "[]", "[0,1,1]", "[0.0,1]", "[0,1e0]", "[-0.5,1]", "[-1,1]", "\"0,1\"", "[0,\"1\"]"}) {
        std::string header = std::string("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":") + offsets + "}}";
        EXPECT_EQ(reject(header, "x").code, error_code::st_invalid_offsets) << offsets;
    }
}

TEST(format_reader_reject, metadata_rules) {
    EXPECT_EQ(reject("{\"__metadata__\":[]}").code, error_code::st_metadata_not_object);
    EXPECT_EQ(reject("{\"__metadata__\":\"x\"}").code, error_code::st_metadata_not_object);
    error e = reject("{\"__metadata__\":{\"a\":\"1\",\"b\":2}}");
    EXPECT_EQ(e.code, error_code::st_metadata_value_not_string);
    EXPECT_EQ(e.offset, 8u + 1);
    EXPECT_EQ(reject("{\"__metadata__\":{\"a\":null}}").code, error_code::st_metadata_value_not_string);
    // A tensor entry under the reserved name.
    e = reject("{\"__metadata__\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", "x");
    EXPECT_EQ(e.code, error_code::st_reserved_name);
    EXPECT_EQ(e.name, "__metadata__");
}

TEST(format_reader_reject, shape_overflow) {
    EXPECT_EQ(reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}").code,
              error_code::st_shape_overflow);
    // Elements fit in 64 bits but elements × bits do not.
    EXPECT_EQ(reject("{\"w\":{\"dtype\":\"U8\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}}").code,
              error_code::st_shape_overflow);
    // A zero extent makes the product 0 even after large ones.
    EXPECT_TRUE(safetensors_file::from_buffer(
                    make_file("{\"w\":{\"dtype\":\"F64\",\"shape\":[18446744073709551615,0],\"data_offsets\":[0,0]}}"))
                    .ok());
}

TEST(format_reader_reject, partial_byte) {
    error e = reject("{\"w\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", "xy");
    EXPECT_EQ(e.code, error_code::st_partial_byte);
    EXPECT_EQ(reject("{\"w\":{\"dtype\":\"F6_E2M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", "xy").code,
              error_code::st_partial_byte);
}

TEST(format_reader_reject, size_mismatch) {
    error e = reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", "abcd");
    EXPECT_EQ(e.code, error_code::st_size_mismatch);
    EXPECT_EQ(e.name, "w");
    EXPECT_EQ(e.offset, 9u);
}

TEST(format_reader_reject, offsets_reversed) {
    EXPECT_EQ(reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", "abcdefgh").code,
              error_code::st_offsets_reversed);
}

TEST(format_reader_reject, offsets_gap_overlap_and_data_size) {
    std::string gap = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
    error e = reject(gap, "012345678901");
    EXPECT_EQ(e.code, error_code::st_offsets_gap);
    EXPECT_EQ(e.name, "b");
    EXPECT_EQ(e.offset, 8 + gap.size() + 8);

    std::string first_gap = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
    EXPECT_EQ(reject(first_gap, "01234567").code, error_code::st_offsets_gap);

    std::string overlap = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                          "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
    e = reject(overlap, "01234567");
    EXPECT_EQ(e.code, error_code::st_offsets_overlap);
    EXPECT_EQ(e.name, "b");
    EXPECT_EQ(e.offset, 8 + overlap.size() + 4);

    std::string one = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    e = reject(one, "01234");  // a trailing byte: a polyglot
    EXPECT_EQ(e.code, error_code::st_data_size_mismatch);
    EXPECT_EQ(e.offset, 8 + one.size() + 4);
    EXPECT_TRUE(e.name.empty());  // every tensor is whole: the extra byte belongs to none
    e = reject(one, "012");  // short data: the tensor cut short is named
    EXPECT_EQ(e.code, error_code::st_data_size_mismatch);
    EXPECT_EQ(e.name, "a");
    EXPECT_EQ(e.offset, 8 + one.size() + 3);
    EXPECT_EQ(reject("{}", "x").code, error_code::st_data_size_mismatch);
    // A huge tensor far past the data never makes a view.
    EXPECT_EQ(reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[1000000],\"data_offsets\":[0,1000000]}}").code,
              error_code::st_data_size_mismatch);
}

TEST(format_reader_reject, tensor_limit_set_to_one) {
    read_options options;
    options.max_tensors = 1;
    std::string one = "{\"__metadata__\":{},\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
    EXPECT_TRUE(safetensors_file::from_buffer(make_file(one, "x"), options).ok());
    std::string two = "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                      "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}";
    error e = reject(two, "xy", options);
    EXPECT_EQ(e.code, error_code::st_tensor_limit);
    options.max_tensors = 0;
    EXPECT_EQ(reject(one, "x", options).code, error_code::st_tensor_limit);
}

TEST(format_reader_reject, lookups_and_copies) {
    auto bytes = make_file("{\"a\":{\"dtype\":\"U16\",\"shape\":[2],\"data_offsets\":[0,4]}}", "abcd");
    auto file = safetensors_file::from_buffer(bytes);
    ASSERT_TRUE(file.ok()) << file.error().to_string();
    auto missing = file->tensor_get("b");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, error_code::st_tensor_not_found);
    EXPECT_EQ(missing.error().name, "b");
    EXPECT_EQ(file->tensor_find("b"), nullptr);
    std::vector<std::byte> small(3);
    auto copied = tensor_copy(*file->tensor_find("a"), small);
    ASSERT_FALSE(copied.ok());
    EXPECT_EQ(copied.error().code, error_code::st_buffer_too_small);
    EXPECT_EQ(copied.error().name, "a");
    std::vector<std::byte> enough(5);
    auto done = tensor_copy(*file->tensor_find("a"), enough);
    ASSERT_TRUE(done.ok());
    EXPECT_EQ(*done, 4u);
    EXPECT_EQ(test::bytes_to_string(std::span(enough).first(4)), "abcd");
}

TEST(format_reader_reject, open_reports_the_file) {
    auto missing = safetensors_file::open("/nonexistent/stkit/x.safetensors");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, error_code::io_open_failed);
}

TEST(format_reader_accept, copy_on_write_tensors_are_writable_and_private) {
    const auto path = std::filesystem::temp_directory_path() / ("stkit_cow_" + std::to_string(::getpid()) + ".safetensors");
    const auto bytes = test::make_file(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})", "abcd");
    test::write_file(path, test::bytes_to_string(bytes));
    read_options options;
    options.map = map_mode::copy_on_write;
    {
        auto file = safetensors_file::open(path, options);
        ASSERT_TRUE(file.ok()) << file.error().to_string();
        const tensor_view& a = *file->tensor_find("a");
        std::span<std::byte> writable = file->tensor_writable(a);
        ASSERT_EQ(writable.size(), 4u);
        EXPECT_EQ(writable.data(), a.data.data());
        writable[0] = std::byte{'X'};
        EXPECT_EQ(static_cast<char>(a.data[0]), 'X');
        auto read_only = safetensors_file::open(path);
        ASSERT_TRUE(read_only.ok());
        EXPECT_TRUE(read_only->tensor_writable(*read_only->tensor_find("a")).empty());
        auto borrowed = safetensors_file::from_buffer(bytes);
        ASSERT_TRUE(borrowed.ok());
        EXPECT_TRUE(borrowed->tensor_writable(*borrowed->tensor_find("a")).empty());
    }
    EXPECT_EQ(test::read_file(path), test::bytes_to_string(bytes));  // the write never reached the file
    std::filesystem::remove(path);
}

}  // namespace
}  // namespace stkit
