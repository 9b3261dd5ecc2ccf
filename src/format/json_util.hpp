// Internal helpers shared by the header and index parsers: one simdjson parser per thread, error
// mapping, duplicate-key checks at every level, and UTF-8 error location.
#pragma once

#include <cstdint>
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
