// The writer: byte-exact vectors (the reference serializer's layout), rejections, streaming modes,
// atomic output, and write → read round trips.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "format_test_util.hpp"
#include "stkit/format/writer.hpp"

namespace stkit {
namespace {

namespace fs = std::filesystem;
using test::read_file;

class format_writer : public test::scratch_test {};

std::string length_prefix(uint64_t n) {
    std::string out;
    for (int i = 0; i < 8; ++i) out += static_cast<char>(n >> (8 * i));
    return out;
}

std::vector<std::byte> pattern(std::size_t size, int seed) {
    std::vector<std::byte> bytes(size);
    for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::byte>((i * 31 + static_cast<std::size_t>(seed) * 7) & 0xFF);
    return bytes;
}

TEST_F(format_writer, empty_file_vector) {
    fs::path path = directory_ / "empty.safetensors";
    auto writer = safetensors_writer::create(path);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE(writer->commit().ok());
    EXPECT_EQ(read_file(path), length_prefix(8) + "{}      ");
}

TEST_F(format_writer, metadata_vector) {
    fs::path path = directory_ / "meta.safetensors";
    auto writer = safetensors_writer::create(path);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE(writer->set_metadata("framework", "pt").ok());
    ASSERT_TRUE(writer->commit().ok());
    EXPECT_EQ(read_file(path), length_prefix(40) + "{\"__metadata__\":{\"framework\":\"pt\"}}     ");
}

// Metadata given but empty: the reference writes "__metadata__":{} (its Some(empty map)); the
// streaming writer, write_file and write_buffer all do when asked, and none does by default.
TEST_F(format_writer, empty_metadata_when_asked_vector) {
    const std::string expected = length_prefix(24) + "{\"__metadata__\":{}}     ";
    fs::path path = directory_ / "empty_meta.safetensors";
    auto writer = safetensors_writer::create(path);
    ASSERT_TRUE(writer.ok());
    writer->write_empty_metadata();
    ASSERT_TRUE(writer->commit().ok());
    EXPECT_EQ(read_file(path), expected);

    fs::path whole = directory_ / "empty_meta_whole.safetensors";
    ASSERT_TRUE(write_file(whole, {}, {}, false, empty_metadata::written).ok());
    EXPECT_EQ(read_file(whole), expected);
    auto buffer = write_buffer({}, {}, empty_metadata::written);
    ASSERT_TRUE(buffer.ok());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(buffer->data()), buffer->size()), expected);
    auto omitted = write_buffer({}, {});
    ASSERT_TRUE(omitted.ok());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(omitted->data()), omitted->size()), length_prefix(8) + "{}      ");

    // Read back, the file has metadata (empty), which the reader reports as present.
    auto file = safetensors_file::open(path);
    ASSERT_TRUE(file.ok()) << file.error().to_string();
    EXPECT_TRUE(file->has_metadata());
    EXPECT_TRUE(file->metadata().empty());
}

TEST_F(format_writer, multi_dtype_ordering_vector) {
    fs::path path = directory_ / "order.safetensors";
    auto writer = safetensors_writer::create(path);
    ASSERT_TRUE(writer.ok());
    // Declared in a scrambled order; metadata keys too.
    ASSERT_TRUE(writer->declare("b", dtype::f32, {1}).ok());
    ASSERT_TRUE(writer->declare("m", dtype::bool_, {2}).ok());
    ASSERT_TRUE(writer->declare("a", dtype::f32, {1}).ok());
    ASSERT_TRUE(writer->declare("q", dtype::f4, {2}).ok());
    ASSERT_TRUE(writer->declare("z", dtype::u64, {1}).ok());
    ASSERT_TRUE(writer->declare("e", dtype::i8, {0}).ok());
    ASSERT_TRUE(writer->declare("c", dtype::bf16, {}).ok());
    ASSERT_TRUE(writer->declare("B", dtype::f32, {1}).ok());
    ASSERT_TRUE(writer->set_metadata("zeta", "1").ok());
    ASSERT_TRUE(writer->set_metadata("alpha", "2").ok());
    auto order = writer->layout();
    ASSERT_TRUE(order.ok()) << order.error().to_string();
    std::vector<std::string> names;
    for (const planned_tensor& t : *order) names.push_back(t.name);
    EXPECT_EQ(names, (std::vector<std::string>{"z", "B", "a", "b", "c", "e", "q", "m"}));
    for (const planned_tensor& t : *order)
        ASSERT_TRUE(writer->write_tensor(t.name, pattern(t.byte_size(), static_cast<int>(t.data_begin))).ok()) << t.name;
    ASSERT_TRUE(writer->commit().ok());
    const std::string json =
        "{\"__metadata__\":{\"alpha\":\"2\",\"zeta\":\"1\"},"
        "\"z\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[0,8]},"
        "\"B\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[16,20]},"
        "\"c\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[20,22]},"
        "\"e\":{\"dtype\":\"I8\",\"shape\":[0],\"data_offsets\":[22,22]},"
        "\"q\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[22,23]},"
        "\"m\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[23,25]}}";
    std::string padded = json + std::string((8 - json.size() % 8) % 8, ' ');
    std::string contents = read_file(path);
    ASSERT_GE(contents.size(), 8 + padded.size());
    EXPECT_EQ(contents.substr(0, 8 + padded.size()), length_prefix(padded.size()) + padded);
    EXPECT_EQ(contents.size(), 8 + padded.size() + 25);
}

TEST_F(format_writer, every_dtype_in_reference_order) {
    std::vector<planned_tensor> tensors;
    for (int i = 0; i < dtype_count; ++i) tensors.push_back({"t", static_cast<dtype>(i), {8}, 0, 0});
    for (int i = 0; i < dtype_count; ++i) tensors[static_cast<std::size_t>(i)].name += std::to_string(i);
    ASSERT_TRUE(plan_layout(tensors).ok());
    const char* expected[] = {"U64", "I64", "F64", "C64", "F32", "U32", "I32", "BF16", "F16", "U16", "I16",
                              "F8_E5M2FNUZ", "F8_E4M3FNUZ", "F8_E8M0", "F8_E4M3", "F8_E5M2", "I8", "U8",
                              "F6_E3M2", "F6_E2M3", "F4", "BOOL"};
    ASSERT_EQ(tensors.size(), std::size(expected));
    for (std::size_t i = 0; i < tensors.size(); ++i) EXPECT_EQ(dtype_name(tensors[i].type), expected[i]);
}

TEST_F(format_writer, escapes_names_like_serde_json) {
    std::vector<planned_tensor> tensors{{std::string("a\"b\\c\b\f\n\r\t\x01\x1f\x7f/\xc3\xa9", 16), dtype::u8, {0}, 0, 0}};
    std::string header = build_header(tensors, {});
    EXPECT_EQ(header.substr(0, header.find(':')), "{\"a\\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u001f\x7f/\xc3\xa9\"");
    EXPECT_EQ(header.size() % 8, 0u);
    // The reader decodes it back to the same bytes.
    auto bytes = test::make_file(header);
    auto file = safetensors_file::from_buffer(bytes);
    ASSERT_TRUE(file.ok()) << file.error().to_string();
    EXPECT_NE(file->tensor_find(tensors[0].name), nullptr);
}

TEST_F(format_writer, empty_names_are_written_as_the_reference_writes_them) {
    // "" is a valid JSON key, accepted by the reader and by the reference serializer.
    fs::path path = directory_ / "empty_names.safetensors";
    auto writer = safetensors_writer::create(path);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE(writer->set_metadata("", "v").ok());
    ASSERT_TRUE(writer->declare("", dtype::u8, {1}).ok());
    ASSERT_TRUE(writer->layout().ok());
    auto written = writer->write_tensor("", test::to_bytes("x"));
    ASSERT_TRUE(written.ok()) << written.error().to_string();
    ASSERT_TRUE(writer->commit().ok());
    EXPECT_EQ(read_file(path), length_prefix(80) +
                                   "{\"__metadata__\":{\"\":\"v\"},\"\":{\"dtype\":\"U8\",\"shape\":[1],"
                                   "\"data_offsets\":[0,1]}}    x");
    auto file = safetensors_file::open(path);
    ASSERT_TRUE(file.ok()) << file.error().to_string();
    ASSERT_NE(file->tensor_find(""), nullptr);
    EXPECT_EQ(file->metadata().at(""), "v");
}

TEST_F(format_writer, rejects_bad_declarations) {
    auto writer = safetensors_writer::create(directory_ / "x.safetensors");
    ASSERT_TRUE(writer.ok());
    EXPECT_EQ(writer->declare("__metadata__", dtype::u8, {1}).error().code, error_code::st_write_reserved_name);
    EXPECT_EQ(writer->declare("bad\xff", dtype::u8, {1}).error().code, error_code::st_write_invalid_name);
    ASSERT_TRUE(writer->declare("a", dtype::u8, {1}).ok());
    auto twice = writer->declare("a", dtype::f32, {1});
    EXPECT_EQ(twice.error().code, error_code::st_write_duplicate_name);
    EXPECT_EQ(twice.error().name, "a");
    EXPECT_EQ(writer->declare("o", dtype::f64, {UINT64_MAX / 2}).error().code, error_code::st_shape_overflow);
    EXPECT_EQ(writer->declare("p", dtype::f4, {3}).error().code, error_code::st_partial_byte);
    EXPECT_EQ(writer->set_metadata("k\xff", "v").error().code, error_code::st_write_invalid_name);
    ASSERT_TRUE(writer->set_metadata("k", "v").ok());
    EXPECT_EQ(writer->set_metadata("k", "w").error().code, error_code::st_write_duplicate_name);

    std::vector<planned_tensor> duplicated{{"x", dtype::u8, {1}, 0, 0}, {"x", dtype::f32, {1}, 0, 0}};
    EXPECT_EQ(plan_layout(duplicated).error().code, error_code::st_write_duplicate_name);
}

TEST_F(format_writer, rejects_wrong_byte_counts_and_order) {
    fs::path path = directory_ / "x.safetensors";
    auto writer = safetensors_writer::create(path);
    ASSERT_TRUE(writer.ok());
    std::vector<std::byte> four(4), eight(8);
    EXPECT_EQ(writer->append("a", four).error().code, error_code::st_write_out_of_order);  // before layout()
    ASSERT_TRUE(writer->declare("a", dtype::f32, {1}).ok());
    ASSERT_TRUE(writer->declare("b", dtype::f32, {1}).ok());
    ASSERT_TRUE(writer->declare("c", dtype::f32, {1}).ok());
    ASSERT_TRUE(writer->layout().ok());
    EXPECT_EQ(writer->declare("d", dtype::u8, {1}).error().code, error_code::invalid_argument);
    EXPECT_EQ(writer->write_tensor("a", eight).error().code, error_code::st_write_byte_count_mismatch);
    EXPECT_EQ(writer->write_tensor("c", four).error().code, error_code::st_write_out_of_order);
    EXPECT_EQ(writer->write_tensor("nope", four).error().code, error_code::st_write_out_of_order);
    ASSERT_TRUE(writer->append("a", std::span(four).first(2)).ok());
    auto early = writer->append("b", four);
    EXPECT_EQ(early.error().code, error_code::st_write_byte_count_mismatch);
    EXPECT_EQ(early.error().name, "a");
    EXPECT_EQ(writer->append("a", std::span(four).first(3)).error().code, error_code::st_write_byte_count_mismatch);
    ASSERT_TRUE(writer->append("a", std::span(four).first(2)).ok());
    ASSERT_TRUE(writer->write_tensor("b", four).ok());
    EXPECT_EQ(writer->write_tensor("a", four).error().code, error_code::st_write_out_of_order);
    auto incomplete = writer->finish();
    EXPECT_EQ(incomplete.error().code, error_code::st_write_incomplete);
    EXPECT_EQ(incomplete.error().name, "c");
    // A producer that stops short.
    auto short_producer = writer->write_tensor("c", [&](const byte_sink& sink) { return sink(std::span(four).first(1)); });
    EXPECT_EQ(short_producer.error().code, error_code::st_write_byte_count_mismatch);
}

TEST_F(format_writer, uncommitted_leaves_nothing_and_overwrite_is_explicit) {
    fs::path path = directory_ / "x.safetensors";
    {
        auto writer = safetensors_writer::create(path);
        ASSERT_TRUE(writer.ok());
        ASSERT_TRUE(writer->declare("a", dtype::u8, {1}).ok());
        ASSERT_TRUE(writer->layout().ok());
        ASSERT_TRUE(writer->write_tensor("a", pattern(1, 0)).ok());
        ASSERT_TRUE(writer->finish().ok());
        // The finished temporary file is complete and valid before it has a name.
        auto verify = safetensors_file::open(writer->temp_path());
        ASSERT_TRUE(verify.ok()) << verify.error().to_string();
        EXPECT_EQ(verify->tensor_count(), 1u);
    }
    EXPECT_FALSE(fs::exists(path));
    EXPECT_TRUE(fs::is_empty(directory_));
    test::write_file(path, "old");
    EXPECT_EQ(safetensors_writer::create(path, false).error().code, error_code::output_exists);
    auto writer = safetensors_writer::create(path, true);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE(writer->commit().ok());
    EXPECT_EQ(read_file(path).size(), 16u);
}

TEST_F(format_writer, round_trip_with_chunks_and_producers) {
    std::mt19937_64 random(1234);
    fs::path path = directory_ / "round.safetensors";
    auto writer = safetensors_writer::create(path);
    ASSERT_TRUE(writer.ok());
    struct expected_tensor {
        dtype type;
        std::vector<uint64_t> shape;
        std::vector<std::byte> bytes;
    };
    std::map<std::string, expected_tensor> expected;
    for (int i = 0; i < 60; ++i) {
        auto type = static_cast<dtype>(random() % dtype_count);
        std::vector<uint64_t> shape;
        for (uint64_t rank = random() % 4; rank > 0; --rank) shape.push_back(random() % 5);
        if (dtype_bits(type) % 8 != 0) shape.push_back(8);  // whole bytes for F4/F6
        std::string name = "layer." + std::to_string(random() % 1000) + "." + std::to_string(i);
        uint64_t elements = 1;
        for (uint64_t extent : shape) elements *= extent;
        ASSERT_TRUE(writer->declare(name, type, shape).ok());
        expected[name] = {type, shape, pattern(elements * dtype_bits(type) / 8, i)};
    }
    ASSERT_TRUE(writer->set_metadata("format", "pt").ok());
    auto order = writer->layout();
    ASSERT_TRUE(order.ok());
    int mode = 0;
    for (const planned_tensor& t : *order) {
        const auto& bytes = expected.at(t.name).bytes;
        std::span<const std::byte> all(bytes);
        switch (mode++ % 3) {
            case 0: ASSERT_TRUE(writer->write_tensor(t.name, all).ok()); break;
            case 1:  // in chunks of 3 bytes
                for (std::size_t at = 0; at < all.size(); at += 3)
                    ASSERT_TRUE(writer->append(t.name, all.subspan(at, std::min<std::size_t>(3, all.size() - at))).ok());
                if (all.empty()) {
                    ASSERT_TRUE(writer->append(t.name, all).ok());
                }
                break;
            default:
                ASSERT_TRUE(writer->write_tensor(t.name, [&](const byte_sink& sink) -> result<void> {
                                   STKIT_TRY_VOID(sink(all.first(all.size() / 2)));
                                   return sink(all.subspan(all.size() / 2));
                               }).ok());
        }
    }
    ASSERT_TRUE(writer->commit().ok());
    auto file = safetensors_file::open(path);
    ASSERT_TRUE(file.ok()) << file.error().to_string();
    EXPECT_EQ(file->metadata().at("format"), "pt");
    ASSERT_EQ(file->tensor_count(), expected.size());
    for (const auto& [name, want] : expected) {
        const tensor_view* got = file->tensor_find(name);
        ASSERT_NE(got, nullptr) << name;
        EXPECT_EQ(got->type, want.type);
        EXPECT_EQ(std::vector<uint64_t>(got->shape.begin(), got->shape.end()), want.shape);
        EXPECT_TRUE(std::equal(got->data.begin(), got->data.end(), want.bytes.begin(), want.bytes.end())) << name;
    }
    // Writing what was read gives the same bytes again.
    fs::path again = directory_ / "again.safetensors";
    auto rewriter = safetensors_writer::create(again);
    ASSERT_TRUE(rewriter.ok());
    for (const tensor_view& t : file->tensors())
        ASSERT_TRUE(rewriter->declare(std::string(t.name), t.type, {t.shape.begin(), t.shape.end()}).ok());
    for (const auto& [key, value] : file->metadata()) ASSERT_TRUE(rewriter->set_metadata(key, value).ok());
    auto reorder = rewriter->layout();
    ASSERT_TRUE(reorder.ok());
    for (const planned_tensor& t : *reorder) ASSERT_TRUE(rewriter->write_tensor(t.name, file->tensor_find(t.name)->data).ok());
    ASSERT_TRUE(rewriter->commit().ok());
    EXPECT_EQ(read_file(again), read_file(path));
}

TEST_F(format_writer, whole_tensors_to_a_file_and_a_buffer_match_the_streaming_writer) {
    // The same tensors and metadata three ways: declared one by one, write_file(), write_buffer().
    std::vector<std::byte> b = pattern(4, 1), m = pattern(2, 2), z = pattern(8, 3), q = pattern(1, 4);
    std::vector<tensor_bytes> tensors{{"b", dtype::f32, {1}, b}, {"m", dtype::bool_, {2}, m},
                                      {"z", dtype::u64, {1}, z}, {"e", dtype::i8, {0}, {}},
                                      {"q", dtype::f4, {2}, q}};
    std::vector<std::pair<std::string, std::string>> metadata{{"zeta", "1"}, {"alpha", "2"}};

    fs::path streamed = directory_ / "streamed.safetensors";
    auto writer = safetensors_writer::create(streamed);
    ASSERT_TRUE(writer.ok());
    for (const tensor_bytes& t : tensors) ASSERT_TRUE(writer->declare(t.name, t.type, t.shape).ok());
    for (const auto& [key, value] : metadata) ASSERT_TRUE(writer->set_metadata(key, value).ok());
    auto order = writer->layout();
    ASSERT_TRUE(order.ok());
    for (const planned_tensor& p : *order)
        for (const tensor_bytes& t : tensors)
            if (t.name == p.name) {
                ASSERT_TRUE(writer->write_tensor(p.name, t.data).ok());
            }
    ASSERT_TRUE(writer->commit().ok());

    fs::path whole = directory_ / "whole.safetensors";
    auto size = write_file(whole, tensors, metadata);
    ASSERT_TRUE(size.ok()) << size.error().to_string();
    EXPECT_EQ(read_file(whole), read_file(streamed));
    EXPECT_EQ(*size, fs::file_size(whole));
    EXPECT_EQ(write_file(whole, tensors, metadata).error().code, error_code::output_exists);
    EXPECT_TRUE(write_file(whole, tensors, metadata, true).ok());

    auto buffer = write_buffer(tensors, metadata);
    ASSERT_TRUE(buffer.ok()) << buffer.error().to_string();
    EXPECT_EQ(test::bytes_to_string(*buffer), read_file(streamed));
    auto empty = write_buffer({}, {});
    ASSERT_TRUE(empty.ok());
    EXPECT_EQ(test::bytes_to_string(*empty), length_prefix(8) + "{}      ");
}

TEST_F(format_writer, whole_tensors_are_checked_like_declarations) {
    std::vector<std::byte> four = pattern(4, 1);
    std::vector<tensor_bytes> short_data{{"t", dtype::f32, {2}, four}};
    auto mismatch = write_buffer(short_data, {});
    EXPECT_EQ(mismatch.error().code, error_code::st_write_byte_count_mismatch);
    EXPECT_EQ(mismatch.error().name, "t");
    fs::path path = directory_ / "never.safetensors";
    EXPECT_EQ(write_file(path, short_data, {}).error().code, error_code::st_write_byte_count_mismatch);
    EXPECT_FALSE(fs::exists(path));

    std::vector<tensor_bytes> twice{{"t", dtype::u8, {4}, four}, {"t", dtype::u8, {4}, four}};
    EXPECT_EQ(write_buffer(twice, {}).error().code, error_code::st_write_duplicate_name);
    std::vector<tensor_bytes> reserved{{"__metadata__", dtype::u8, {4}, four}};
    EXPECT_EQ(write_buffer(reserved, {}).error().code, error_code::st_write_reserved_name);
    std::vector<std::pair<std::string, std::string>> repeated{{"k", "1"}, {"k", "2"}};
    EXPECT_EQ(write_buffer({}, repeated).error().code, error_code::st_write_duplicate_name);
    std::vector<std::pair<std::string, std::string>> not_utf8{{"k", "\xff"}};
    EXPECT_EQ(write_buffer({}, not_utf8).error().code, error_code::st_write_invalid_name);
    EXPECT_EQ(write_file(path, {}, not_utf8).error().code, error_code::st_write_invalid_name);
    EXPECT_FALSE(fs::exists(path));
}

}  // namespace
}  // namespace stkit
