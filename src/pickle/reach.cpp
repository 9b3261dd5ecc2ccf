// The reachability interpreter (stkit/pickle/reach.hpp): CPython's unpicklers, C and pure Python,
// opcode by opcode, over values that are only types, so that every import a loader could perform
// is seen and nothing is ever imported or called.
//
// Why by hand: no library runs a pickle without running it. The checks below are those of
// Modules/_pickle.c (3.11) and Lib/pickle.py; where the two differ, the one that goes on wins.
#include "stkit/pickle/reach.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "pickle/opcodes.hpp"
#include "pickle/text.hpp"
#include "stkit/file.hpp"
#include "stkit/pickle/allowlist.hpp"

namespace stkit::pickle {
namespace {

using namespace detail;  // opcodes, text operand decoding

// The type of a value on the stack or in the memo. Containers keep no items: no check of the
// unpickler depends on them, except a tuple's first item (REDUCE's argument to a deserializer).
enum class kind : uint8_t {
    none, boolean, integer, floating,
    str,        // unicode
    str8,       // STRING/BINSTRING: str or bytes depending on the loader's encoding
    bytes, bytearray, tuple, list, dict, set, frozenset,
    object,     // anything an import or a call produced: every operation on it may succeed
    unset,      // an empty memo slot
};

struct value {
    kind type = kind::unset;
    // str, str8, bytes, bytearray: index into texts_; tuple: 1 + index into firsts_ (0: no text
    // first item); object: 1 + index of the import it came from (0: none known).
    uint32_t ref = 0;
};
static_assert(sizeof(value) == 8);

bool textual(kind k) noexcept { return k == kind::str || k == kind::str8 || k == kind::bytes || k == kind::bytearray; }
bool unhashable(kind k) noexcept { return k == kind::list || k == kind::dict || k == kind::set || k == kind::bytearray; }
// `f(*args)` in the pure-Python unpickler takes any iterable; the C one only a tuple.
bool iterable(kind k) noexcept {
    return k != kind::none && k != kind::boolean && k != kind::integer && k != kind::floating;
}

constexpr uint64_t dense_memo_keys = uint64_t{1} << 22;
// A value of this many bytes or more is a candidate for a staged pickle.
constexpr std::size_t staged_min_size = 8;
// Divergences kept (each frame can add two); the first few say all there is to say.
constexpr std::size_t max_divergences = 1000;

// The unpickler's stack as a plain array: pushes are most of the work, and they stay inline.
class value_stack {
public:
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] const value* data() const noexcept { return items_.get(); }
    value& operator[](std::size_t index) noexcept { return items_[index]; }
    value& back() noexcept { return items_[size_ - 1]; }
    void push_back(value v) noexcept { items_[size_++] = v; }  // size() < capacity()
    void pop_back() noexcept { --size_; }
    void resize(std::size_t size) noexcept { size_ = std::min(size, size_); }  // shrinks only
    void clear() noexcept { size_ = 0; }
    void grow(std::size_t capacity) {
        auto fresh = std::make_unique<value[]>(capacity);
        std::copy(items_.get(), items_.get() + size_, fresh.get());
        items_ = std::move(fresh);
        capacity_ = capacity;
    }

private:
    std::unique_ptr<value[]> items_;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
};

struct load_outcome {
    reach_pickle record;
    uint64_t continue_at = 0;  // where a loader that reads on starts the next pickle (relative)
    bool irregular_frames = false;
    bool stop_inside_frame = false;
    uint64_t frame_end = 0;    // relative
    bool more = false;         // bytes remain for a next load by the same unpickler
};

class interpreter {
public:
    interpreter(std::span<const std::byte> data, const reach_options& options, reach_result& out)
        : data_(reinterpret_cast<const char*>(data.data())), size_(data.size()), options_(options), out_(out) {}

    // One load from `start` by a new unpickler, or (`reuse`) the next load of the unpickler that
    // ran the previous one: its memo and, reading frame-buffered, its buffer carry over.
    load_outcome load(std::size_t start, uint32_t index, reach_reading reading, bool reuse = false);
    [[nodiscard]] bool limit_reached() const noexcept { return out_.limit.has_value(); }

private:
    // --- reading ---
    // `count` bytes of operand; the common case (sequential, inside the data, not crossing a frame
    // end) stays inline, the rest is take_slow().
    const char* take(std::size_t count) {
        if (reading_ != reach_reading::frame_buffered && count <= size_ - pos_ &&
            (!in_frame_ || pos_ >= frame_end_ || count <= frame_end_ - pos_)) {
            const char* at = data_ + pos_;
            pos_ += count;
            return at;
        }
        return take_slow(count);
    }
    const char* take_slow(std::size_t count);
    // A text operand without its newline. `at_eof` is set when the pure-Python unpickler's
    // readline() would return the rest of the data without a newline (only outside frames).
    bool line(std::string_view& text, bool& at_eof);
    // The first '\n' in data_[from, to), or nullptr.
    const char* find_newline(std::size_t from, std::size_t to) const;
    bool frame();
    bool fail(error_code code) {
        if (failure_ == error_code::ok) failure_ = code;
        return false;
    }
    void diverge(reach_divergence_kind kind, std::size_t at);

    // --- state ---
    bool push(value v) {
        if (stack_.size() < stack_.capacity() && stack_.size() + marks_.size() < options_.limits.max_stack_depth) {
            stack_.push_back(v);
            return true;
        }
        return push_slow(v);
    }
    bool push_slow(value v);
    [[nodiscard]] std::size_t fence() const noexcept { return marks_.empty() ? 0 : marks_.back(); }
    bool pop(value& v) {
        if (stack_.size() <= fence()) return fail(error_code::pk_stack_underflow);
        v = stack_.back();
        stack_.pop_back();
        return true;
    }
    bool top(value*& v) {
        if (stack_.size() <= fence()) return fail(error_code::pk_stack_underflow);
        v = &stack_.back();
        return true;
    }
    bool pop_mark(std::size_t& mark);
    bool charge(uint64_t bytes);
    bool stack_room();
    bool push_text(kind type, std::string_view bytes, bool decoded);
    bool memo_put(uint64_t key, value v) {
        if (key < memo_dense_.size() && (memo_dense_[key].type != kind::unset || memo_count_ < options_.limits.max_memo_entries)) {
            memo_count_ += memo_dense_[key].type == kind::unset;
            memo_dense_[key] = v;
            return true;
        }
        return memo_put_slow(key, v);
    }
    bool memo_put_slow(uint64_t key, value v);
    bool memo_get(uint64_t key, value& v) {
        if (key < memo_dense_.size() && memo_dense_[key].type != kind::unset) {
            v = memo_dense_[key];
            return true;
        }
        return memo_get_slow(key, v);
    }
    bool memo_get_slow(uint64_t key, value& v);
    bool memo_key(uint8_t op, uint64_t& key);
    bool text_line(std::string_view& text);

    // --- imports and calls ---
    bool import_global(std::string_view module, std::string_view name, uint8_t op, value& made);
    uint32_t note_import(std::string module, std::string name, uint8_t op, bool extension, bool computed);
    void note_call(const value& callee, uint8_t op, const value* arguments = nullptr);
    bool container_op(uint8_t op, const value& target, std::span<const value> items);

    bool step(uint8_t op);

    const char* data_;
    std::size_t size_;
    const reach_options& options_;
    reach_result& out_;

    // Per load.
    reach_reading reading_ = reach_reading::sequential;
    bool reused_ = false;
    uint32_t index_ = 0;
    int protocol_ = 0;
    std::size_t pos_ = 0;
    std::size_t op_at_ = 0;        // the opcode being run
    std::size_t frame_end_ = 0;    // sequential: end of the last FRAME (0: none yet)
    bool in_frame_ = false;
    std::size_t buffer_end_ = 0;   // frame_buffered: end of what the unpickler holds in memory
    std::size_t file_pos_ = 0;     // frame_buffered: where the next read from the file starts
    bool irregular_ = false;
    error_code failure_ = error_code::ok;
    value_stack stack_;
    std::vector<std::size_t> marks_;
    std::vector<value> memo_dense_;
    std::unordered_map<uint64_t, value> memo_sparse_;
    uint64_t memo_count_ = 0;
    std::vector<std::string_view> texts_;
    std::deque<std::string> decoded_;
    std::vector<value> firsts_;

    // Over the whole analysis.
    uint64_t opcodes_ = 0;
    uint64_t allocated_ = 0;
    std::unordered_map<std::string, uint32_t> import_index_;
    std::unordered_set<uint64_t> staged_seen_;
    std::vector<bool> call_seen_;  // per import: its first call was recorded
    std::vector<bool> allowed_;    // per import: on the allowlist (its calls are what checkpoints do)
};

// ---------------------------------------------------------------------------------------------
// Reading

const char* interpreter::take_slow(std::size_t count) {
    if (reading_ != reach_reading::frame_buffered) {
        if (count > size_ - pos_) {
            fail(error_code::pk_truncated);
            return nullptr;
        }
        if (in_frame_ && pos_ < frame_end_ && count > frame_end_ - pos_)
            diverge(reach_divergence_kind::operand_crosses_frame, pos_);
        const char* at = data_ + pos_;
        pos_ += count;
        return at;
    }
    if (count <= buffer_end_ - pos_) {
        const char* at = data_ + pos_;
        pos_ += count;
        return at;
    }
    // _Unpickler_ReadImpl: what is left of the buffer is dropped; `count` bytes come from the file.
    if (count > size_ - file_pos_) {
        fail(error_code::pk_truncated);
        return nullptr;
    }
    pos_ = file_pos_;
    const char* at = data_ + pos_;
    pos_ += count;
    buffer_end_ = file_pos_ = pos_;
    return at;
}

const char* interpreter::find_newline(std::size_t from, std::size_t to) const {
    // In windows whose pages are released once searched, where the caller allows it.
    constexpr std::size_t window = std::size_t{8} << 20;
    const auto* releasable_begin = reinterpret_cast<const char*>(options_.releasable.data());
    const char* releasable_end = releasable_begin + options_.releasable.size();
    for (std::size_t at = from; at < to;) {
        std::size_t length = std::min(window, to - at);
        if (const void* newline = std::memchr(data_ + at, '\n', length)) return static_cast<const char*>(newline);
        if (to - from > window && data_ + at >= releasable_begin && data_ + at + length <= releasable_end)
            release_pages(std::as_bytes(std::span(data_ + at, length)));
        at += length;
    }
    return nullptr;
}

bool interpreter::line(std::string_view& text, bool& at_eof) {
    at_eof = false;
    if (reading_ != reach_reading::frame_buffered) {
        const char* newline = find_newline(pos_, size_);
        if (!newline) {
            // pickle.py's readline() returns the rest; its callers drop the last byte as if it
            // were the newline. Inside a frame it refuses instead.
            if (!options_.python_leniency || (in_frame_ && pos_ < frame_end_) || pos_ == size_)
                return fail(error_code::pk_truncated);
            text = std::string_view(data_ + pos_, size_ - pos_ - 1);
            pos_ = size_;
            at_eof = true;
            return true;
        }
        auto end = static_cast<std::size_t>(newline - data_);
        if (in_frame_ && pos_ < frame_end_ && end >= frame_end_)
            diverge(reach_divergence_kind::operand_crosses_frame, pos_);
        text = std::string_view(data_ + pos_, end - pos_);
        pos_ = end + 1;
        return true;
    }
    if (const char* newline = find_newline(pos_, buffer_end_)) {
        auto end = static_cast<std::size_t>(newline - data_);
        text = std::string_view(data_ + pos_, end - pos_);
        pos_ = end + 1;
        return true;
    }
    // The C unpickler's readline() from the file, after the buffer.
    const char* file_newline = find_newline(file_pos_, size_);
    if (!file_newline) return fail(error_code::pk_truncated);
    auto end = static_cast<std::size_t>(file_newline - data_);
    text = std::string_view(data_ + file_pos_, end - file_pos_);
    pos_ = buffer_end_ = file_pos_ = end + 1;
    return true;
}

bool interpreter::frame() {
    std::size_t opcode_at = op_at_;
    const char* raw = take(8);
    if (!raw) return false;
    uint64_t length = little_endian(raw, 8);
    if (reading_ != reach_reading::frame_buffered) {
        if (in_frame_ && opcode_at < frame_end_) diverge(reach_divergence_kind::frame_inside_frame, opcode_at);
        if (length > size_ - pos_) {
            // C needs the whole frame at once; pickle.py reads what there is and goes on.
            diverge(reach_divergence_kind::frame_past_end, opcode_at);
            if (!options_.python_leniency) return fail(error_code::pk_invalid_frame);
            frame_end_ = size_;
        } else {
            frame_end_ = pos_ + static_cast<std::size_t>(length);
        }
        in_frame_ = true;
        return true;
    }
    if (length <= buffer_end_ - pos_) return true;  // already in memory: the rewind changes nothing
    if (length > size_ - file_pos_) return fail(error_code::pk_invalid_frame);
    pos_ = file_pos_;
    buffer_end_ = file_pos_ = pos_ + static_cast<std::size_t>(length);
    return true;
}

void interpreter::diverge(reach_divergence_kind kind, std::size_t at) {
    irregular_ = true;
    if (reading_ == reach_reading::sequential && out_.divergences.size() < max_divergences)
        out_.divergences.push_back({kind, options_.base_offset + at, index_});
}

// ---------------------------------------------------------------------------------------------
// Stack, memo, values

bool interpreter::charge(uint64_t bytes) {
    if (bytes > options_.limits.max_total_bytes - std::min(allocated_, options_.limits.max_total_bytes)) {
        if (!out_.limit)
            out_.limit = make_error(error_code::pk_allocation_limit,
                                    "more than " + std::to_string(options_.limits.max_total_bytes) + " bytes of analysis state",
                                    options_.base_offset + op_at_);
        return fail(error_code::pk_allocation_limit);
    }
    allocated_ += bytes;
    return true;
}

bool interpreter::stack_room() {
    if (stack_.size() + marks_.size() < options_.limits.max_stack_depth) return true;
    if (!out_.limit)
        out_.limit = make_error(error_code::pk_stack_limit,
                                "more than " + std::to_string(options_.limits.max_stack_depth) + " stack items",
                                options_.base_offset + op_at_);
    return fail(error_code::pk_stack_limit);
}

bool interpreter::push_slow(value v) {
    if (!stack_room()) return false;
    if (stack_.size() == stack_.capacity()) {
        std::size_t capacity = std::max<std::size_t>(64, stack_.capacity() * 2);
        if (!charge((capacity - stack_.capacity()) * sizeof(value))) return false;
        stack_.grow(capacity);
    }
    stack_.push_back(v);
    return true;
}

bool interpreter::pop_mark(std::size_t& mark) {
    if (marks_.empty()) return fail(error_code::pk_mark_missing);
    mark = marks_.back();
    marks_.pop_back();
    return true;
}

bool interpreter::push_text(kind type, std::string_view bytes, bool decoded) {
    if (!charge(sizeof(std::string_view) + (decoded ? bytes.size() + 32 : 0))) return false;
    if (decoded) {
        decoded_.emplace_back(bytes);
        bytes = decoded_.back();
    }
    if (options_.collect_staged && bytes.size() >= staged_min_size && !staged_pickle_forms(bytes).empty() &&
        staged_seen_.insert(options_.base_offset + op_at_).second) {
        if (!charge(bytes.size() + 64)) return false;
        out_.staged.push_back({options_.base_offset + op_at_, std::string(bytes)});
    }
    texts_.push_back(bytes);
    return push({type, static_cast<uint32_t>(texts_.size() - 1)});
}

bool interpreter::memo_put_slow(uint64_t key, value v) {
    value* slot = nullptr;
    if (key < dense_memo_keys) {
        if (key >= memo_dense_.size()) {
            std::size_t size = std::min<std::size_t>(std::max<std::size_t>(key + 1, memo_dense_.size() * 2), dense_memo_keys);
            if (!charge((size - memo_dense_.size()) * sizeof(value))) return false;
            memo_dense_.resize(size);
        }
        slot = &memo_dense_[key];
    } else {
        auto found = memo_sparse_.find(key);
        if (found != memo_sparse_.end()) slot = &found->second;
    }
    if (!slot || slot->type == kind::unset) {
        if (memo_count_ >= options_.limits.max_memo_entries) {
            if (!out_.limit)
                out_.limit = make_error(error_code::pk_memo_limit,
                                        "more than " + std::to_string(options_.limits.max_memo_entries) + " memo entries",
                                        options_.base_offset + op_at_);
            return fail(error_code::pk_memo_limit);
        }
        ++memo_count_;
        if (!slot) {
            if (!charge(64)) return false;
            slot = &memo_sparse_[key];
        }
    }
    *slot = v;
    return true;
}

bool interpreter::memo_get_slow(uint64_t key, value& v) {
    if (key < memo_dense_.size()) v = memo_dense_[key];
    else if (key >= dense_memo_keys) {
        auto found = memo_sparse_.find(key);
        v = found == memo_sparse_.end() ? value{} : found->second;
    } else {
        v = {};
    }
    if (v.type == kind::unset) return fail(error_code::pk_memo_missing);
    return true;
}

// The key of PUT/GET: a decimal line, int() in both unpicklers, so signs, spaces and underscores
// pass; C stops at a NUL.
bool interpreter::memo_key(uint8_t op, uint64_t& key) {
    std::string_view text;
    if (!text_line(text)) return false;
    auto parsed = parse_python_int(text.substr(0, std::min(text.size(), text.find('\0'))));
    bool negative = parsed && (parsed->big ? (static_cast<uint8_t>(parsed->bytes.back()) & 0x80) != 0 : parsed->value < 0);
    if (!parsed || negative) return fail(op == PUT ? error_code::pk_invalid_operand : error_code::pk_memo_missing);
    key = parsed->big ? UINT64_MAX : static_cast<uint64_t>(parsed->value);  // pickle.py's memo takes any int
    return true;
}

// A text operand whose opcode cannot import: at the end of the data without a newline, the load
// ends there whichever unpickler reads it.
bool interpreter::text_line(std::string_view& text) {
    bool eof;
    return line(text, eof) && (!eof || fail(error_code::pk_truncated));
}

// ---------------------------------------------------------------------------------------------
// Imports and calls

uint32_t interpreter::note_import(std::string module, std::string name, uint8_t op, bool extension, bool computed) {
    std::string key = module;
    key += '\0';
    key += name;
    key += static_cast<char>(reading_);
    key += reused_ ? 'r' : 'n';
    auto found = import_index_.find(key);
    if (found != import_index_.end()) return found->second;
    if (!charge(key.size() * 3 + 128)) return UINT32_MAX;
    reach_import seen;
    seen.module = std::move(module);
    seen.name = std::move(name);
    seen.offset = options_.base_offset + op_at_;
    seen.pickle_index = index_;
    seen.reading = reading_;
    seen.reused = reused_;
    seen.opcode = op;
    seen.extension = extension;
    seen.computed = computed;
    allowed_.push_back(!extension && !computed &&
                       classify_global(seen.module, seen.name) != allowed_global::not_allowed);
    out_.imports.push_back(std::move(seen));
    call_seen_.push_back(false);
    auto id = static_cast<uint32_t>(out_.imports.size() - 1);
    import_index_.emplace(std::move(key), id);
    return id;
}

bool interpreter::import_global(std::string_view module, std::string_view name, uint8_t op, value& made) {
    std::string py3_module(module), py3_name(name);
    if (protocol_ < 3) std::tie(py3_module, py3_name) = python3_name(module, name);
    made = {kind::object, 0};
    if (!importable_module_name(py3_module)) return fail(error_code::pk_global_refused);  // ImportError
    uint32_t id = note_import(std::move(py3_module), std::move(py3_name), op, false, false);
    if (id == UINT32_MAX) return false;
    made.ref = id + 1;
    return true;
}

void interpreter::note_call(const value& callee, uint8_t op, const value* arguments) {
    if (callee.type != kind::object || callee.ref == 0) return;
    uint32_t id = callee.ref - 1;
    reach_import& origin = out_.imports[id];
    origin.called = true;
    bool text_argument = arguments && arguments->type == kind::tuple && arguments->ref != 0;
    if (allowed_[id] || (call_seen_[id] && !text_argument)) return;
    call_seen_[id] = true;
    reach_call call;
    call.offset = options_.base_offset + op_at_;
    call.import_index = id;
    call.pickle_index = index_;
    call.reading = reading_;
    call.opcode = op;
    if (text_argument) {
        std::string_view first = texts_[firsts_[arguments->ref - 1].ref];
        if (!charge(first.size() + 128)) return;
        call.first_text = std::string(first);
    } else if (!charge(128)) {
        return;
    }
    out_.calls.push_back(std::move(call));
}

// APPEND(S), SETITEM(S), ADDITEMS on `target` with `items` (values, or key-value pairs).
bool interpreter::container_op(uint8_t op, const value& target, std::span<const value> items) {
    if (target.type == kind::object) {  // its own append/extend/__setitem__/add: code
        note_call(target, op);
        return true;
    }
    switch (op) {
        case APPEND:
        case APPENDS:
            // list; bytearray has append and extend too.
            return target.type == kind::list || target.type == kind::bytearray || fail(error_code::pk_invalid_operand);
        case SETITEM:
        case SETITEMS:
            if (target.type != kind::dict && target.type != kind::list && target.type != kind::bytearray)
                return fail(error_code::pk_invalid_operand);
            for (std::size_t i = 0; target.type == kind::dict && i < items.size(); i += 2)
                if (unhashable(items[i].type)) return fail(error_code::pk_invalid_operand);
            return true;
        default:  // ADDITEMS
            if (target.type != kind::set) return fail(error_code::pk_invalid_operand);
            for (const value& item : items)
                if (unhashable(item.type)) return fail(error_code::pk_invalid_operand);
            return true;
    }
}

// ---------------------------------------------------------------------------------------------
// The opcodes

bool interpreter::step(uint8_t op) {
    switch (op) {
        case MARK:
            if (!stack_room()) return false;
            marks_.push_back(stack_.size());
            return true;
        case POP: {
            // A POP with nothing above the last MARK pops the MARK (both unpicklers).
            if (!marks_.empty() && marks_.back() == stack_.size()) {
                marks_.pop_back();
                return true;
            }
            value ignored;
            return pop(ignored);
        }
        case POP_MARK: {
            std::size_t mark;
            if (!pop_mark(mark)) return false;
            stack_.resize(mark);
            return true;
        }
        case DUP: {
            value* item;
            return top(item) && push(*item);
        }

        // Numbers and constants.
        case NONE: return push({kind::none});
        case NEWTRUE:
        case NEWFALSE: return push({kind::boolean});
        case INT:
        case LONG:
        case FLOAT: {
            std::string_view text;
            if (!text_line(text)) return false;
            bool accepted = op == INT ? int_line_accepted(text) : op == LONG ? long_line_accepted(text) : float_line_accepted(text);
            if (!accepted) return fail(error_code::pk_invalid_operand);
            return push({op == FLOAT ? kind::floating : kind::integer});
        }
        case BININT: return take(4) && push({kind::integer});
        case BININT1: return take(1) && push({kind::integer});
        case BININT2: return take(2) && push({kind::integer});
        case BINFLOAT: return take(8) && push({kind::floating});
        case LONG1:
        case LONG4: {
            const char* raw = take(op == LONG1 ? 1 : 4);
            if (!raw) return false;
            uint64_t length = little_endian(raw, op == LONG1 ? 1 : 4);
            if (length >= 0x80000000u) return fail(error_code::pk_invalid_operand);  // LONG4: negative count
            return take(static_cast<std::size_t>(length)) && push({kind::integer});
        }

        // Strings and bytes.
        case STRING: {
            std::string_view text;
            if (!text_line(text)) return false;
            if (text.size() < 2 || text.front() != text.back() || (text.front() != '\'' && text.front() != '"'))
                return fail(error_code::pk_invalid_string);
            auto decoded = escape_decode(text.substr(1, text.size() - 2));
            if (!decoded) return fail(error_code::pk_invalid_string);
            return push_text(kind::str8, *decoded, true);
        }
        case UNICODE: {
            std::string_view text;
            if (!text_line(text)) return false;
            auto decoded = raw_unicode_escape_decode(text);
            if (!decoded) return fail(error_code::pk_invalid_string);
            return push_text(kind::str, *decoded, true);
        }
        case BINSTRING:
        case SHORT_BINSTRING:
        case BINUNICODE:
        case SHORT_BINUNICODE:
        case BINUNICODE8:
        case BINBYTES:
        case SHORT_BINBYTES:
        case BINBYTES8:
        case BYTEARRAY8: {
            std::size_t width = counted_length_width(op);
            const char* raw = take(width);
            if (!raw) return false;
            uint64_t length = little_endian(raw, width);
            if (length > size_) return fail(error_code::pk_truncated);
            const char* bytes = take(static_cast<std::size_t>(length));
            if (!bytes) return false;
            std::string_view text(bytes, static_cast<std::size_t>(length));
            kind type = kind::bytes;
            if (op == BINUNICODE || op == SHORT_BINUNICODE || op == BINUNICODE8) {
                if (!valid_utf8(text)) return fail(error_code::pk_invalid_string);
                type = kind::str;
            } else if (op == BINSTRING || op == SHORT_BINSTRING) {
                type = kind::str8;
            } else if (op == BYTEARRAY8) {
                type = kind::bytearray;
            }
            return push_text(type, text, false);
        }

        // Containers.
        case EMPTY_TUPLE: return push({kind::tuple});
        case EMPTY_LIST: return push({kind::list});
        case EMPTY_DICT: return push({kind::dict});
        case EMPTY_SET: return push({kind::set});
        case TUPLE:
        case LIST:
        case DICT:
        case FROZENSET: {
            std::size_t mark;
            if (!pop_mark(mark)) return false;
            std::span<const value> items(stack_.data() + mark, stack_.size() - mark);
            value made{op == TUPLE ? kind::tuple : op == LIST ? kind::list : op == DICT ? kind::dict : kind::frozenset};
            if (op == DICT) {
                if (items.size() % 2) return fail(error_code::pk_invalid_operand);
                for (std::size_t i = 0; i < items.size(); i += 2)
                    if (unhashable(items[i].type)) return fail(error_code::pk_invalid_operand);
            } else if (op == FROZENSET) {
                for (const value& item : items)
                    if (unhashable(item.type)) return fail(error_code::pk_invalid_operand);
            } else if (op == TUPLE && !items.empty() && textual(items[0].type)) {
                if (!charge(sizeof(value))) return false;
                firsts_.push_back(items[0]);
                made.ref = static_cast<uint32_t>(firsts_.size());
            }
            stack_.resize(mark);
            return push(made);
        }
        case TUPLE1:
        case TUPLE2:
        case TUPLE3: {
            std::size_t count = op - TUPLE1 + 1u;
            std::size_t fence = this->fence();
            if (stack_.size() - fence < count) return fail(error_code::pk_stack_underflow);
            value first = stack_[stack_.size() - count];
            stack_.resize(stack_.size() - count);
            value made{kind::tuple};
            if (textual(first.type)) {
                if (!charge(sizeof(value))) return false;
                firsts_.push_back(first);
                made.ref = static_cast<uint32_t>(firsts_.size());
            }
            return push(made);
        }
        case APPEND:
        case SETITEM: {
            std::size_t count = op == APPEND ? 1 : 2;
            std::size_t fence = this->fence();
            if (stack_.size() - fence < count + 1) return fail(error_code::pk_stack_underflow);
            std::span<const value> items(stack_.data() + stack_.size() - count, count);
            if (!container_op(op, stack_[stack_.size() - count - 1], items)) return false;
            stack_.resize(stack_.size() - count);
            return true;
        }
        case APPENDS:
        case SETITEMS:
        case ADDITEMS: {
            std::size_t mark;
            if (!pop_mark(mark)) return false;
            std::size_t fence = this->fence();
            if (mark <= fence) return fail(error_code::pk_stack_underflow);  // no target below the MARK
            std::span<const value> items(stack_.data() + mark, stack_.size() - mark);
            if (items.empty()) return true;  // C returns before looking at the target
            if (op == SETITEMS && items.size() % 2) return fail(error_code::pk_invalid_operand);
            if (!container_op(op, stack_[mark - 1], items)) return false;
            stack_.resize(mark);
            return true;
        }

        // Memo.
        case BINPUT:
        case LONG_BINPUT: {  // the forms picklers write: one or four bytes of key
            std::size_t width = op == BINPUT ? 1 : 4;
            const char* raw = take(width);
            value* item;
            return raw && top(item) && memo_put(little_endian(raw, width), *item);
        }
        case PUT:
        case MEMOIZE: {
            uint64_t key = memo_count_;
            value* item;
            return (op == MEMOIZE || memo_key(op, key)) && top(item) && memo_put(key, *item);
        }
        case BINGET:
        case LONG_BINGET: {
            std::size_t width = op == BINGET ? 1 : 4;
            const char* raw = take(width);
            value found;
            return raw && memo_get(little_endian(raw, width), found) && push(found);
        }
        case GET: {
            uint64_t key = 0;
            value found;
            return memo_key(op, key) && memo_get(key, found) && push(found);
        }

        // Imports.
        case GLOBAL:
        case INST: {
            // C's INST looks for its MARK first; pickle.py imports first. Either way the import
            // happens when the MARK is there, and pickle.py imports even when it is not.
            if (op == INST && !options_.python_leniency && marks_.empty()) return fail(error_code::pk_mark_missing);
            std::string_view module, name;
            bool eof;
            if (!line(module, eof)) return false;
            if (!eof && !line(name, eof)) return false;
            bool ascii_only = op == INST;
            for (std::string_view part : {module, name}) {
                if (ascii_only) {
                    for (char c : part)
                        if (static_cast<uint8_t>(c) >= 0x80) return fail(error_code::pk_invalid_string);
                } else if (!valid_utf8(part)) {
                    return fail(error_code::pk_invalid_string);
                }
            }
            // C refuses an empty line before find_class; pickle.py imports the module, then fails
            // to look the name up.
            bool incomplete = name.empty() || eof;
            if (module.empty() || (incomplete && !options_.python_leniency)) return fail(error_code::pk_truncated);
            value made;
            if (!import_global(module, name, op, made)) return false;
            if (incomplete) return fail(error_code::pk_truncated);
            if (op == GLOBAL) return push(made);
            std::size_t mark;
            if (!pop_mark(mark)) return false;
            stack_.resize(mark);
            note_call(made, op);
            return push({kind::object, made.ref});
        }
        case STACK_GLOBAL: {
            value name, module;
            if (!pop(name) || !pop(module)) return false;
            auto names = [&](const value& v) { return v.type == kind::str || v.type == kind::str8 || v.type == kind::object; };
            if (!names(name) || !names(module)) return fail(error_code::pk_invalid_operand);
            if (name.type == kind::object || module.type == kind::object) {
                // A str made by a call: the names exist only when the pickle runs.
                uint32_t id = note_import({}, {}, op, false, true);
                if (id == UINT32_MAX) return false;
                return push({kind::object, id + 1});
            }
            std::string module_text(texts_[module.ref]), name_text(texts_[name.ref]);
            // An 8-bit string that is not UTF-8 becomes str only as Latin-1.
            for (std::string* text : {&module_text, &name_text}) {
                if (valid_utf8(*text)) continue;
                std::string latin1;
                for (char c : *text) append_utf8(latin1, static_cast<uint8_t>(c));
                *text = std::move(latin1);
            }
            value made;
            return import_global(module_text, name_text, op, made) && push(made);
        }
        case EXT1:
        case EXT2:
        case EXT4: {
            std::size_t width = op == EXT1 ? 1 : op == EXT2 ? 2 : 4;
            const char* raw = take(width);
            if (!raw) return false;
            uint64_t code = little_endian(raw, width);
            int64_t signed_code = op == EXT4 ? static_cast<int32_t>(static_cast<uint32_t>(code)) : static_cast<int64_t>(code);
            if (signed_code <= 0) return fail(error_code::pk_invalid_operand);
            uint32_t id = note_import("copyreg", "extension " + std::to_string(signed_code), op, true, false);
            if (id == UINT32_MAX) return false;
            return push({kind::object, id + 1});
        }

        // Calls.
        case REDUCE: {
            value arguments, *callee;
            if (!pop(arguments) || !top(callee)) return false;
            if (callee->type != kind::object || !iterable(arguments.type)) return fail(error_code::pk_call_refused);
            note_call(*callee, op, &arguments);
            *callee = {kind::object, callee->ref};
            return true;
        }
        case NEWOBJ:
        case NEWOBJ_EX: {
            value keywords{kind::dict}, arguments, cls;
            if (op == NEWOBJ_EX && !pop(keywords)) return false;
            if (!pop(arguments) || !pop(cls)) return false;
            if (cls.type != kind::object || !iterable(arguments.type) ||
                (keywords.type != kind::dict && keywords.type != kind::object))
                return fail(error_code::pk_call_refused);
            note_call(cls, op);
            return push({kind::object, cls.ref});
        }
        case OBJ: {
            std::size_t mark;
            if (!pop_mark(mark)) return false;
            if (stack_.size() - mark < 1) return fail(error_code::pk_stack_underflow);
            value cls = stack_[mark];
            if (cls.type != kind::object) return fail(error_code::pk_call_refused);
            stack_.resize(mark);
            note_call(cls, op);
            return push({kind::object, cls.ref});
        }
        case BUILD: {
            value state, *target;
            std::size_t fence = this->fence();
            if (stack_.size() - fence < 2) return fail(error_code::pk_stack_underflow);
            if (!pop(state) || !top(target)) return false;
            if (target->type == kind::object) {
                note_call(*target, op);  // its __setstate__, or attributes set on it
                return true;
            }
            // Data has no __setstate__ and no __dict__: only a None state (or a 2-tuple whose
            // halves are both empty) goes through.
            return state.type == kind::none || state.type == kind::tuple || state.type == kind::object ||
                   fail(error_code::pk_invalid_operand);
        }
        case PERSID:
        case BINPERSID: {
            // Plain pickle.load has no persistent_load and stops; torch.load's takes tuples; an
            // application's own may take anything, so the load goes on with whatever it returns.
            std::string_view text;
            value pid;
            if (op == PERSID ? !text_line(text) : !pop(pid)) return false;
            return push({kind::object, 0});
        }

        // Framing and buffers.
        case PROTO: {
            const char* raw = take(1);
            if (!raw) return false;
            auto protocol = static_cast<uint8_t>(raw[0]);
            if (protocol > highest_protocol) return fail(error_code::pk_invalid_protocol);
            protocol_ = protocol;
            return true;
        }
        case FRAME: return frame();
        case NEXT_BUFFER: return fail(error_code::pk_invalid_operand);  // no loader passes buffers
        case READONLY_BUFFER: {
            value* item;
            if (!top(item)) return false;
            return textual(item->type) || item->type == kind::object || fail(error_code::pk_invalid_operand);
        }
        default: return fail(error_code::pk_unknown_opcode);
    }
}

load_outcome interpreter::load(std::size_t start, uint32_t index, reach_reading reading, bool reuse) {
    reading_ = reading;
    reused_ = reuse;
    index_ = index;
    protocol_ = 0;
    // The C unpickler called again reads on from its own buffer (what it read of a frame and did
    // not use); otherwise the load starts at `start`.
    if (!reuse || reading != reach_reading::frame_buffered) pos_ = buffer_end_ = file_pos_ = start;
    frame_end_ = 0;
    in_frame_ = false;
    irregular_ = false;
    failure_ = error_code::ok;
    stack_.clear();
    marks_.clear();
    if (!reuse) {  // memo values refer to texts_ and firsts_: those go with it
        memo_dense_.clear();
        memo_sparse_.clear();
        memo_count_ = 0;
        texts_.clear();
        decoded_.clear();
        firsts_.clear();
    }

    load_outcome outcome;
    outcome.record.start = options_.base_offset + start;
    outcome.record.index = index;
    outcome.record.reading = reading;
    outcome.record.reused = reuse;
    uint64_t opcodes = 0;
    bool stopped = false;
    while (!stopped) {
        if (opcodes_ >= options_.limits.max_opcodes) {
            if (!out_.limit)
                out_.limit = make_error(error_code::pk_opcode_limit,
                                        "more than " + std::to_string(options_.limits.max_opcodes) + " opcodes",
                                        options_.base_offset + pos_);
            failure_ = error_code::pk_opcode_limit;
            break;
        }
        op_at_ = pos_;
        const char* code = take(1);
        if (!code) break;
        auto op = static_cast<uint8_t>(*code);
        op_at_ = static_cast<std::size_t>(code - data_);
        ++opcodes_;
        ++opcodes;
        if (op == STOP) {
            value root;
            if (!pop(root)) break;
            stopped = true;
            break;
        }
        if (!step(op)) break;
    }
    outcome.record.stopped = stopped;
    outcome.record.failure = stopped ? error_code::ok : failure_;
    outcome.record.protocol = protocol_;
    outcome.record.opcodes = opcodes;
    outcome.record.end = options_.base_offset + pos_;
    // The next pickle.load() of the same file starts where the file was left: after the STOP when
    // reading sequentially, after the whole frame when the frame was read into a buffer.
    outcome.continue_at = reading != reach_reading::frame_buffered ? pos_ : file_pos_;
    outcome.more = pos_ < size_ || (reading == reach_reading::frame_buffered && file_pos_ < size_);
    outcome.irregular_frames = irregular_;
    if (stopped && reading == reach_reading::sequential && in_frame_ && pos_ < frame_end_) {
        outcome.stop_inside_frame = true;
        outcome.frame_end = frame_end_;
        irregular_ = true;
        diverge(reach_divergence_kind::stop_inside_frame, pos_ - 1);
        outcome.irregular_frames = true;
    }
    return outcome;
}

// ---------------------------------------------------------------------------------------------
// Staged payloads

bool identifier_byte(uint8_t c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

// The first opcodes a pickler writes: PROTO, or a protocol 0/1 value or container.
bool pickler_opener(char first) noexcept {
    constexpr std::string_view openers = "\x80(])}ciNIFSVLJKMGTUXBC\x8c\x88\x89\x95";
    return openers.find(first) != std::string_view::npos;
}

// Starts as a pickler starts and has the opcodes some import needs: a GLOBAL/INST with its two
// lines, or STACK_GLOBAL, or EXT.
bool raw_import_shape(std::string_view text) noexcept {
    if (text.size() < staged_min_size || !pickler_opener(text.front())) return false;
    std::size_t newlines = 0;
    for (char c : text) {
        auto b = static_cast<uint8_t>(c);
        if (b == STACK_GLOBAL || b == EXT1 || b == EXT2 || b == EXT4) return true;
        newlines += c == '\n';
    }
    return newlines >= 2 && (text.find('c') != std::string_view::npos || text.find('i') != std::string_view::npos);
}

int base64_value(char c) noexcept {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

std::optional<std::string> base64_decode(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == '=')) text.remove_suffix(1);
    if (text.size() < 12 || text.size() % 4 == 1) return std::nullopt;
    // Most text is not base64 of a pickle: its first decoded byte says so before anything is built.
    int v0 = base64_value(text[0]), v1 = base64_value(text[1]);
    if (v0 < 0 || v1 < 0 || !pickler_opener(static_cast<char>((v0 << 2) | (v1 >> 4)))) return std::nullopt;
    std::string out;
    out.reserve(text.size() * 3 / 4);
    uint32_t accumulator = 0;
    int bits = 0;
    for (char c : text) {
        int v = base64_value(c);
        if (v < 0) return std::nullopt;
        accumulator = (accumulator << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((accumulator >> bits) & 0xff));
        }
    }
    return out;
}

std::optional<std::string> hex_decode(std::string_view text) {
    if (text.size() < 16 || text.size() % 2) return std::nullopt;
    auto digit = [](char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
        return -1;
    };
    if (digit(text[0]) < 0 || digit(text[1]) < 0 || !pickler_opener(static_cast<char>(digit(text[0]) * 16 + digit(text[1]))))
        return std::nullopt;
    std::string out;
    out.reserve(text.size() / 2);
    for (std::size_t i = 0; i < text.size(); i += 2) {
        int hi = digit(text[i]), lo = digit(text[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out.push_back(static_cast<char>(hi * 16 + lo));
    }
    return out;
}

}  // namespace

bool importable_module_name(std::string_view module) noexcept {
    if (module.empty()) return false;
    std::size_t component = 0;
    for (std::size_t i = 0; i <= module.size(); ++i) {
        if (i == module.size() || module[i] == '.') {
            if (component == 0) return false;
            component = 0;
            continue;
        }
        auto c = static_cast<uint8_t>(module[i]);
        if (!identifier_byte(c) || (component == 0 && c >= '0' && c <= '9')) return false;
        ++component;
    }
    return true;
}

std::vector<std::string> staged_pickle_forms(std::string_view text) {
    std::vector<std::string> forms;
    if (text.size() < staged_min_size) return forms;
    if (raw_import_shape(text)) forms.emplace_back(text);
    if (auto decoded = base64_decode(text); decoded && raw_import_shape(*decoded)) forms.push_back(std::move(*decoded));
    if (auto decoded = hex_decode(text); decoded && raw_import_shape(*decoded)) forms.push_back(std::move(*decoded));
    return forms;
}

bool reach_result::looks_like_pickle(uint64_t data_size) const noexcept {
    for (const reach_import& seen : imports)
        if (seen.computed || seen.extension || importable_module_name(seen.name)) return true;
    for (const reach_pickle& p : pickles)
        if (p.protocol >= 2 || (p.stopped && p.end == data_size && p.reading == reach_reading::sequential)) return true;
    return false;
}

reach_result reach_analyse(std::span<const std::byte> data, const reach_options& options) {
    reach_result out;
    interpreter machine(data, options, out);
    std::deque<std::pair<std::size_t, uint32_t>> pending{{0, 0}};
    std::unordered_set<std::size_t> started;
    while (!pending.empty() && !machine.limit_reached()) {
        auto [start, index] = pending.front();
        pending.pop_front();
        if (start >= data.size() || !started.insert(start).second) continue;
        load_outcome sequential = machine.load(start, index, reach_reading::sequential);
        out.pickles.push_back(sequential.record);
        if (!options.read_on) {
            if (!(options.frame_buffered && sequential.irregular_frames)) break;
        } else if (sequential.record.stopped) {
            pending.emplace_back(sequential.continue_at, index + 1);
            // pickle.py reads a whole frame before running it: it starts the next pickle after
            // the frame, not after the STOP.
            if (sequential.stop_inside_frame) pending.emplace_back(sequential.frame_end, index + 1);
        }
        if (options.frame_buffered && sequential.irregular_frames && !machine.limit_reached()) {
            load_outcome buffered = machine.load(start, index, reach_reading::frame_buffered);
            out.pickles.push_back(buffered.record);
            if (options.read_on && buffered.record.stopped) pending.emplace_back(buffered.continue_at, index + 1);
        }
        if (!options.read_on) break;
    }
    // The same stream read by one Unpickler object load after load: its memo carries over (a GET
    // in a later pickle finds what an earlier one stored), and the C one keeps its buffer. Three
    // such readers: C on bytes or a peek()-able file (on from the STOP), pickle.py (on from the
    // end of the frame it had read whole), C on a file without peek() (on from its buffer).
    std::size_t sequential_loads = 0;
    bool irregular = !out.divergences.empty();
    for (const reach_pickle& p : out.pickles) sequential_loads += p.reading == reach_reading::sequential;
    if (options.read_on && sequential_loads > 1) {
        auto reuse_chain = [&](reach_reading reading, bool after_frame) {
            std::size_t start = 0;
            for (uint32_t index = 0; !machine.limit_reached(); ++index) {
                load_outcome next = machine.load(start, index, reading, index > 0);
                if (index > 0) out.pickles.push_back(next.record);
                // Every load that stops has read its STOP, so each one starts further on.
                if (!next.record.stopped || !next.more) break;
                start = after_frame && next.stop_inside_frame ? next.frame_end : next.continue_at;
                if (start >= data.size() && reading == reach_reading::sequential) break;
            }
        };
        reuse_chain(reach_reading::sequential, false);
        if (irregular) {
            reuse_chain(reach_reading::sequential, true);
            if (options.frame_buffered) reuse_chain(reach_reading::frame_buffered, false);
        }
    }
    return out;
}

}  // namespace stkit::pickle
