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

padded_text pad_for_parsing(std::string_view text, std::size_t readable_after) {
    if (readable_after >= simdjson::SIMDJSON_PADDING)
        return {simdjson::padded_string_view(text.data(), text.size(), text.size() + readable_after), false};
    thread_local simdjson::padded_string copy;
    copy = simdjson::padded_string(text);
    return {simdjson::padded_string_view(copy), true};
}

simdjson::simdjson_result<simdjson::ondemand::document> iterate_json(simdjson::padded_string_view text,
                                                                    uint32_t max_depth) {
    thread_local simdjson::ondemand::parser parser;
    constexpr std::size_t keep_capacity = std::size_t{64} << 20;
    if (parser.capacity() > keep_capacity && text.length() <= keep_capacity) parser = simdjson::ondemand::parser{};
    std::size_t capacity = std::max<std::size_t>({parser.capacity(), text.length(), 64});
    // The callers count depth themselves and stop before entering a container deeper than
    // `max_depth`; the parser keeps one more level, so it is never asked to enter one past its
    // own bound (which its development checks assert on).
    std::size_t parser_depth = std::size_t{max_depth} + 1;
    if (parser.capacity() < capacity || parser.max_depth() != parser_depth) {
        if (auto error = parser.allocate(capacity, parser_depth); error) return error;
    }
    return parser.iterate(text);
}

simdjson::simdjson_result<std::string_view> key_text(simdjson::ondemand::field& field, bool& borrowed) {
    // The raw key runs to its closing quote; the structural pass has already proven that quote
    // is there, so the first quote or backslash decides.
    const char* raw = field.key().raw();
    const char* end = raw;
    while (*end != '"' && *end != '\\') ++end;
    borrowed = *end == '"';
    if (borrowed) return std::string_view(raw, static_cast<std::size_t>(end - raw));
    return field.unescaped_key();
}

simdjson::error_code walk_json(simdjson::ondemand::value value, std::string& repeated, uint32_t depth,
                               uint32_t max_depth) {
    simdjson::ondemand::json_type type;
    if (auto error = value.type().get(type); error) return error;
    bool container = type == simdjson::ondemand::json_type::object || type == simdjson::ondemand::json_type::array;
    if (container && depth > max_depth) return simdjson::DEPTH_ERROR;
    switch (type) {
        case simdjson::ondemand::json_type::object: {
            simdjson::ondemand::object object;
            if (auto error = value.get_object().get(object); error) return error;
            std::vector<std::string> keys;
            for (auto field : object) {
                std::string_view key;
                if (auto error = field.unescaped_key().get(key); error) return error;
                keys.emplace_back(key);
                simdjson::ondemand::value inner;
                if (auto error = field.value().get(inner); error) return error;
                if (auto error = walk_json(inner, repeated, depth + 1, max_depth); error || !repeated.empty()) return error;
            }
            std::sort(keys.begin(), keys.end());
            if (auto twice = std::adjacent_find(keys.begin(), keys.end()); twice != keys.end()) repeated = *twice;
            return simdjson::SUCCESS;
        }
        case simdjson::ondemand::json_type::array: {
            simdjson::ondemand::array array;
            if (auto error = value.get_array().get(array); error) return error;
            for (auto item : array) {
                simdjson::ondemand::value inner;
                if (auto error = item.get(inner); error) return error;
                if (auto error = walk_json(inner, repeated, depth + 1, max_depth); error || !repeated.empty()) return error;
            }
            return simdjson::SUCCESS;
        }
        case simdjson::ondemand::json_type::number: return value.get_number().error();
        case simdjson::ondemand::json_type::string: return value.get_string().error();
        case simdjson::ondemand::json_type::boolean: return value.get_bool().error();
        case simdjson::ondemand::json_type::null: {
            bool null = false;
            if (auto error = value.is_null().get(null); error) return error;
            return null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
        }
    }
    return simdjson::TAPE_ERROR;
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
