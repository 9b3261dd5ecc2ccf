// Decoding of the textual operands of protocol 0/1 opcodes, as CPython's unpickler reads them
// (not installed). Pure functions over already bounded input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace stkit::pickle::detail {

// An integer as int(text, 0) parses it: an int64 when it fits, else minimal little-endian two's
// complement bytes. nullopt when Python would raise ValueError (including its 4300-digit limit).
struct parsed_integer {
    bool big = false;
    int64_t value = 0;
    std::string bytes;
};
[[nodiscard]] std::optional<parsed_integer> parse_python_int(std::string_view text);
// int(text) in base 10, for memo keys (PUT/GET); nullopt if invalid or negative.
[[nodiscard]] std::optional<uint64_t> parse_memo_key(std::string_view text);
// float(text); nullopt if invalid.
[[nodiscard]] std::optional<double> parse_python_float(std::string_view text);
// Whether some CPython unpickler reading this INT line (without its newline) goes on: the C one
// tries strtol(line, 0) (ending at the newline or a NUL byte) and then int() of the text before the
// first NUL; the pure-Python one int(line, 0). The union, for the reachability interpreter.
[[nodiscard]] bool int_line_accepted(std::string_view line);
// The same for LONG: a trailing 'L' is dropped, then int(text, 0) (C: of the text before a NUL).
[[nodiscard]] bool long_line_accepted(std::string_view line);
// The same for FLOAT: C parses a prefix (no leading space, no underscores, overflow refused) that
// must end at the newline or a NUL; Python float() takes spaces, underscores and overflows to inf.
[[nodiscard]] bool float_line_accepted(std::string_view line);
// LONG1/LONG4 bytes (little-endian two's complement) -> the same representation.
[[nodiscard]] parsed_integer integer_from_bytes(std::string_view bytes);

// codecs.escape_decode (the STRING opcode); nullopt on a bad \x escape or trailing backslash.
[[nodiscard]] std::optional<std::string> escape_decode(std::string_view text);
// raw-unicode-escape (the UNICODE opcode), to UTF-8; nullopt on a bad \u / \U escape.
[[nodiscard]] std::optional<std::string> raw_unicode_escape_decode(std::string_view text);
// UTF-8 as Python decodes it with "surrogatepass".
[[nodiscard]] bool valid_utf8(std::string_view text) noexcept;
// Appends code point `cp` (< 0x110000) as UTF-8 (surrogates as three bytes).
void append_utf8(std::string& out, uint32_t cp);

}  // namespace stkit::pickle::detail
