// .npy headers (see stkit/containers/npy.hpp). numpy reads the header with ast.literal_eval and
// then insists on exactly the keys descr, fortran_order and shape; this parser accepts the literal
// forms numpy writes (and the ones literal_eval would read for these keys) and nothing else.
#include "stkit/containers/npy.hpp"

#include <memory>
#include <string_view>

#include "stkit/detail/checked.hpp"
#include "stkit/detail/cursor.hpp"

namespace stkit {
namespace {

constexpr std::string_view npy_magic = "\x93NUMPY";
// Nesting of lists and tuples in a structured descr; numpy's own are a few levels deep.
constexpr int max_literal_depth = 32;

// A Python literal as it can appear in an .npy header.
struct literal {
    enum class kind : uint8_t { string, integer, boolean, none, tuple, list, dict } type;
    std::string text;   // string
    uint64_t number = 0;  // integer (non-negative; negative ones are refused where they matter)
    bool negative = false;
    bool flag = false;  // boolean
    std::vector<literal> items;  // tuple, list; dict: key, value, key, value ...
};

class literal_parser {
public:
    literal_parser(std::string_view text, uint64_t base) : text_(text), base_(base) {}

    result<literal> parse_value(int depth) {
        skip_space();
        if (depth > max_literal_depth) return fail("nesting too deep");
        if (at_end()) return fail("unexpected end of header");
        char c = text_[pos_];
        if (c == '\'' || c == '"') return parse_string();
        if (c == '(' || c == '[' || c == '{') return parse_sequence(depth);
        if (c == '-' || (c >= '0' && c <= '9')) return parse_integer();
        for (auto [word, type, flag] : {std::tuple{"True", literal::kind::boolean, true},
                                        std::tuple{"False", literal::kind::boolean, false},
                                        std::tuple{"None", literal::kind::none, false}}) {
            std::string_view w(word);
            if (text_.substr(pos_, w.size()) == w && !ident_char(pos_ + w.size())) {
                pos_ += w.size();
                literal value{type, {}, 0, false, flag, {}};
                return value;
            }
        }
        return fail(std::string("unexpected character '") + c + "'");
    }

    // After the dict: only spaces and the final newline may remain.
    result<void> expect_end() {
        skip_space();
        if (!at_end()) return fail("text after the header dict");
        return {};
    }

    error fail(std::string detail) const {
        return make_error(error_code::npy_invalid_header, std::move(detail), base_ + pos_);
    }

private:
    bool at_end() const { return pos_ >= text_.size(); }
    bool ident_char(std::size_t at) const {
        if (at >= text_.size()) return false;
        char c = text_[at];
        return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }
    void skip_space() {
        while (!at_end() && (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t' ||
                             text_[pos_] == '\r'))
            ++pos_;
    }

    result<literal> parse_string() {
        char quote = text_[pos_++];
        literal value{literal::kind::string, {}, 0, false, false, {}};
        while (!at_end() && text_[pos_] != quote) {
            // numpy never writes escapes in these keys; refusing them keeps the parser exact.
            if (text_[pos_] == '\\' || text_[pos_] == '\n') return fail("escapes and newlines in strings are not supported");
            value.text += text_[pos_++];
        }
        if (at_end()) return fail("unterminated string");
        ++pos_;
        return value;
    }

    result<literal> parse_integer() {
        literal value{literal::kind::integer, {}, 0, false, false, {}};
        if (text_[pos_] == '-') {
            value.negative = true;
            ++pos_;
        }
        std::size_t start = pos_;
        while (!at_end() && text_[pos_] >= '0' && text_[pos_] <= '9') {
            auto times_ten = detail::checked_mul(value.number, 10);
            auto next = times_ten ? detail::checked_add(*times_ten, static_cast<uint64_t>(text_[pos_] - '0'))
                                  : std::nullopt;
            if (!next) return fail("integer does not fit 64 bits");
            value.number = *next;
            ++pos_;
        }
        if (pos_ == start) return fail("expected digits");
        if (pos_ - start > 1 && text_[start] == '0') return fail("integer with a leading zero");
        if (ident_char(pos_) || (!at_end() && text_[pos_] == '.')) return fail("not an integer literal");
        return value;
    }

    // (a, b), (a,), (), [a, b], {k: v, ...}; a trailing comma is allowed, as in Python.
    result<literal> parse_sequence(int depth) {
        char open = text_[pos_++];
        char close = open == '(' ? ')' : open == '[' ? ']' : '}';
        literal value{open == '(' ? literal::kind::tuple
                                  : open == '[' ? literal::kind::list : literal::kind::dict,
                      {}, 0, false, false, {}};
        bool after_comma = true;
        std::size_t elements = 0;
        for (;;) {
            skip_space();
            if (at_end()) return fail("unterminated literal");
            if (text_[pos_] == close) {
                ++pos_;
                break;
            }
            if (!after_comma) return fail("expected ',' or a closing bracket");
            STKIT_TRY(literal item, parse_value(depth + 1));
            value.items.push_back(std::move(item));
            if (open == '{') {
                skip_space();
                if (at_end() || text_[pos_] != ':') return fail("expected ':' in dict");
                ++pos_;
                STKIT_TRY(literal mapped, parse_value(depth + 1));
                value.items.push_back(std::move(mapped));
            }
            ++elements;
            skip_space();
            after_comma = !at_end() && text_[pos_] == ',';
            if (after_comma) ++pos_;
        }
        // "(1)" is the integer 1 in Python, not a tuple.
        if (open == '(' && elements == 1 && !after_comma) return fail("parenthesised value is not a tuple");
        return value;
    }

    std::string_view text_;
    uint64_t base_;
    std::size_t pos_ = 0;
};

// The element type of a simple descr ("<f4", "|b1", ">i8", "<U10", "<M8[ns]"): its safetensors
// dtype when it has one, its item size when it can be told, its byte order.
struct descr_info {
    std::optional<dtype> type;
    unsigned item_size = 0;
    bool big_endian = false;
    bool object = false;
};

descr_info describe(std::string_view descr) {
    descr_info info;
    if (descr.size() < 2) return info;
    char order = descr[0];
    if (order != '<' && order != '>' && order != '|' && order != '=') return info;
    char kind = descr[1];
    if (kind == 'O') {
        info.object = true;
        info.item_size = 8;
        return info;
    }
    std::string_view digits = descr.substr(2);
    if (std::size_t bracket = digits.find('['); bracket != std::string_view::npos)
        digits = digits.substr(0, bracket);  // datetime units: "<M8[ns]"
    unsigned size = 0;
    for (char c : digits) {
        if (c < '0' || c > '9' || size > 1'000'000) return info;
        size = size * 10 + static_cast<unsigned>(c - '0');
    }
    if (digits.empty()) return info;
    info.item_size = kind == 'U' ? size * 4 : size;  // unicode counts UCS-4 characters
    info.big_endian = order == '>' && info.item_size > 1;
    // Wider numeric types need a byte order ('=' is native: little-endian here); '|' is for bytes.
    if (order == '|' && info.item_size > 1) return info;
    if (digits.size() != descr.size() - 2) return info;  // datetimes, timedeltas: no dtype
    struct mapping {
        char kind;
        unsigned size;
        dtype type;
    };
    static constexpr mapping table[] = {
        {'b', 1, dtype::bool_}, {'u', 1, dtype::u8},  {'i', 1, dtype::i8},  {'i', 2, dtype::i16},
        {'u', 2, dtype::u16},   {'i', 4, dtype::i32}, {'u', 4, dtype::u32}, {'i', 8, dtype::i64},
        {'u', 8, dtype::u64},   {'f', 2, dtype::f16}, {'f', 4, dtype::f32}, {'f', 8, dtype::f64},
        {'c', 8, dtype::c64},
    };
    for (const mapping& m : table)
        if (m.kind == kind && m.size == info.item_size) info.type = m.type;
    return info;
}

// Whether a structured descr ([('a', '<f4'), ('b', '|O', (2,))]) has an object field anywhere.
bool has_object_field(const literal& descr) {
    if (descr.type == literal::kind::string) return describe(descr.text).object;
    if (descr.type != literal::kind::list && descr.type != literal::kind::tuple) return false;
    for (std::size_t i = 0; i < descr.items.size(); ++i) {
        const literal& item = descr.items[i];
        // A field is (name, type[, shape]): the name is not a type.
        if (descr.type == literal::kind::tuple && i == 0) continue;
        if (has_object_field(item)) return true;
    }
    return false;
}

result<void> read_dict(const literal& dict, npy_array& array, const literal_parser& parser) {
    if (dict.type != literal::kind::dict) return parser.fail("header is not a dict");
    bool seen_descr = false, seen_order = false, seen_shape = false;
    for (std::size_t i = 0; i + 1 < dict.items.size(); i += 2) {
        const literal& key = dict.items[i];
        const literal& value = dict.items[i + 1];
        if (key.type != literal::kind::string) return parser.fail("dict key is not a string");
        bool* seen = key.text == "descr"           ? &seen_descr
                     : key.text == "fortran_order" ? &seen_order
                     : key.text == "shape"         ? &seen_shape
                                                   : nullptr;
        if (!seen) return parser.fail("unexpected key '" + key.text + "'");
        if (*seen) return parser.fail("repeated key '" + key.text + "'");
        *seen = true;
        if (key.text == "descr") {
            if (value.type == literal::kind::string) {
                array.descr = value.text;
                descr_info info = describe(value.text);
                array.type = info.type;
                array.item_size = info.item_size;
                array.big_endian = info.big_endian;
                array.object = info.object;
            } else if (value.type == literal::kind::list) {
                array.descr = "<structured>";  // no safetensors equivalent
                array.object = has_object_field(value);
            } else {
                return parser.fail("descr is neither a string nor a list");
            }
        } else if (key.text == "fortran_order") {
            if (value.type != literal::kind::boolean) return parser.fail("fortran_order is not True or False");
            array.fortran_order = value.flag;
        } else {
            if (value.type != literal::kind::tuple) return parser.fail("shape is not a tuple");
            for (const literal& extent : value.items) {
                if (extent.type != literal::kind::integer || extent.negative)
                    return parser.fail("shape holds something other than a non-negative integer");
                array.shape.push_back(extent.number);
            }
        }
    }
    if (!seen_descr || !seen_order || !seen_shape)
        return parser.fail("header lacks one of descr, fortran_order, shape");
    return {};
}

// Overlong forms and surrogates are not checked: numpy itself writes only what Python encodes.
bool valid_utf8(std::string_view text) {
    for (std::size_t i = 0; i < text.size();) {
        auto c = static_cast<unsigned char>(text[i]);
        std::size_t extra = c < 0x80             ? 0
                            : (c & 0xE0) == 0xC0 ? 1
                            : (c & 0xF0) == 0xE0 ? 2
                            : (c & 0xF8) == 0xF0 ? 3
                                                 : 4;
        if (extra == 4 || extra >= text.size() - i + (extra == 0 ? 1 : 0)) return false;
        for (std::size_t k = 1; k <= extra; ++k)
            if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
        i += extra + 1;
    }
    return true;
}

}  // namespace

result<npy_array> npy_parse(std::span<const std::byte> file) {
    detail::byte_cursor cursor(file);
    auto magic = cursor.take_text(npy_magic.size());
    if (!magic.ok() || *magic != npy_magic)
        return make_error(error_code::npy_invalid_magic, "file does not start with \\x93NUMPY", 0);
    npy_array array;
    STKIT_TRY(uint8_t major, cursor.u8());
    STKIT_TRY(uint8_t minor, cursor.u8());
    if (major < 1 || major > 3 || minor != 0)
        return make_error(error_code::npy_unsupported_version,
                          "version " + std::to_string(major) + "." + std::to_string(minor), 6);
    array.major_version = major;
    uint64_t header_length = 0;
    if (major == 1) {
        STKIT_TRY(header_length, cursor.u16le());
    } else {
        STKIT_TRY(header_length, cursor.u32le());
    }
    uint64_t header_offset = cursor.offset();
    STKIT_TRY(auto header, cursor.take_text(static_cast<std::size_t>(header_length)));
    if (major == 3 && !valid_utf8(header))
        return make_error(error_code::npy_invalid_header, "version 3.0 header is not UTF-8", header_offset);
    literal_parser parser(header, header_offset);
    STKIT_TRY(literal dict, parser.parse_value(0));
    STKIT_TRY_VOID(parser.expect_end());
    STKIT_TRY_VOID(read_dict(dict, array, parser));

    array.data_offset = cursor.offset();
    array.data = cursor.rest();
    if (array.object || array.item_size == 0) return array;  // pickled or unknown-size elements
    auto elements = detail::checked_product(array.shape);
    auto bytes = elements ? detail::checked_mul(*elements, array.item_size) : std::nullopt;
    if (!bytes)
        return make_error(error_code::npy_size_mismatch, "shape × item size overflows 64 bits",
                          header_offset);
    if (*bytes != array.data.size())
        return make_error(error_code::npy_size_mismatch,
                          "shape and dtype need " + std::to_string(*bytes) + " bytes, file holds " +
                              std::to_string(array.data.size()),
                          array.data_offset);
    return array;
}

}  // namespace stkit
