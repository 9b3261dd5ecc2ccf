// The GGUF metadata reader on hand-made files: every value type, version 1's narrow counts, nested
// arrays, one file per rejection rule asserting its exact code, each limit set to 1; and the scan of
// GGUF files: malformed metadata is an error, chat templates are judged wherever they are.
#include "stkit/scan/gguf.hpp"

#include <fstream>
#include <sstream>

#include "containers/fixtures.hpp"
#include "stkit/scan/scan.hpp"

namespace stkit {
namespace {

using test::to_bytes;

// A GGUF file written field by field; the header's kv_count is the number of pairs added unless
// `claimed_kv_count` says otherwise.
class gguf_builder {
public:
    explicit gguf_builder(uint32_t version = 3) : version_(version) {}

    gguf_builder& string_pair(std::string_view key, std::string_view value) {
        begin(key, gguf_type::string);
        string(value);
        return *this;
    }
    gguf_builder& u32_pair(std::string_view key, uint32_t value) {
        begin(key, gguf_type::u32);
        put(value, 4);
        return *this;
    }
    // A pair of any type whose value bytes are given as they are.
    gguf_builder& raw_pair(std::string_view key, uint32_t type, std::string_view value) {
        begin(key, static_cast<gguf_type>(type));
        body_ += value;
        return *this;
    }
    gguf_builder& string_array(std::string_view key, const std::vector<std::string>& items) {
        begin(key, gguf_type::array);
        put(static_cast<uint32_t>(gguf_type::string), 4);
        count(items.size());
        for (const std::string& item : items) string(item);
        return *this;
    }
    // The encoding of an array header (item type and count), for hand-made nesting.
    std::string array_header(gguf_type item_type, uint64_t item_count) const {
        gguf_builder scratch(version_);
        scratch.put(static_cast<uint32_t>(item_type), 4);
        scratch.count(item_count);
        return scratch.body_;
    }
    std::string string_value(std::string_view text) const {
        gguf_builder scratch(version_);
        scratch.string(text);
        return scratch.body_;
    }

    std::string bytes(std::optional<uint64_t> claimed_kv_count = std::nullopt, uint64_t tensor_count = 0) const {
        gguf_builder header(version_);
        header.body_ = "GGUF";
        header.put(version_, 4);
        header.count(tensor_count);
        header.count(claimed_kv_count.value_or(pairs_));
        return header.body_ + body_;
    }

private:
    void put(uint64_t value, int width) {
        for (int i = 0; i < width; ++i) body_ += static_cast<char>((value >> (8 * i)) & 0xff);
    }
    void count(uint64_t value) { put(value, version_ == 1 ? 4 : 8); }
    void string(std::string_view text) {
        count(text.size());
        body_ += text;
    }
    void begin(std::string_view key, gguf_type type) {
        string(key);
        put(static_cast<uint32_t>(type), 4);
        ++pairs_;
    }

    uint32_t version_;
    uint64_t pairs_ = 0;
    std::string body_;
};

struct read_pairs {
    result<gguf_header> header;
    std::vector<gguf_kv> pairs;
};

read_pairs read(const std::vector<std::byte>& bytes, const gguf_limits& limits = {}) {
    std::vector<gguf_kv> pairs;
    auto header = gguf_read_metadata(bytes, [&](const gguf_kv& kv) {
        pairs.push_back(kv);
        return true;
    }, limits);
    return {std::move(header), std::move(pairs)};
}

error_code code_of(const std::string& file, const gguf_limits& limits = {}) {
    auto bytes = to_bytes(file);
    auto r = read(bytes, limits);
    return r.header.ok() ? error_code::ok : r.header.error().code;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

TEST(gguf, every_value_type_and_its_bytes) {
    gguf_builder b;
    b.u32_pair("general.alignment", 32)
        .string_pair("general.architecture", "llama")
        .raw_pair("u8", 0, "\x01")
        .raw_pair("i16", 3, std::string("\xff\xff", 2))
        .raw_pair("f32", 6, std::string("\x00\x00\x80\x3f", 4))
        .raw_pair("bool", 7, std::string("\x01", 1))
        .raw_pair("u64", 10, std::string(8, '\x07'))
        .raw_pair("f64", 12, std::string(8, '\0'))
        .string_array("tokenizer.ggml.tokens", {"<s>", "</s>", "hello"});
    const std::string tensor_infos(2 * 24, '\0');  // not read, but they must fit
    auto bytes = to_bytes(b.bytes(std::nullopt, 2) + tensor_infos);
    auto r = read(bytes);
    ASSERT_TRUE(r.header.ok()) << r.header.error().to_string();
    EXPECT_EQ(r.header->version, 3u);
    EXPECT_EQ(r.header->tensor_count, 2u);
    EXPECT_EQ(r.header->kv_count, 9u);
    EXPECT_EQ(r.header->kv_end, bytes.size() - tensor_infos.size());
    ASSERT_EQ(r.pairs.size(), 9u);
    EXPECT_EQ(r.pairs[1].key, "general.architecture");
    EXPECT_EQ(r.pairs[1].string(), "llama");
    EXPECT_EQ(test::to_text(bytes).substr(r.pairs[1].offset, 5), "llama");
    EXPECT_EQ(r.pairs[0].value.size(), 4u);
    EXPECT_EQ(r.pairs[0].string(), "");  // not a string
    EXPECT_EQ(r.pairs[6].value.size(), 8u);
    EXPECT_EQ(r.pairs[8].type, gguf_type::array);
    EXPECT_EQ(r.pairs[8].item_type, gguf_type::string);
    EXPECT_EQ(r.pairs[8].item_count, 3u);
    EXPECT_EQ(r.pairs[8].value.size(), 3 * 8 + 3 + 4 + 5u);
}

TEST(gguf, version_1_counts_are_32_bit) {
    gguf_builder b(1);
    b.string_pair("tokenizer.chat_template", "{{ messages }}").string_array("a", {"x", "yz"});
    auto bytes = to_bytes(b.bytes());
    auto r = read(bytes);
    ASSERT_TRUE(r.header.ok()) << r.header.error().to_string();
    EXPECT_EQ(r.header->version, 1u);
    ASSERT_EQ(r.pairs.size(), 2u);
    EXPECT_EQ(r.pairs[0].string(), "{{ messages }}");
    EXPECT_EQ(r.pairs[1].item_count, 2u);
}

TEST(gguf, arrays_of_arrays_up_to_the_depth_limit) {
    gguf_builder b;
    std::string inner = b.array_header(gguf_type::u8, 2) + "ab";
    b.raw_pair("nested", 9, b.array_header(gguf_type::array, 2) + inner + inner);
    std::string file = b.bytes();
    EXPECT_EQ(code_of(file), error_code::ok);
    gguf_limits flat;
    flat.max_array_depth = 1;  // gguf_depth_limit: arrays, but no arrays of arrays
    EXPECT_EQ(code_of(file, flat), error_code::gguf_depth_limit);
}

TEST(gguf, visitor_can_stop_early) {
    gguf_builder b;
    b.u32_pair("a", 1).u32_pair("b", 2);
    auto bytes = to_bytes(b.bytes());
    int seen = 0;
    auto header = gguf_read_metadata(bytes, [&](const gguf_kv&) { return ++seen < 1; });
    ASSERT_TRUE(header.ok());
    EXPECT_EQ(seen, 1);
    EXPECT_EQ(header->kv_end, 0u);
}

TEST(gguf, one_file_per_rejection_rule) {
    EXPECT_EQ(code_of("GGUF"), error_code::truncated);
    EXPECT_EQ(code_of(test::literal("GGML\x03\x00\x00\x00")), error_code::gguf_invalid_magic);
    EXPECT_EQ(code_of(gguf_builder(4).bytes()), error_code::gguf_unsupported_version);
    EXPECT_EQ(code_of(gguf_builder(0).bytes()), error_code::gguf_unsupported_version);
    gguf_builder bad_type;
    bad_type.raw_pair("k", 13, "");
    EXPECT_EQ(code_of(bad_type.bytes()), error_code::gguf_invalid_type);
    gguf_builder bad_item;
    bad_item.raw_pair("k", 9, bad_item.array_header(static_cast<gguf_type>(99), 1));
    EXPECT_EQ(code_of(bad_item.bytes()), error_code::gguf_invalid_type);
    // Counts beyond what remains fail before anything is read for them.
    EXPECT_EQ(code_of(gguf_builder().bytes(uint64_t{1} << 19)), error_code::truncated);
    EXPECT_EQ(code_of(gguf_builder().bytes(std::nullopt, uint64_t{1} << 20)), error_code::truncated);
    gguf_builder long_string;
    long_string.raw_pair("k", 8, std::string("\xff\xff\xff\x00\x00\x00\x00\x00", 8) + "abc");
    EXPECT_EQ(code_of(long_string.bytes()), error_code::truncated);
    gguf_builder huge_array;
    huge_array.raw_pair("k", 9, huge_array.array_header(gguf_type::u64, uint64_t{1} << 27));
    EXPECT_EQ(code_of(huge_array.bytes()), error_code::truncated);
    gguf_builder wrapping_array;  // count * 8 would wrap around 2^64
    wrapping_array.raw_pair("k", 9, wrapping_array.array_header(gguf_type::u64, uint64_t{1} << 61));
    gguf_limits unlimited;
    unlimited.max_array_items = UINT64_MAX;
    EXPECT_EQ(code_of(wrapping_array.bytes(), unlimited), error_code::truncated);
    gguf_builder short_scalar;
    short_scalar.raw_pair("k", 10, "abc");
    EXPECT_EQ(code_of(short_scalar.bytes()), error_code::truncated);
}

TEST(gguf, each_limit_set_to_one) {
    gguf_builder b;
    b.u32_pair("a", 1).u32_pair("b", 2).string_array("tokens", {"xy", "z"});
    std::string file = b.bytes(std::nullopt, 2) + std::string(2 * 24, '\0');
    EXPECT_EQ(code_of(file), error_code::ok);
    gguf_limits limits;
    limits.max_kv_count = 1;
    EXPECT_EQ(code_of(file, limits), error_code::gguf_kv_limit);
    limits = {};
    limits.max_tensor_count = 1;
    EXPECT_EQ(code_of(file, limits), error_code::gguf_tensor_limit);
    limits = {};
    limits.max_array_items = 1;
    EXPECT_EQ(code_of(file, limits), error_code::gguf_array_limit);
    limits = {};
    limits.max_string_bytes = 1;
    EXPECT_EQ(code_of(file, limits), error_code::gguf_string_limit);
}

TEST(gguf, errors_name_the_key_and_the_offset) {
    gguf_builder b;
    b.u32_pair("fine", 1).raw_pair("broken", 9, b.array_header(gguf_type::string, 3) + b.string_value("only one"));
    auto bytes = to_bytes(b.bytes());
    auto r = read(bytes);
    ASSERT_FALSE(r.header.ok());
    EXPECT_EQ(r.header.error().code, error_code::truncated);
    EXPECT_EQ(r.header.error().name, "broken");
    EXPECT_EQ(r.pairs.size(), 1u);  // the pair before the malformation was seen
}

// ---- The scan of GGUF files ----------------------------------------------------------------------

file_report scan_gguf(const std::string& file) {
    auto bytes = to_bytes(file);
    return scan_bytes(bytes, "model.gguf");
}

bool has(const file_report& r, std::string_view category, std::string_view name = {}) {
    return std::any_of(r.findings.begin(), r.findings.end(), [&](const finding& f) {
        return f.category == category && (name.empty() || f.name == name);
    });
}

TEST(gguf_scan, real_chat_templates_are_safe_with_no_finding) {
    for (std::string name :
         {"llama3", "chatml_qwen", "mistral", "gemma", "phi3", "deepseek", "zephyr", "code_assistant"}) {
        std::string text = read_file(STKIT_SOURCE_DIR "/tests/scan/data/chat_templates/" + name + ".jinja");
        ASSERT_FALSE(text.empty()) << name;
        gguf_builder b;
        b.string_pair("general.architecture", "llama").string_array("tokenizer.ggml.tokens", {"<s>", "a"});
        b.string_pair("tokenizer.chat_template", text).string_pair("tokenizer.chat_template.tool_use", text);
        auto r = scan_gguf(b.bytes());
        EXPECT_EQ(r.format.format, file_format::gguf);
        EXPECT_EQ(r.overall, verdict::safe) << name << ": " << (r.findings.empty() ? "" : r.findings[0].message);
        EXPECT_TRUE(r.findings.empty()) << name;
    }
}

TEST(gguf_scan, template_injection_in_any_template_key) {
    const std::string payload = "{{ cycler.__init__.__globals__.os.popen('id').read() }}";
    for (std::string key : {"tokenizer.chat_template", "tokenizer.chat_template.rag"}) {
        gguf_builder b;
        b.u32_pair("general.alignment", 32).string_pair(key, payload);
        std::string file = b.bytes();
        auto r = scan_gguf(file);
        EXPECT_EQ(r.overall, verdict::dangerous) << key;
        ASSERT_TRUE(has(r, "code-execution", "__globals__")) << key;
        for (const finding& f : r.findings) {  // offsets point into the file
            if (f.name == "__init__") {
                EXPECT_EQ(f.offset, file.find(payload) + payload.find("__init__"));
            }
        }
    }
    // A template over max_template_bytes (1 MiB) is not tokenized: not analysed is not safe.
    gguf_builder huge;
    huge.string_pair("tokenizer.chat_template", std::string((1 << 20) + 1, 'a'));
    auto limited = scan_gguf(huge.bytes());
    EXPECT_EQ(limited.overall, verdict::suspicious);
    EXPECT_TRUE(has(limited, "limit"));
    // Other keys are data, and a template stored as another type is never rendered.
    gguf_builder other;
    other.string_pair("general.description", payload).string_pair("tokenizer.chat_templates", payload);
    EXPECT_EQ(scan_gguf(other.bytes()).overall, verdict::safe);
}

TEST(gguf_scan, malformed_metadata_is_an_error_and_earlier_templates_still_count) {
    gguf_builder truncated;
    truncated.string_pair("tokenizer.chat_template", "{{ x.__class__ }}");
    truncated.raw_pair("general.name", 8, std::string("\x40\0\0\0\0\0\0\0", 8) + "short");  // past the end
    auto r = scan_gguf(truncated.bytes());
    EXPECT_TRUE(has(r, "malformed")) << (r.findings.empty() ? "" : r.findings.back().message);
    EXPECT_TRUE(has(r, "code-execution", "__class__"));
    EXPECT_EQ(r.overall, verdict::error);
    for (std::string file : {gguf_builder().u32_pair("a", 1).bytes().substr(0, 30),  // a truncated value
                             gguf_builder().bytes(1000),                              // more pairs than bytes
                             gguf_builder().bytes(std::nullopt, 3)}) {                 // tensor infos missing
        auto cut = scan_gguf(file);
        EXPECT_EQ(cut.overall, verdict::error);
        EXPECT_TRUE(cut.failure.has_value());
    }
    // Not GGUF to any loader (no version 1-3): no malformation is claimed.
    auto other = scan_gguf(gguf_builder(7).bytes());
    EXPECT_NE(other.format.format, file_format::gguf);
    EXPECT_FALSE(has(other, "malformed"));
}

}  // namespace
}  // namespace stkit
