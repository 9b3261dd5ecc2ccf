// Internal helpers shared by the header and index parsers: one simdjson parser per thread (DOM for
// the small index file, on-demand for the header, which is read once in one pass), duplicate-key
// checks at every level, and UTF-8 error location.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "stkit/error.hpp"

namespace stkit::detail {

// Parses `text` (validating all of it, including UTF-8) with a per-thread parser whose buffers are
// reused across calls, so opening many files does not reallocate. `max_depth` caps nesting
// (`{}` has depth 1). On failure returns the simdjson error code.
[[nodiscard]] simdjson::simdjson_result<simdjson::dom::element> parse_json(std::string_view text,
                                                                          uint32_t max_depth);

// Returns the first key repeated within any object nested in `value` (an empty view if none), so
// callers can refuse what the reference would silently collapse. `found` is set when one is.
[[nodiscard]] std::string_view find_duplicate_key(simdjson::dom::element value, bool& found);

// --- On-demand parsing (the safetensors header) ---

// `text` as simdjson's on-demand parser needs it: SIMDJSON_PADDING readable bytes past its end. When
// `readable_after` bytes beyond `text` may be read (the file's tensor data follows the header), the
// view is the text itself (`copied` false, so strings without escapes can be borrowed from it);
// otherwise a per-thread padded copy.
struct padded_text {
    simdjson::padded_string_view view;
    bool copied = false;
};
[[nodiscard]] padded_text pad_for_parsing(std::string_view text, std::size_t readable_after);

// Starts an on-demand parse with a per-thread parser (buffers reused across calls) for documents
// nested at most `max_depth` deep (`{}` has depth 1). The on-demand parser does not refuse deeper
// nesting by itself: callers count depth and return DEPTH_ERROR before entering a container past it.
[[nodiscard]] simdjson::simdjson_result<simdjson::ondemand::document> iterate_json(simdjson::padded_string_view text,
                                                                                  uint32_t max_depth);

// The text of a key: borrowed from the input when it holds no escape (`borrowed` set), else
// unescaped into the parser's buffer (valid until the next parse on this thread).
[[nodiscard]] simdjson::simdjson_result<std::string_view> key_text(simdjson::ondemand::field& field, bool& borrowed);

// Reads a whole value as the DOM parser would (every number, string and nesting checked) and
// reports in `repeated` the first key seen twice in any object within it (empty if none). `depth`
// is the nesting the value has if it is an object or array (the root object has 1); deeper than
// `max_depth` is DEPTH_ERROR.
[[nodiscard]] simdjson::error_code walk_json(simdjson::ondemand::value value, std::string& repeated,
                                            uint32_t depth, uint32_t max_depth);

// Position of the first byte that is not valid UTF-8 in `text` (text.size() if all valid).
[[nodiscard]] std::size_t utf8_error_position(std::string_view text) noexcept;

// Position of the key `"name"` in `text`, or npos; for pointing errors at a tensor entry. Names
// that the file spelled with escapes are not found (the caller falls back to the header start).
[[nodiscard]] std::size_t locate_key(std::string_view text, std::string_view name);

// True if `text` is valid UTF-8.
[[nodiscard]] inline bool valid_utf8(std::string_view text) noexcept {
    return simdjson::validate_utf8(text.data(), text.size());
}

}  // namespace stkit::detail
