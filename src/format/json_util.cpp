// See json_util.hpp.
#include "format/json_util.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace stkit::detail {

simdjson::simdjson_result<simdjson::dom::element> parse_json(std::string_view text,
                                                            uint32_t max_depth) {
    // Keeping the parser per thread reuses its tape and string buffers; they are released when they
    // grew past a large header, so one big file does not pin memory for the thread's lifetime.
    thread_local simdjson::dom::parser parser;
    constexpr std::size_t keep_capacity = std::size_t{64} << 20;
    if (parser.capacity() > keep_capacity && text.size() <= keep_capacity)
        parser = simdjson::dom::parser{};
    std::size_t capacity = std::max(parser.capacity(), text.size());
    if (capacity < 64) capacity = 64;
    if (parser.capacity() < capacity || parser.max_depth() != max_depth) {
        if (auto error = parser.allocate(capacity, max_depth); error) return error;
    }
    return parser.parse(text.data(), text.size(), true);
}

std::string_view find_duplicate_key(simdjson::dom::element value, bool& found) {
    found = false;
    simdjson::dom::array array;
    if (!value.get_array().get(array)) {
        for (simdjson::dom::element item : array) {
            std::string_view key = find_duplicate_key(item, found);
            if (found) return key;
        }
        return {};
    }
    simdjson::dom::object object;
    if (value.get_object().get(object)) return {};
    std::vector<std::string_view> keys;
    keys.reserve(object.size());
    for (simdjson::dom::key_value_pair field : object) {
        keys.push_back(field.key);
        std::string_view key = find_duplicate_key(field.value, found);
        if (found) return key;
    }
    std::sort(keys.begin(), keys.end());
    auto repeated = std::adjacent_find(keys.begin(), keys.end());
    if (repeated == keys.end()) return {};
    found = true;
    return *repeated;
}

std::size_t utf8_error_position(std::string_view text) noexcept {
    // Only called once simdjson has said the text is invalid, to point at the byte; a plain
    // scan is enough there.
    std::size_t i = 0;
    while (i < text.size()) {
        auto byte = static_cast<unsigned char>(text[i]);
        std::size_t length = byte < 0x80 ? 1 : (byte >> 5) == 0x6 ? 2 : (byte >> 4) == 0xE ? 3
                           : (byte >> 3) == 0x1E ? 4 : 0;
        if (length == 0 || i + length > text.size() || !valid_utf8(text.substr(i, length))) return i;
        i += length;
    }
    return text.size();
}

std::size_t locate_key(std::string_view text, std::string_view name) {
    std::string quoted;
    quoted.reserve(name.size() + 2);
    quoted += '"';
    quoted += name;
    quoted += '"';
    std::size_t from = 0;
    while (true) {
        std::size_t at = text.find(quoted, from);
        if (at == std::string_view::npos) return at;
        std::size_t after = at + quoted.size();
        while (after < text.size() && (text[after] == ' ' || text[after] == '\t' ||
                                       text[after] == '\n' || text[after] == '\r'))
            ++after;
        if (after < text.size() && text[after] == ':') return at;
        from = at + 1;
    }
}

}  // namespace stkit::detail
