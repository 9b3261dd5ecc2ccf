// GGUF metadata (stkit/scan/gguf.hpp) and the scan of a GGUF file. The reader follows ggml's
// gguf.cpp: one bounded cursor, and every count is checked against its limit, against SIZE_MAX
// over the smallest encoding of one item, and against the bytes that remain before it is used.
// The scan reads every pair and checks the chat templates (chat_template.cpp): llama.cpp's Python
// binding rendered them with an unsandboxed Jinja environment (CVE-2024-34359).
#include "stkit/scan/gguf.hpp"

#include <cstdint>
#include <set>
#include <string>

#include "scan/internal.hpp"
#include "stkit/detail/cursor.hpp"

namespace stkit {
namespace {

using detail::byte_cursor;

constexpr uint32_t gguf_type_count = 13;

// Bytes of one scalar; 0 for strings and arrays, whose size is in their encoding.
std::size_t scalar_bytes(gguf_type type) noexcept {
    switch (type) {
        case gguf_type::u8:
        case gguf_type::i8:
        case gguf_type::boolean: return 1;
        case gguf_type::u16:
        case gguf_type::i16: return 2;
        case gguf_type::u32:
        case gguf_type::i32:
        case gguf_type::f32: return 4;
        case gguf_type::u64:
        case gguf_type::i64:
        case gguf_type::f64: return 8;
        case gguf_type::string:
        case gguf_type::array: return 0;
    }
    return 0;
}

class gguf_reader {
public:
    gguf_reader(std::span<const std::byte> bytes, const gguf_limits& limits) : cursor_(bytes), limits_(limits) {}

    result<gguf_header> header() {
        STKIT_TRY(auto magic, cursor_.take_text(4));
        if (magic != "GGUF") return make_error(error_code::gguf_invalid_magic, {}, 0);
        STKIT_TRY(uint32_t version, cursor_.u32le());
        if (version < 1 || version > 3)
            return make_error(error_code::gguf_unsupported_version, std::to_string(version), 4);
        version_ = version;
        gguf_header header;
        header.version = version;
        STKIT_TRY(header.tensor_count, count());
        if (header.tensor_count > limits_.max_tensor_count)
            return over_limit(error_code::gguf_tensor_limit, header.tensor_count, limits_.max_tensor_count, 8);
        uint64_t at = cursor_.offset();
        STKIT_TRY(header.kv_count, count());
        // A pair is at least a key length, a type and a one-byte value.
        STKIT_TRY_VOID(check_count(header.kv_count, limits_.max_kv_count, error_code::gguf_kv_limit,
                                   count_bytes() + 5, at, "key-value pairs"));
        return header;
    }

    // Reads one pair; the visitor sees views into the input. Errors in the value name the key.
    result<gguf_kv> pair() {
        gguf_kv kv;
        STKIT_TRY(kv.key, string());
        if (auto read = value(kv); !read.ok()) {
            error e = std::move(read).error();
            e.name = std::string(kv.key);
            return e;
        }
        return kv;
    }

    // The tensor infos that follow must fit in what remains: name, dimension count, type, offset.
    result<void> check_tensor_infos(uint64_t tensor_count) {
        return check_count(tensor_count, limits_.max_tensor_count, error_code::gguf_tensor_limit,
                           count_bytes() + 16, 8, "tensor infos");
    }

    [[nodiscard]] uint64_t offset() const noexcept { return cursor_.offset(); }

private:
    // Counts and lengths are u32 in version 1 and u64 after.
    [[nodiscard]] std::size_t count_bytes() const noexcept { return version_ == 1 ? 4 : 8; }

    result<uint64_t> count() {
        if (version_ == 1) {
            STKIT_TRY(uint32_t narrow, cursor_.u32le());
            return uint64_t{narrow};
        }
        return cursor_.u64le();
    }

    error over_limit(error_code code, uint64_t count, uint64_t limit, uint64_t at) const {
        return make_error(code, std::to_string(count) + " > " + std::to_string(limit), at);
    }

    // The three checks before `count` items of at least `item_bytes` each are read.
    result<void> check_count(uint64_t count, uint64_t limit, error_code limit_code, std::size_t item_bytes,
                             uint64_t at, std::string_view what) const {
        if (count > limit) return over_limit(limit_code, count, limit, at);
        if (count > SIZE_MAX / item_bytes || count * item_bytes > cursor_.remaining())
            return make_error(error_code::truncated,
                              std::to_string(count) + " " + std::string(what) +
                                  (item_bytes > 1 ? " of at least " + std::to_string(item_bytes) + " bytes each" : "") +
                                  ", " + std::to_string(cursor_.remaining()) + " bytes remain",
                              at);
        return {};
    }

    result<void> value(gguf_kv& kv) {
        STKIT_TRY(kv.type, type());
        std::size_t start = cursor_.position();
        if (kv.type == gguf_type::string) {
            STKIT_TRY(kv.value, string_bytes());
        } else if (kv.type == gguf_type::array) {
            STKIT_TRY(kv.item_type, type());
            uint64_t at = cursor_.offset();
            STKIT_TRY(kv.item_count, count());
            start = cursor_.position();
            STKIT_TRY_VOID(array_items(kv.item_type, kv.item_count, at, 1));
            kv.value = cursor_.whole().subspan(start, cursor_.position() - start);
        } else {
            STKIT_TRY_VOID(cursor_.skip(scalar_bytes(kv.type)));
            kv.value = cursor_.whole().subspan(start, cursor_.position() - start);
        }
        kv.offset = cursor_.offset() - kv.value.size();
        return {};
    }

    result<gguf_type> type() {
        uint64_t at = cursor_.offset();
        STKIT_TRY(uint32_t raw, cursor_.u32le());
        if (raw >= gguf_type_count) return make_error(error_code::gguf_invalid_type, std::to_string(raw), at);
        return static_cast<gguf_type>(raw);
    }

    result<std::span<const std::byte>> string_bytes() {
        uint64_t at = cursor_.offset();
        STKIT_TRY(uint64_t length, count());
        STKIT_TRY_VOID(
            check_count(length, limits_.max_string_bytes, error_code::gguf_string_limit, 1, at, "string bytes"));
        return cursor_.take(static_cast<std::size_t>(length));
    }

    result<std::string_view> string() {
        STKIT_TRY(auto bytes, string_bytes());
        return std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    }

    // The smallest encoding of one item: a scalar's size, a string's length, an array's type and count.
    [[nodiscard]] std::size_t min_item_bytes(gguf_type type) const noexcept {
        if (type == gguf_type::string) return count_bytes();
        if (type == gguf_type::array) return 4 + count_bytes();
        return scalar_bytes(type);
    }

    // `depth` is the nesting of the array being read (1 for a pair's value).
    result<void> array_items(gguf_type item_type, uint64_t item_count, uint64_t at, unsigned depth) {
        if (depth > limits_.max_array_depth)
            return make_error(error_code::gguf_depth_limit, std::to_string(depth) + " levels", at);
        STKIT_TRY_VOID(check_count(item_count, limits_.max_array_items, error_code::gguf_array_limit,
                                   min_item_bytes(item_type), at, "array items"));
        if (std::size_t size = scalar_bytes(item_type); size != 0)  // checked above: fits what remains
            return cursor_.skip(static_cast<std::size_t>(item_count) * size);
        for (uint64_t i = 0; i < item_count; ++i) STKIT_TRY_VOID(skip_value(item_type, depth));
        return {};
    }

    result<void> skip_value(gguf_type type, unsigned depth) {
        if (type == gguf_type::string) {
            STKIT_TRY(auto skipped, string_bytes());
            (void)skipped;
            return {};
        }
        if (type == gguf_type::array) {
            STKIT_TRY(gguf_type item_type, this->type());
            uint64_t at = cursor_.offset();
            STKIT_TRY(uint64_t item_count, count());
            return array_items(item_type, item_count, at, depth + 1);
        }
        return cursor_.skip(scalar_bytes(type));
    }

    byte_cursor cursor_;
    const gguf_limits& limits_;
    uint32_t version_ = 3;
};

}  // namespace

result<gguf_header> gguf_read_metadata(std::span<const std::byte> bytes, const gguf_visitor& visit,
                                       const gguf_limits& limits) {
    gguf_reader reader(bytes, limits);
    STKIT_TRY(gguf_header header, reader.header());
    for (uint64_t i = 0; i < header.kv_count; ++i) {
        auto kv = reader.pair();
        if (!kv.ok()) return std::move(kv).error();
        if (!visit(*kv)) return header;
    }
    STKIT_TRY_VOID(reader.check_tensor_infos(header.tensor_count));
    header.kv_end = reader.offset();
    return header;
}

namespace detail {
namespace {

// Findings per template: the first of each kind is what a reader needs; a hostile template could
// otherwise produce one per byte.
constexpr std::size_t max_template_findings = 16;
// Real chat templates are a few KiB; the check holds a token per operator, so larger ones are
// reported as not analysed rather than tokenized.
constexpr std::size_t max_template_bytes = std::size_t{1} << 20;

bool chat_template_key(std::string_view key) {
    constexpr std::string_view base = "tokenizer.chat_template";
    return key == base || (key.starts_with(base) && key.size() > base.size() && key[base.size()] == '.');
}

void scan_chat_template(scan_state& state, const gguf_kv& kv, const std::string& member) {
    if (kv.value.size() > max_template_bytes) {
        state.add(carrier_finding(verdict::suspicious, "limit",
                                  "GGUF chat template " + std::string(kv.key) + " is larger than " +
                                      std::to_string(max_template_bytes) + " bytes: not analysed",
                                  member, {}, std::string(kv.key), kv.offset));
        return;
    }
    std::set<std::string> reported;
    for (const template_issue& issue : chat_template_issues(kv.string())) {
        if (!reported.insert(issue.token).second) continue;
        if (reported.size() > max_template_findings) break;
        std::string shown = issue.token.size() > 80 ? issue.token.substr(0, 80) + "..." : issue.token;
        state.add(carrier_finding(verdict::dangerous, "code-execution",
                                  "GGUF chat template " + std::string(kv.key) + ": '" + shown +
                                      "' in a code section (" + std::string(issue.reason) +
                                      "); a loader that renders it unsandboxed runs it",
                                  member, {}, shown, kv.offset + issue.position));
    }
}

}  // namespace

void scan_gguf(scan_state& state, std::span<const std::byte> bytes, const std::string& member) {
    auto read = gguf_read_metadata(bytes, [&](const gguf_kv& kv) {
        // llama.cpp reads templates only as strings; a template stored as another type is never rendered.
        if (kv.type == gguf_type::string && chat_template_key(kv.key)) scan_chat_template(state, kv, member);
        return true;
    });
    if (!read.ok()) {
        const error& e = read.error();
        state.add(carrier_finding(verdict::error, "malformed", "GGUF metadata: " + e.to_string(), member, {}, e.name,
                                  e.offset));
    }
}

}  // namespace detail
}  // namespace stkit
