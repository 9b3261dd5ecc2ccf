// Jinja chat templates (GGUF tokenizer.chat_template[.<name>]): does a template reach Python?
//
// Jinja compiles a template to Python. A sandboxed environment refuses "_" attributes, but
// llama-cpp-python rendered GGUF templates with a plain jinja2.Environment, so
// {{ cycler.__init__.__globals__.os.popen('id').read() }} ran a shell command (CVE-2024-34359), and
// any other loader may do the same. Only code is evaluated: text between tags is printed as it is,
// and real templates print "__" or "system" there freely. So the template is split into code
// sections ({{ }}, {% %}) the way Jinja's lexer splits it — string literals, comments {# #},
// {% raw %} blocks, whitespace control ({%- -%} {%+), brackets that keep a section open — and only
// the tokens of code sections are judged:
//   - a dunder name or attribute (__class__, __globals__, __init__...): the way from any object to
//     Python's internals;
//   - names of modules and functions that run code (os, popen, eval, import...) and Jinja or Flask
//     globals whose attributes lead to them (cycler, joiner, lipsum, self, config, request), unless
//     the template binds the name itself ({% set system = ... %}, namespace(system=...));
//   - strings that spell a dunder once decoded (\x5f, \u005f, \137, \N{LOW LINE}) where they name an
//     attribute (attr(), map(attribute=...), subscripts) or are built with ~, +, *, adjacent
//     literals or variables set to constants; pieces of a dunder joined to unknown values;
//   - attr() with a name computed at render time, and format with %c (characters from numbers);
//   - statements that load other templates (import, from, include, extends).
#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>

#include "scan/internal.hpp"

namespace stkit::detail {
namespace {

enum class token_kind : uint8_t { name, string, number, op, end };

struct token {
    token_kind kind;
    std::string text;        // names, numbers and operators as written; strings decoded
    std::size_t at = 0;      // byte offset in the template
    bool attribute = false;  // a name right after '.'
    bool statement = false;  // the first name of a {% %} section
};

bool is_op(const token& t, std::string_view op) { return t.kind == token_kind::op && t.text == op; }

bool name_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }
bool digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp > 0x10ffff) cp = 0xfffd;
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xc0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xe0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        out += static_cast<char>(0xf0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    }
}

// The characters a \N{...} escape can spell an identifier with; anything else stands for U+FFFD.
uint32_t named_character(std::string name) {
    std::transform(name.begin(), name.end(), name.begin(), [](char c) { return c >= 'a' && c <= 'z' ? c - 32 : c; });
    if (name == "LOW LINE") return '_';
    if (name == "FULL STOP") return '.';
    constexpr std::string_view small = "LATIN SMALL LETTER ", capital = "LATIN CAPITAL LETTER ";
    if (name.size() == small.size() + 1 && name.starts_with(small))
        return static_cast<uint32_t>(name.back() - 'A' + 'a');
    if (name.size() == capital.size() + 1 && name.starts_with(capital)) return static_cast<uint32_t>(name.back());
    constexpr std::string_view digits[] = {"ZERO", "ONE", "TWO",   "THREE", "FOUR",
                                           "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"};
    for (uint32_t d = 0; d < 10; ++d)
        if (name == "DIGIT " + std::string(digits[d])) return '0' + d;
    return 0xfffd;
}

// Splits a template into the tokens of its code sections, each section closed by an `end` token.
class template_lexer {
public:
    explicit template_lexer(std::string_view text) : text_(text) {}

    std::vector<token> code_tokens() {
        std::size_t pos = 0;
        while (pos < text_.size()) {
            std::size_t open = text_.find('{', pos);
            if (open == std::string_view::npos || open + 1 >= text_.size()) break;
            char kind = text_[open + 1];
            if (kind == '#') {
                std::size_t close = text_.find("#}", open + 2);
                if (close == std::string_view::npos) break;
                pos = close + 2;
            } else if (kind == '{' || kind == '%') {
                std::size_t raw_end = kind == '%' ? raw_block_end(open) : std::string_view::npos;
                pos = raw_end != std::string_view::npos ? raw_end : section(open + 2, kind == '%');
            } else {
                pos = open + 1;
            }
        }
        return std::move(tokens_);
    }

private:
    // The end of the tag {%[-+] WORD [-+]%} at `pos`, or npos.
    std::size_t tag_end(std::size_t pos, std::string_view word) const {
        if (text_.substr(pos, 2) != "{%") return std::string_view::npos;
        pos += 2;
        if (pos < text_.size() && (text_[pos] == '-' || text_[pos] == '+')) ++pos;
        pos = skip_space(pos);
        if (text_.substr(pos, word.size()) != word) return std::string_view::npos;
        pos = skip_space(pos + word.size());
        if (pos < text_.size() && (text_[pos] == '-' || text_[pos] == '+')) ++pos;
        return text_.substr(pos, 2) == "%}" ? pos + 2 : std::string_view::npos;
    }

    // {% raw %}...{% endraw %} is literal text; without its end it is lexed as code (Jinja refuses it).
    std::size_t raw_block_end(std::size_t open) {
        std::size_t body = tag_end(open, "raw");
        // Once a search has found no end, none after it can: many raw tags stay linear.
        if (body == std::string_view::npos || body >= no_endraw_after_) return std::string_view::npos;
        for (std::size_t at = text_.find("{%", body); at != std::string_view::npos; at = text_.find("{%", at + 2))
            if (std::size_t end = tag_end(at, "endraw"); end != std::string_view::npos) return end;
        no_endraw_after_ = body;
        return std::string_view::npos;
    }

    std::size_t skip_space(std::size_t pos) const {
        while (pos < text_.size() && std::string_view(" \t\n\r").find(text_[pos]) != std::string_view::npos) ++pos;
        return pos;
    }

    // A {{ }} or {% %} section from just after its opening; returns the position after its end.
    // Like Jinja, the closing delimiter counts only when brackets are balanced.
    std::size_t section(std::size_t pos, bool block) {
        std::string_view closer = block ? "%}" : "}}";
        if (pos < text_.size() && (text_[pos] == '-' || text_[pos] == '+')) ++pos;
        std::size_t depth = 0;
        bool first = block;
        while ((pos = skip_space(pos)) < text_.size()) {
            if (depth == 0 && text_.substr(pos, 2) == closer) {
                pos += 2;
                break;
            }
            char c = text_[pos];
            std::size_t start = pos;
            if (c == '\'' || c == '"') {
                pos = string_literal(pos);
            } else if (name_start(c)) {
                while (pos < text_.size() && name_char(text_[pos])) ++pos;
                bool attribute = !tokens_.empty() && is_op(tokens_.back(), ".");
                tokens_.push_back(
                    {token_kind::name, std::string(text_.substr(start, pos - start)), start, attribute, first});
            } else if (digit(c)) {
                while (pos < text_.size() && (name_char(text_[pos]) || text_[pos] == '.')) ++pos;
                tokens_.push_back({token_kind::number, std::string(text_.substr(start, pos - start)), start});
            } else {
                constexpr std::string_view pairs[] = {"==", "!=", "<=", ">=", "**", "//"};
                std::size_t width = std::any_of(std::begin(pairs), std::end(pairs),
                                                [&](std::string_view p) { return text_.substr(pos, 2) == p; }) ? 2 : 1;
                if (c == '(' || c == '[' || c == '{') ++depth;
                if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
                tokens_.push_back({token_kind::op, std::string(text_.substr(pos, width)), start});
                pos += width;
            }
            first = false;
        }
        tokens_.push_back({token_kind::end, {}, pos});
        return pos;
    }

    // A quoted string, decoded as Jinja decodes it (Python's unicode-escape).
    std::size_t string_literal(std::size_t pos) {
        char quote = text_[pos];
        std::size_t start = pos++;
        std::string value;
        while (pos < text_.size() && text_[pos] != quote) {
            if (text_[pos] == '\\' && pos + 1 < text_.size()) pos = escape(pos + 1, value);
            else value += text_[pos++];
        }
        tokens_.push_back({token_kind::string, std::move(value), start});
        return pos < text_.size() ? pos + 1 : pos;
    }

    // `digits` hex digits at `pos` as one code point; returns the position after them.
    std::size_t hex_escape(std::size_t pos, std::size_t digits, std::string& out) const {
        uint32_t cp = 0;
        for (std::size_t i = 0; i < digits; ++i) {
            int v = pos + i < text_.size() ? hex_value(text_[pos + i]) : -1;
            if (v < 0) {  // Python refuses the template; keep the text
                out += text_.substr(pos - 2, i + 2);
                return pos + i;
            }
            cp = cp * 16 + static_cast<uint32_t>(v);
        }
        append_utf8(out, cp);
        return pos + digits;
    }

    // One escape; `pos` is just after the backslash.
    std::size_t escape(std::size_t pos, std::string& out) const {
        constexpr std::string_view simple = "abfnrtv", decoded = "\a\b\f\n\r\t\v";
        char c = text_[pos];
        if (c == '\n') return pos + 1;  // line continuation
        if (c == '\\' || c == '\'' || c == '"') {
            out += c;
            return pos + 1;
        }
        if (std::size_t i = simple.find(c); i != std::string_view::npos) {
            out += decoded[i];
            return pos + 1;
        }
        if (c == 'x') return hex_escape(pos + 1, 2, out);
        if (c == 'u') return hex_escape(pos + 1, 4, out);
        if (c == 'U') return hex_escape(pos + 1, 8, out);
        if (c >= '0' && c <= '7') {
            uint32_t cp = 0;
            std::size_t end = pos;
            while (end < text_.size() && end < pos + 3 && text_[end] >= '0' && text_[end] <= '7')
                cp = cp * 8 + static_cast<uint32_t>(text_[end++] - '0');
            append_utf8(out, cp);
            return end;
        }
        if (c == 'N' && pos + 1 < text_.size() && text_[pos + 1] == '{') {
            std::size_t close = text_.find('}', pos + 2);
            if (close != std::string_view::npos) {
                append_utf8(out, named_character(std::string(text_.substr(pos + 2, close - pos - 2))));
                return close + 1;
            }
        }
        out += '\\';
        out += c;
        return pos + 1;
    }

    std::string_view text_;
    std::vector<token> tokens_;
    std::size_t no_endraw_after_ = std::string_view::npos;
};

constexpr std::string_view reason_dunder = "dunder name: reaches Python internals";
constexpr std::string_view reason_reaching = "names a module or function that runs code";
constexpr std::string_view reason_global = "template global whose attributes reach Python's globals";
constexpr std::string_view reason_string = "string spelling a dunder name used as an attribute name";
constexpr std::string_view reason_built = "attribute name built from pieces";
constexpr std::string_view reason_attr = "attr() with a name computed at render time";
constexpr std::string_view reason_chars = "format with %c builds characters from numbers";
constexpr std::string_view reason_loader = "statement loads another template";

// Names that lead to modules and functions that run code, wherever they appear.
constexpr std::string_view reaching_names[] = {
    "os", "sys", "subprocess", "popen", "system", "eval", "exec", "compile", "open", "import",
    "importlib", "import_module", "globals", "builtins", "getattr", "setattr",
};
// Globals of Jinja (cycler, joiner, lipsum), its template reference (self) and Flask (config,
// request...): free names whose attributes reach Python's globals.
constexpr std::string_view reaching_globals[] = {
    "cycler", "joiner", "lipsum", "self", "config", "request", "application", "url_for", "get_flashed_messages",
};
// Calls whose string arguments name attributes.
constexpr std::string_view attribute_callers[] = {
    "attr", "map", "selectattr", "rejectattr", "groupby", "sort", "sum", "unique", "min", "max", "getattr",
};

template <std::size_t N>
bool listed(const std::string_view (&list)[N], std::string_view value) {
    return std::find(std::begin(list), std::end(list), value) != std::end(list);
}


bool dunder(std::string_view name) { return name.size() > 4 && name.starts_with("__") && name.ends_with("__"); }

// A string that names a dunder attribute, alone or in a dotted path (map(attribute='__class__.__mro__')).
bool spells_dunder(std::string_view text) {
    for (std::size_t start = 0;;) {
        std::size_t dot = text.find('.', start);
        std::string_view part = text.substr(start, dot == std::string_view::npos ? dot : dot - start);
        if (dunder(part) && std::all_of(part.begin(), part.end(), name_char)) return true;
        if (dot == std::string_view::npos) return false;
        start = dot + 1;
    }
}

// Names the template binds itself: set and for targets, macro and call parameters, keyword arguments.
std::set<std::string> bound_names(const std::vector<token>& tokens) {
    std::set<std::string> bound;
    std::string_view statement;
    bool target = false;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        const token& t = tokens[i];
        if (t.kind == token_kind::end || t.statement) {
            statement = t.kind == token_kind::end ? std::string_view() : std::string_view(t.text);
            target = statement == "set" || statement == "for";
            continue;
        }
        if (is_op(t, "=") || (t.kind == token_kind::name && t.text == "in" && statement == "for")) target = false;
        if (t.kind != token_kind::name) continue;
        const token* next = i + 1 < tokens.size() ? &tokens[i + 1] : nullptr;
        bool assigned = next && is_op(*next, "=");
        bool parameter = (statement == "macro" || statement == "call") && next &&
                         (is_op(*next, ",") || is_op(*next, ")") || is_op(*next, "("));
        if (target || assigned || parameter) bound.insert(t.text);
    }
    return bound;
}

// The judgement of a template's code tokens, left to right.
class template_judge {
public:
    template_judge(const std::vector<token>& tokens, std::vector<template_issue>& issues)
        : tokens_(tokens), issues_(issues), bound_(bound_names(tokens)) {}

    void run() {
        for (std::size_t i = 0; i < tokens_.size(); ++i) {
            const token& t = tokens_[i];
            if (t.kind == token_kind::name) judge_name(i);
            fold_step(i);
            track_brackets(i);
            track_set(i);
        }
    }

private:
    // What a variable set to a string run holds: its value when every piece was known, and whether
    // a piece looked like part of a dunder.
    struct constant {
        std::string value;
        bool known = false;
        bool fragment = false;
    };
    struct bracket {
        char kind;             // '(' call or group, '[' subscript or list, '{' dict
        std::string callee;    // the name called, for '(' right after a name
    };
    // A run of string pieces joined by ~, +, * n, adjacency or grouping parentheses.
    struct fold {
        std::string value;
        std::string shown;      // the value with "{name}" for pieces that are not constants
        int pieces = 0;
        bool unknown = false;   // a piece whose value is not a constant
        bool fragment = false;  // a known piece that starts or ends with "__"
        bool expect = false;    // after a joining operator
        std::size_t at = 0, first = 0;
        std::string context;    // the innermost call or '[' around the run
    };

    const token* at(std::size_t i) const { return i < tokens_.size() ? &tokens_[i] : nullptr; }

    void issue(std::size_t position, std::string text, std::string_view reason) {
        issues_.push_back({position, std::move(text), reason});
    }

    void judge_name(std::size_t i) {
        const token& t = tokens_[i];
        if (dunder(t.text)) return issue(t.at, t.text, reason_dunder);
        if (t.statement && (t.text == "import" || t.text == "from" || t.text == "include" || t.text == "extends"))
            return issue(t.at, t.text, reason_loader);
        bool bound = bound_.contains(t.text);
        if (listed(reaching_names, t.text) && !bound) return issue(t.at, t.text, reason_reaching);
        if (listed(reaching_globals, t.text) && !t.attribute && !bound) return issue(t.at, t.text, reason_global);
        const token* before = i > 0 ? at(i - 1) : nullptr;
        const token* open = at(i + 1);
        if (t.text == "attr" && open && is_op(*open, "(")) {
            const token* argument = at(i + 2);
            const token* close = at(i + 3);
            if (!argument || argument->kind != token_kind::string || !close || !is_op(*close, ")"))
                issue(t.at, "attr", reason_attr);
        }
        if (t.text == "format" && before && (is_op(*before, "|") || is_op(*before, "."))) {
            const token* subject = i > 1 ? at(i - 2) : nullptr;
            if (subject && subject->kind == token_kind::string &&
                (subject->text.find("%c") != std::string::npos || subject->text.find(":c}") != std::string::npos))
                issue(subject->at, subject->text, reason_chars);
        }
    }

    std::string context() const {
        for (auto b = brackets_.rbegin(); b != brackets_.rend(); ++b) {
            if (b->kind == '[') return "[";
            if (b->kind == '(' && !b->callee.empty()) return b->callee;
            if (b->kind != '(') return {};
        }
        return {};
    }

    // Is token i a piece of a string run: a string, or a plain name that is not called or indexed?
    bool piece(std::size_t i) const {
        const token& t = tokens_[i];
        if (t.kind == token_kind::string) return true;
        if (t.kind != token_kind::name || t.attribute || t.statement) return false;
        const token* next = at(i + 1);
        return !next || !(is_op(*next, "(") || is_op(*next, ".") || is_op(*next, "[") || is_op(*next, "="));
    }

    // Attribute names are short: a run is followed only this far, so hostile runs stay small.
    static constexpr std::size_t max_fold_bytes = 1024;

    void append(std::string_view value, std::string_view shown) {
        if (fold_.value.size() + value.size() > max_fold_bytes || fold_.shown.size() + shown.size() > max_fold_bytes) {
            fold_.unknown = true;
            return;
        }
        fold_.value += value;
        fold_.shown += shown;
    }

    void add_piece(const constant& piece, std::string_view name) {
        append(piece.value, piece.known ? piece.value : "{" + std::string(name) + "}");
        ++fold_.pieces;
        fold_.unknown = fold_.unknown || !piece.known;
        fold_.fragment = fold_.fragment || piece.fragment ||
                         (piece.known && (piece.value.starts_with("__") || piece.value.ends_with("__")));
        fold_.expect = false;
    }

    void fold_step(std::size_t i) {
        const token& t = tokens_[i];
        if (piece(i)) {
            bool adjacent =
                fold_.pieces > 0 && t.kind == token_kind::string && tokens_[i - 1].kind == token_kind::string;
            if (!fold_.expect && !adjacent) {
                finish(i);
                fold_ = fold{};
                fold_.at = t.at;
                fold_.first = i;
                fold_.context = context();
            }
            auto found = constants_.find(t.text);
            if (t.kind == token_kind::string) add_piece({t.text, true, false}, {});
            else add_piece(found == constants_.end() ? constant{} : found->second, t.text);
            return;
        }
        if (fold_.pieces == 0) return;
        if (is_op(t, "~") || is_op(t, "+")) {
            fold_.expect = true;
        } else if (is_op(t, "*") && at(i + 1) && at(i + 1)->kind == token_kind::number && !fold_.expect) {
            repeat(tokens_[i - 1], at(i + 1)->text);
        } else if (t.kind == token_kind::number && i > 0 && is_op(tokens_[i - 1], "*")) {
            // consumed by the '*' before it
        } else if (!(is_op(t, "(") && !called(i)) && !(is_op(t, ")") && closes_group())) {
            finish(i);
        }
    }

    // '_' * 2: the last piece again, n - 1 more times (a few dozen at most: names are short).
    void repeat(const token& last, const std::string& count) {
        if (last.kind != token_kind::string) return;
        std::size_t n = 0;
        for (char c : count) n = digit(c) && n < 100 ? n * 10 + static_cast<std::size_t>(c - '0') : n;
        if (n > 32) fold_.unknown = true;
        for (std::size_t k = 1; k < std::min<std::size_t>(n, 32); ++k) append(last.text, last.text);
    }

    bool called(std::size_t i) const {
        const token* before = i > 0 ? at(i - 1) : nullptr;
        return before && (before->kind == token_kind::name || is_op(*before, ")") || is_op(*before, "]"));
    }
    bool closes_group() const {
        return !brackets_.empty() && brackets_.back().kind == '(' && brackets_.back().callee.empty();
    }

    void finish(std::size_t end) {
        if (fold_.pieces > 0) {
            // Attribute names are taken in subscripts and by attr() and its kind; elsewhere a string
            // is printed or compared, and only a whole dunder built from pieces is worth a look
            // ('__' + text + '__' is Markdown).
            bool named = fold_.context == "[" || listed(attribute_callers, fold_.context);
            if ((named || fold_.pieces > 1) && spells_dunder(fold_.value))
                issue(fold_.at, fold_.value, fold_.pieces > 1 ? reason_built : reason_string);
            else if (named && (fold_.fragment || (fold_.pieces > 1 && listed(reaching_names, fold_.value))))
                issue(fold_.at, fold_.shown, reason_built);
            // The variable holds the run when the run is the whole value; a piece of a dunder
            // anywhere in the value ('ssalc__'|reverse) taints it.
            if (set_target_ && fold_.first == set_value_ && tokens_[end].kind == token_kind::end)
                constants_[*set_target_] = {fold_.unknown ? std::string() : fold_.value, !fold_.unknown,
                                            fold_.fragment};
            else if (set_target_ && fold_.first >= set_value_ && fold_.fragment)
                constants_[*set_target_] = {{}, false, true};
        }
        fold_ = fold{};
    }

    void track_brackets(std::size_t i) {
        const token& t = tokens_[i];
        if (t.kind == token_kind::end) {
            brackets_.clear();
            return;
        }
        if (t.kind != token_kind::op) return;
        char c = t.text[0];
        if (c == '(' || c == '[' || c == '{') {
            bool call = c == '(' && called(i);
            bool named_call = call && tokens_[i - 1].kind == token_kind::name;
            brackets_.push_back({c, named_call ? tokens_[i - 1].text : std::string()});
        } else if ((c == ')' || c == ']' || c == '}') && !brackets_.empty()) {
            brackets_.pop_back();
        }
    }

    // {% set NAME = constant %} makes NAME a constant for the runs after it; any other set forgets it.
    void track_set(std::size_t i) {
        const token& t = tokens_[i];
        if (t.kind == token_kind::end) {
            set_target_.reset();
        } else if (t.statement && t.text == "set" && at(i + 1) && at(i + 1)->kind == token_kind::name && at(i + 2) &&
                   is_op(*at(i + 2), "=")) {
            set_target_ = at(i + 1)->text;
            set_value_ = i + 3;
            constants_.erase(*set_target_);
        }
    }

    const std::vector<token>& tokens_;
    std::vector<template_issue>& issues_;
    std::set<std::string> bound_;
    std::map<std::string, constant> constants_;
    std::vector<bracket> brackets_;
    fold fold_;
    std::optional<std::string> set_target_;
    std::size_t set_value_ = 0;
};

}  // namespace

std::vector<template_issue> chat_template_issues(std::string_view text) {
    std::vector<token> tokens = template_lexer(text).code_tokens();
    std::vector<template_issue> issues;
    template_judge(tokens, issues).run();
    std::stable_sort(issues.begin(), issues.end(),
                     [](const template_issue& a, const template_issue& b) { return a.position < b.position; });
    return issues;
}

}  // namespace stkit::detail
