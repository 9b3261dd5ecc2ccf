// Textual operands of protocol 0/1 opcodes; see text.hpp.
#include "pickle/text.hpp"

#include <charconv>
#include <cstring>
#include <vector>

namespace stkit::pickle::detail {
namespace {

// CPython's int-from-string limit for non-power-of-two bases (sys.get_int_max_str_digits()).
constexpr std::size_t max_decimal_digits = 4300;
// Our own bound for power-of-two bases, which Python does not limit: keeps the conversion cheap.
constexpr std::size_t max_binary_digits = 1 << 16;

bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view text) noexcept {
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    return text;
}

int digit_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'z') return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
    return 99;
}

void trim_twos_complement(std::string& bytes) {
    while (bytes.size() > 1) {
        auto last = static_cast<uint8_t>(bytes.back());
        auto below = static_cast<uint8_t>(bytes[bytes.size() - 2]);
        if ((last == 0x00 && !(below & 0x80)) || (last == 0xff && (below & 0x80))) bytes.pop_back();
        else break;
    }
}

}  // namespace

parsed_integer integer_from_bytes(std::string_view raw) {
    parsed_integer out;
    std::string bytes(raw);
    trim_twos_complement(bytes);
    if (bytes.size() <= 8) {
        uint64_t value = 0;
        for (std::size_t i = 0; i < bytes.size(); ++i)
            value |= uint64_t{static_cast<uint8_t>(bytes[i])} << (8 * i);
        if (!bytes.empty() && bytes.size() < 8 && (static_cast<uint8_t>(bytes.back()) & 0x80))
            value |= ~uint64_t{0} << (8 * bytes.size());
        out.value = static_cast<int64_t>(value);
        return out;
    }
    out.big = true;
    out.bytes = std::move(bytes);
    return out;
}

std::optional<parsed_integer> parse_python_int(std::string_view text) {
    text = trim(text);
    bool negative = false;
    if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
        negative = text.front() == '-';
        text.remove_prefix(1);
    }
    unsigned base = 10;
    bool prefixed = false;
    if (text.size() >= 2 && text[0] == '0') {
        char p = static_cast<char>(text[1] | 0x20);
        base = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 10;
        if (base != 10) {
            text.remove_prefix(2);
            prefixed = true;
        }
    }
    // Digits, with single underscores between them (and after a prefix).
    std::vector<uint8_t> digits;
    digits.reserve(text.size());
    bool after_underscore = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '_') {
            if (after_underscore || (digits.empty() && !prefixed)) return std::nullopt;
            after_underscore = true;
            continue;
        }
        int d = digit_value(c);
        if (d >= static_cast<int>(base)) return std::nullopt;
        digits.push_back(static_cast<uint8_t>(d));
        after_underscore = false;
    }
    if (digits.empty() || after_underscore) return std::nullopt;
    // Base 0 forbids leading zeros in non-zero decimals ("010").
    if (base == 10 && digits.size() > 1 && digits[0] == 0) {
        for (uint8_t d : digits)
            if (d != 0) return std::nullopt;
    }
    if (digits.size() > (base == 10 ? max_decimal_digits : max_binary_digits)) return std::nullopt;

    std::vector<uint32_t> limbs{0};  // magnitude, little-endian base 2^32
    for (uint8_t d : digits) {
        uint64_t carry = d;
        for (uint32_t& limb : limbs) {
            uint64_t v = uint64_t{limb} * base + carry;
            limb = static_cast<uint32_t>(v);
            carry = v >> 32;
        }
        if (carry) limbs.push_back(static_cast<uint32_t>(carry));
    }
    std::string bytes;
    bytes.reserve(limbs.size() * 4 + 1);
    for (uint32_t limb : limbs)
        for (int b = 0; b < 4; ++b) bytes.push_back(static_cast<char>((limb >> (8 * b)) & 0xff));
    bytes.push_back('\0');  // room for the sign bit
    if (negative) {
        bool carry = true;
        for (char& c : bytes) {
            auto v = static_cast<uint8_t>(~static_cast<uint8_t>(c));
            if (carry) {
                ++v;
                carry = v == 0;
            }
            c = static_cast<char>(v);
        }
    }
    return integer_from_bytes(bytes);
}

std::optional<uint64_t> parse_memo_key(std::string_view text) {
    auto parsed = parse_python_int(text);
    // int(x) without base 0: no prefixes; parse_python_int accepting "0x10" here is harmless.
    if (!parsed || parsed->big || parsed->value < 0) return std::nullopt;
    return static_cast<uint64_t>(parsed->value);
}

std::optional<double> parse_python_float(std::string_view text) {
    text = trim(text);
    if (!text.empty() && text.front() == '+') text.remove_prefix(1);
    if (text.empty()) return std::nullopt;
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (end != text.data() + text.size()) return std::nullopt;
    if (ec != std::errc() && ec != std::errc::result_out_of_range) return std::nullopt;
    return value;
}

namespace {

std::string_view before_nul(std::string_view line) noexcept {
    std::size_t nul = line.find('\0');
    return nul == std::string_view::npos ? line : line.substr(0, nul);
}

// strtol(line + "\n", &end, 0) leaves `end` at the newline or at a NUL byte.
bool strtol_accepts(std::string_view line) noexcept {
    std::size_t i = 0;
    while (i < line.size() && is_space(line[i])) ++i;
    if (i < line.size() && (line[i] == '+' || line[i] == '-')) ++i;
    unsigned base = 10;
    if (i < line.size() && line[i] == '0') {
        bool hex_prefix = i + 2 < line.size() && (line[i + 1] | 0x20) == 'x' && digit_value(line[i + 2]) < 16;
        if (hex_prefix) {
            base = 16;
            i += 2;
        } else {
            base = 8;
        }
    }
    std::size_t digits = 0;
    while (i < line.size() && digit_value(line[i]) < static_cast<int>(base)) {
        ++i;
        ++digits;
    }
    if (digits == 0) return !line.empty() && line[0] == '\0';  // no conversion: end = start
    return i == line.size() || line[i] == '\0';
}

// Python's float() grammar: spaces around, a sign, "inf", "infinity", "nan", or digits with
// single underscores between them, an optional fraction and exponent.
bool python_float_accepts(std::string_view text) noexcept {
    text = trim(text);
    if (!text.empty() && (text.front() == '+' || text.front() == '-')) text.remove_prefix(1);
    std::string lower;
    for (char c : text) lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
    if (lower == "inf" || lower == "infinity" || lower == "nan") return true;
    auto digits = [&](std::size_t& i) {
        std::size_t count = 0;
        while (i < text.size()) {
            if (text[i] >= '0' && text[i] <= '9') {
                ++count;
                ++i;
            } else if (text[i] == '_' && count > 0 && i + 1 < text.size() && text[i + 1] >= '0' &&
                       text[i + 1] <= '9') {
                ++i;
            } else {
                break;
            }
        }
        return count;
    };
    std::size_t i = 0;
    std::size_t whole = digits(i), fraction = 0;
    if (i < text.size() && text[i] == '.') {
        ++i;
        fraction = digits(i);
    }
    if (whole + fraction == 0) return false;
    if (i < text.size() && (text[i] | 0x20) == 'e') {
        ++i;
        if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
        if (digits(i) == 0) return false;
    }
    return i == text.size();
}

// PyOS_string_to_double on the line: a prefix with no leading space or underscores, ending at the
// newline or a NUL. Overflow raises there, so digits whose value overflows are refused too; that
// case is left to the Python grammar (float("1e999") is inf), so accepting it here changes nothing.
bool c_float_accepts(std::string_view line) noexcept {
    std::size_t i = 0;
    if (i < line.size() && (line[i] == '+' || line[i] == '-')) ++i;
    auto word = [&](std::string_view w) {
        if (line.size() - i < w.size()) return false;
        for (std::size_t k = 0; k < w.size(); ++k)
            if ((line[i + k] | 0x20) != w[k]) return false;
        return true;
    };
    if (word("infinity")) i += 8;
    else if (word("inf") || word("nan")) i += 3;
    else {
        std::size_t mantissa = 0;
        while (i < line.size() && line[i] >= '0' && line[i] <= '9') ++i, ++mantissa;
        if (i < line.size() && line[i] == '.') {
            ++i;
            while (i < line.size() && line[i] >= '0' && line[i] <= '9') ++i, ++mantissa;
        }
        if (mantissa == 0) return false;
        if (i < line.size() && (line[i] | 0x20) == 'e') {
            std::size_t exponent_start = i++;
            if (i < line.size() && (line[i] == '+' || line[i] == '-')) ++i;
            std::size_t exponent = 0;
            while (i < line.size() && line[i] >= '0' && line[i] <= '9') ++i, ++exponent;
            if (exponent == 0) i = exponent_start;  // "1e" parses as 1, ending at 'e'
        }
    }
    return i == line.size() || line[i] == '\0';
}

}  // namespace

bool int_line_accepted(std::string_view line) {
    if (line.empty()) return false;  // both refuse an empty line
    return strtol_accepts(line) || parse_python_int(before_nul(line)).has_value();
}

bool long_line_accepted(std::string_view line) {
    if (line.empty()) return false;
    if (line.back() == 'L') line.remove_suffix(1);
    return parse_python_int(before_nul(line)).has_value();
}

bool float_line_accepted(std::string_view line) {
    if (line.empty()) return false;
    return c_float_accepts(line) || python_float_accepts(line);
}

std::optional<std::string> escape_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c != '\\') {
            out.push_back(c);
            continue;
        }
        if (++i == text.size()) return std::nullopt;  // trailing backslash
        c = text[i];
        switch (c) {
            case '\n': break;
            case '\\': out.push_back('\\'); break;
            case '\'': out.push_back('\''); break;
            case '"': out.push_back('"'); break;
            case 'a': out.push_back('\a'); break;
            case 'b': out.push_back('\b'); break;
            case 'f': out.push_back('\f'); break;
            case 'n': out.push_back('\n'); break;
            case 'r': out.push_back('\r'); break;
            case 't': out.push_back('\t'); break;
            case 'v': out.push_back('\v'); break;
            case 'x': {
                if (text.size() - i < 3) return std::nullopt;
                int hi = digit_value(text[i + 1]), lo = digit_value(text[i + 2]);
                if (hi >= 16 || lo >= 16) return std::nullopt;
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                break;
            }
            default:
                if (c >= '0' && c <= '7') {
                    unsigned value = static_cast<unsigned>(c - '0');
                    for (int n = 0; n < 2 && i + 1 < text.size() && text[i + 1] >= '0' &&
                                    text[i + 1] <= '7';
                         ++n)
                        value = value * 8 + static_cast<unsigned>(text[++i] - '0');
                    out.push_back(static_cast<char>(value & 0xff));
                } else {
                    out.push_back('\\');
                    out.push_back(c);
                }
        }
    }
    return out;
}

std::optional<std::string> raw_unicode_escape_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        auto c = static_cast<uint8_t>(text[i]);
        if (c != '\\') {
            append_utf8(out, c);  // bytes are Latin-1 code points
            ++i;
            continue;
        }
        // \u and \U are escapes only after an odd number of backslashes.
        std::size_t run = 0;
        while (i < text.size() && text[i] == '\\') {
            ++run;
            ++i;
        }
        out.append(run, '\\');
        if (run % 2 == 0 || i == text.size() || (text[i] != 'u' && text[i] != 'U')) continue;
        out.pop_back();
        std::size_t count = text[i] == 'u' ? 4 : 8;
        ++i;
        if (text.size() - i < count) return std::nullopt;
        uint32_t cp = 0;
        for (std::size_t k = 0; k < count; ++k) {
            int d = digit_value(text[i + k]);
            if (d >= 16) return std::nullopt;
            cp = cp * 16 + static_cast<uint32_t>(d);
        }
        if (cp >= 0x110000) return std::nullopt;
        append_utf8(out, cp);
        i += count;
    }
    return out;
}

bool valid_utf8(std::string_view text) noexcept {
    const auto* s = reinterpret_cast<const uint8_t*>(text.data());
    std::size_t n = text.size(), i = 0;
    while (i < n) {
        // Fast path over ASCII, eight bytes at a time.
        while (i + 8 <= n) {
            uint64_t chunk;
            std::memcpy(&chunk, s + i, 8);
            if (chunk & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        uint8_t c = s[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t extra;
        uint8_t lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) extra = 1;
        else if (c == 0xe0) extra = 2, lo = 0xa0;
        else if (c >= 0xe1 && c <= 0xef) extra = 2;
        else if (c == 0xf0) extra = 3, lo = 0x90;
        else if (c >= 0xf1 && c <= 0xf3) extra = 3;
        else if (c == 0xf4) extra = 3, hi = 0x8f;
        else return false;
        if (n - i - 1 < extra) return false;
        if (s[i + 1] < lo || s[i + 1] > hi) return false;
        for (std::size_t k = 2; k <= extra; ++k)
            if ((s[i + k] & 0xc0) != 0x80) return false;
        i += extra + 1;
    }
    return true;
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
        out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
}

}  // namespace stkit::pickle::detail
