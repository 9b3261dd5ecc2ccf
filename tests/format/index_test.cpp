// Sharded checkpoints: one case per index error code, and the logical model's lookups.
#include <gtest/gtest.h>

#include <string>

#include "format_test_util.hpp"
#include "stkit/format/writer.hpp"

namespace stkit {
namespace {

namespace fs = std::filesystem;

class format_index : public test::scratch_test {
protected:
    // Writes a shard holding U8 tensors of one byte each, named as given.
    void shard(const std::string& file, const std::vector<std::string>& names) {
        auto writer = safetensors_writer::create(directory_ / file, true);
        ASSERT_TRUE(writer.ok());
        for (const auto& name : names) ASSERT_TRUE(writer->declare(name, dtype::u8, {1}).ok());
        auto order = writer->layout();
        ASSERT_TRUE(order.ok());
        for (const planned_tensor& t : *order) {
            std::byte value{static_cast<unsigned char>(t.name.back())};
            ASSERT_TRUE(writer->write_tensor(t.name, std::span(&value, 1)).ok());
        }
        ASSERT_TRUE(writer->commit().ok());
    }
    fs::path index(const std::string& json) {
        fs::path path = directory_ / "model.safetensors.index.json";
        test::write_file(path, json);
        return path;
    }
    error reject(const std::string& json) {
        auto model = sharded_model::open(index(json));
        EXPECT_FALSE(model.ok());
        return model.ok() ? error{} : model.error();
    }
};

TEST_F(format_index, opens_one_logical_model) {
    shard("s1.safetensors", {"a", "b"});
    shard("s2.safetensors", {"c"});
    auto model = sharded_model::open(index(
        "{\"metadata\":{\"total_size\":3},\"weight_map\":{\"c\":\"s2.safetensors\",\"a\":\"s1.safetensors\","
        "\"b\":\"s1.safetensors\"}}"));
    ASSERT_TRUE(model.ok()) << model.error().to_string();
    EXPECT_EQ(model->index().metadata_json, "{\"total_size\":3}");
    ASSERT_EQ(model->shards().size(), 2u);
    EXPECT_EQ(model->index().shards, (std::vector<std::string>{"s2.safetensors", "s1.safetensors"}));
    ASSERT_EQ(model->tensor_count(), 3u);
    EXPECT_EQ(model->tensors()[0].tensor->name, "c");
    const sharded_tensor* b = model->tensor_find("b");
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->shard, 1u);
    EXPECT_EQ(static_cast<char>(b->tensor->data[0]), 'b');
    EXPECT_EQ(model->tensor_find("z"), nullptr);
}

TEST_F(format_index, invalid_json) {
    EXPECT_EQ(reject("{\"weight_map\":").code, error_code::st_index_invalid_json);
    EXPECT_EQ(reject("[]").code, error_code::st_index_invalid_json);
    EXPECT_EQ(reject("{\"weight_map\":{\"a\":\"s\",\"a\":\"s\"}}").code, error_code::st_index_invalid_json);
    EXPECT_EQ(reject("{\"weight_map\":{}} trailing").code, error_code::st_index_invalid_json);
}

TEST_F(format_index, missing_weight_map) {
    EXPECT_EQ(reject("{\"metadata\":{}}").code, error_code::st_index_missing_weight_map);
    EXPECT_EQ(reject("{\"weight_map\":[]}").code, error_code::st_index_missing_weight_map);
}

TEST_F(format_index, invalid_entry) {
    error e = reject("{\"weight_map\":{\"a\":1}}");
    EXPECT_EQ(e.code, error_code::st_index_invalid_entry);
    EXPECT_EQ(e.name, "a");
}

TEST_F(format_index, invalid_shard_names) {
    for (const char* name : {"../x.safetensors", "sub/x.safetensors", "/abs.safetensors", "", "..", ".", "a\\\\b"}) {
        error e = reject(std::string("{\"weight_map\":{\"a\":\"") + name + "\"}}");
        EXPECT_EQ(e.code, error_code::st_index_invalid_shard_name) << name;
    }
}

TEST_F(format_index, shard_errors) {
    shard("s1.safetensors", {"a", "b"});
    shard("s2.safetensors", {"b", "c"});
    error missing = reject("{\"weight_map\":{\"a\":\"s1.safetensors\",\"z\":\"s1.safetensors\"}}");
    EXPECT_EQ(missing.code, error_code::st_index_shard_missing_tensor);
    EXPECT_EQ(missing.name, "z");
    error duplicate = reject(
        "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\",\"c\":\"s2.safetensors\"}}");
    EXPECT_EQ(duplicate.code, error_code::st_index_duplicate_tensor);
    EXPECT_EQ(duplicate.name, "b");
    error unlisted = reject("{\"weight_map\":{\"a\":\"s1.safetensors\"}}");
    EXPECT_EQ(unlisted.code, error_code::st_index_unlisted_tensor);
    EXPECT_EQ(unlisted.name, "b");
    error absent = reject("{\"weight_map\":{\"a\":\"s9.safetensors\"}}");
    EXPECT_EQ(absent.code, error_code::io_open_failed);
    // A malformed shard reports the shard's own error and file.
    test::write_file(directory_ / "bad.safetensors", "short");
    error bad = reject("{\"weight_map\":{\"a\":\"bad.safetensors\"}}");
    EXPECT_EQ(bad.code, error_code::st_file_too_small);
    EXPECT_NE(bad.file.find("bad.safetensors"), std::string::npos);
}

TEST_F(format_index, limits_apply_to_the_index) {
    read_options options;
    options.max_header_bytes = 1;
    EXPECT_EQ(parse_shard_index("{\"weight_map\":{}}", options).error().code, error_code::st_header_too_large);
    options = {};
    options.max_json_depth = 1;
    EXPECT_EQ(parse_shard_index("{\"weight_map\":{}}", options).error().code, error_code::st_index_invalid_json);
    auto parsed = parse_shard_index("{\"weight_map\":{\"x\":\"a\",\"y\":\"b\",\"z\":\"a\"}}");
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->shards, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(parsed->weight_map.size(), 3u);
}

}  // namespace
}  // namespace stkit
