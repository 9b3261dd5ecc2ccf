// The opcode loop of the pickle machine: every opcode of protocols 0–5 over a real stack, metastack
// (marks) and memo, as CPython's Lib/pickle.py _Unpickler runs them, minus the importing and
// calling. Operands are read through the bounded cursor, inside FRAME bounds.
#include <algorithm>
#include <bit>
#include <cstring>

#include "pickle/internal.hpp"
#include "pickle/opcodes.hpp"
#include "pickle/text.hpp"
#include "stkit/detail/checked.hpp"

namespace stkit::pickle {
namespace detail {
namespace {

// Memo keys below this live in a vector; larger ones (rare, hand-made) in a hash map.
constexpr uint64_t dense_memo_keys = uint64_t{1} << 20;

std::string_view as_text(std::span<const std::byte> bytes) noexcept {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

machine::machine(std::span<const std::byte> data, const machine_options& options)
    : options_(options), cursor_(data, options.base_offset, error_code::pk_truncated) {
    std::size_t guess = std::min<std::size_t>(data.size() / 4 + 16, std::size_t{1} << 22);
    run.nodes.reserve(guess);
    depth_.reserve(guess);
    stack_.reserve(64);
}

// ---------------------------------------------------------------------------------------------
// Reading

result<std::span<const std::byte>> machine::take(std::size_t count) {
    std::size_t position = cursor_.position();
    if (frame_end_ > position && count > frame_end_ - position)
        return make_error(error_code::pk_invalid_frame, "an opcode runs past the end of its frame",
                          cursor_.offset());
    return cursor_.take(count);
}

result<uint64_t> machine::take_uint(std::size_t width) {
    STKIT_TRY(auto bytes, take(width));
    uint64_t value = 0;
    for (std::size_t i = width; i-- > 0;) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
    return value;
}

result<std::string_view> machine::take_line() {
    auto rest = cursor_.rest();
    const auto* start = reinterpret_cast<const char*>(rest.data());
    const void* newline = std::memchr(start, '\n', rest.size());
    if (!newline)
        return make_error(error_code::pk_truncated, "no newline after a text operand",
                          cursor_.offset());
    auto length = static_cast<std::size_t>(static_cast<const char*>(newline) - start);
    if (length > options_.limits.max_string_bytes)
        return make_error(error_code::pk_string_limit,
                          "text operand of " + std::to_string(length) + " bytes", cursor_.offset());
    STKIT_TRY(auto line, take(length + 1));
    return as_text(line.first(length));
}

result<std::size_t> machine::checked_length(uint64_t length) {
    if (length > options_.limits.max_string_bytes)
        return make_error(error_code::pk_string_limit,
                          "operand of " + std::to_string(length) + " bytes", opcode_offset_);
    if (length > cursor_.remaining())
        return make_error(error_code::pk_truncated,
                          "operand of " + std::to_string(length) + " bytes, " +
                              std::to_string(cursor_.remaining()) + " remain",
                          cursor_.offset());
    return static_cast<std::size_t>(length);
}

// ---------------------------------------------------------------------------------------------
// Nodes, stack and memo

result<void> machine::charge(uint64_t bytes) {
    auto total = stkit::detail::checked_add(allocated_, bytes);
    if (!total || *total > options_.limits.max_total_bytes)
        return make_error(error_code::pk_allocation_limit,
                          "more than " + std::to_string(options_.limits.max_total_bytes) +
                              " bytes of objects",
                          opcode_offset_);
    allocated_ = *total;
    return {};
}

result<node_id> machine::add(node&& value, uint64_t payload, uint32_t depth) {
    if (depth > options_.limits.max_nesting)
        return make_error(error_code::pk_depth_limit,
                          "objects nested " + std::to_string(depth) + " deep", opcode_offset_);
    STKIT_TRY_VOID(charge(sizeof(node) + payload + value.items.size() * sizeof(node_id)));
    if (run.nodes.size() >= no_node)
        return make_error(error_code::pk_allocation_limit, "too many objects", opcode_offset_);
    value.offset = opcode_offset_;
    auto id = static_cast<node_id>(run.nodes.size());
    run.nodes.push_back(std::move(value));
    depth_.push_back(depth);
    return id;
}

result<node_id> machine::add_leaf(node_kind kind, uint64_t payload) {
    node value;
    value.kind = kind;
    return add(std::move(value), payload, 0);
}

result<node_id> machine::add_integer(int64_t number) {
    node value;
    value.kind = node_kind::integer;
    value.integer = number;
    return add(std::move(value), 0, 0);
}

result<node_id> machine::add_text(node_kind kind, std::string text) {
    node value;
    value.kind = kind;
    uint64_t payload = text.size();
    value.text = std::move(text);
    return add(std::move(value), payload, 0);
}

result<node_id> machine::add_container(node_kind kind, std::vector<node_id> items) {
    uint32_t depth = 0;
    for (node_id item : items) depth = std::max(depth, depth_[item]);
    node value;
    value.kind = kind;
    value.items = std::move(items);
    return add(std::move(value), 0, depth + 1);
}

result<void> machine::grow(node_id target, std::span<const node_id> items) {
    uint32_t depth = depth_[target];
    for (node_id item : items) depth = std::max(depth, depth_[item] + 1);
    if (depth > options_.limits.max_nesting)
        return make_error(error_code::pk_depth_limit,
                          "objects nested " + std::to_string(depth) + " deep", opcode_offset_);
    STKIT_TRY_VOID(charge(items.size() * sizeof(node_id)));
    depth_[target] = depth;
    auto& list = run.nodes[target].items;
    list.insert(list.end(), items.begin(), items.end());
    return {};
}

result<void> machine::push(node_id id) {
    if (stack_.size() + marks_.size() >= options_.limits.max_stack_depth)
        return make_error(error_code::pk_stack_limit,
                          "more than " + std::to_string(options_.limits.max_stack_depth) +
                              " stack items",
                          opcode_offset_);
    stack_.push_back(id);
    return {};
}

result<node_id> machine::pop() {
    if (stack_.size() <= frame_base())
        return make_error(error_code::pk_stack_underflow, "pop from an empty stack", opcode_offset_);
    node_id id = stack_.back();
    stack_.pop_back();
    return id;
}

result<node_id> machine::top() {
    if (stack_.size() <= frame_base())
        return make_error(error_code::pk_stack_underflow, "the stack is empty", opcode_offset_);
    return stack_.back();
}

result<std::vector<node_id>> machine::pop_mark() {
    if (marks_.empty())
        return make_error(error_code::pk_mark_missing, "no MARK on the stack", opcode_offset_);
    std::size_t base = marks_.back();
    marks_.pop_back();
    std::vector<node_id> items(stack_.begin() + static_cast<std::ptrdiff_t>(base), stack_.end());
    stack_.resize(base);
    return items;
}

result<void> machine::memo_put(uint64_t key, node_id id) {
    node_id* slot = nullptr;
    if (key < dense_memo_keys) {
        if (key >= memo_dense_.size()) {
            std::size_t size = std::max<std::size_t>(static_cast<std::size_t>(key) + 1,
                                                     memo_dense_.size() * 2);
            size = std::min<std::size_t>(size, dense_memo_keys);
            STKIT_TRY_VOID(charge((size - memo_dense_.size()) * sizeof(node_id)));
            memo_dense_.resize(size, no_node);
        }
        slot = &memo_dense_[static_cast<std::size_t>(key)];
    } else {
        auto found = memo_sparse_.find(key);
        if (found != memo_sparse_.end()) slot = &found->second;
    }
    if (!slot || *slot == no_node) {
        if (memo_count_ >= options_.limits.max_memo_entries)
            return make_error(error_code::pk_memo_limit,
                              "more than " + std::to_string(options_.limits.max_memo_entries) +
                                  " memo entries",
                              opcode_offset_);
        ++memo_count_;
        if (!slot) {
            STKIT_TRY_VOID(charge(64));
            slot = &memo_sparse_[key];
        }
    }
    *slot = id;
    return {};
}

result<node_id> machine::memo_get(uint64_t key) {
    node_id id = no_node;
    if (key < memo_dense_.size()) {
        id = memo_dense_[static_cast<std::size_t>(key)];
    } else if (key >= dense_memo_keys) {
        auto found = memo_sparse_.find(key);
        if (found != memo_sparse_.end()) id = found->second;
    }
    if (id == no_node)
        return make_error(error_code::pk_memo_missing, "memo key " + std::to_string(key),
                          opcode_offset_);
    return id;
}

// ---------------------------------------------------------------------------------------------
// Globals, calls and events

error machine::refusal(error_code code, std::string detail, std::string name) const {
    return make_error(code, std::move(detail), opcode_offset_, std::move(name));
}

void machine::record(event_kind kind, node_id callee, node_id arguments) {
    event seen{kind, {}, {}, opcode_offset_, callee, arguments};
    if (callee != no_node && run.nodes[callee].kind == node_kind::global) {
        seen.module = run.nodes[callee].text;
        seen.name = run.nodes[callee].name;
    }
    run.events.push_back(std::move(seen));
}

result<node_id> machine::resolve_global(std::string_view module, std::string_view name) {
    node value;
    value.kind = node_kind::global;
    if (run.protocol < 3) {
        auto renamed = python3_name(module, name);
        value.text = std::move(renamed.first);
        value.name = std::move(renamed.second);
    } else {
        value.text = module;
        value.name = name;
    }
    run.events.push_back({event_kind::import, value.text, value.name, opcode_offset_});
    allowed_global kind = classify_global(value.text, value.name);
    // A whole model names its classes: opaque references here, judged where they are used.
    if (kind == allowed_global::not_allowed && !analysis() && !options_.whole_model)
        return refusal(error_code::pk_global_refused, "not on the allowlist",
                       value.text + "." + value.name);
    value.integer = static_cast<int64_t>(kind);
    if (kind == allowed_global::torch_dtype) {
        value.kind = node_kind::torch_dtype;
        value.integer = static_cast<int64_t>(find_allowed(value.text, value.name)->element);
    }
    uint64_t payload = value.text.size() + value.name.size();
    return add(std::move(value), payload, 0);
}

result<node_id> machine::opaque_call(node_id callee, node_id arguments) {
    std::vector<node_id> items{callee};
    const node& args = run.nodes[arguments];
    if (args.kind == node_kind::tuple) items.insert(items.end(), args.items.begin(), args.items.end());
    else items.push_back(arguments);
    STKIT_TRY(node_id id, add_container(node_kind::call, std::move(items)));
    return id;
}

result<void> machine::reduce() {
    STKIT_TRY(node_id arguments, pop());
    STKIT_TRY(node_id callee, top());
    if (analysis()) record(event_kind::call, callee, arguments);
    const node& function = run.nodes[callee];  // valid until the next node is added
    bool allowed = function.kind == node_kind::global &&
                   function.integer != static_cast<int64_t>(allowed_global::not_allowed);
    if (!analysis() && options_.whole_model && is_reconstructor(callee)) {
        STKIT_TRY(node_id made, reconstruct(arguments));
        stack_.back() = made;
        return {};
    }
    if (allowed && run.nodes[arguments].kind == node_kind::tuple) {
        auto made = call_allowed(callee, arguments);
        if (made.ok()) {
            stack_.back() = *made;
            return {};
        }
        error_code failure = made.error().code;
        if (!analysis() || (failure != error_code::pk_call_refused &&
                            failure != error_code::pk_invalid_operand))
            return std::move(made).error();
    } else if (!analysis()) {
        std::string name = function.kind == node_kind::global ? function.text + "." + function.name
                                                              : std::string();
        return refusal(error_code::pk_call_refused,
                       allowed ? "arguments are not a tuple" : "calls something not callable here",
                       std::move(name));
    }
    STKIT_TRY(node_id made, opaque_call(callee, arguments));
    stack_.back() = made;
    return {};
}

result<void> machine::instantiate(node_id cls, node_id arguments, const char* what) {
    if (!analysis() && options_.whole_model && std::string_view(what) == "NEWOBJ") {
        STKIT_TRY(node_id made, new_object(cls, arguments));
        return push(made);
    }
    if (!analysis()) {
        const node& type = run.nodes[cls];
        std::string name = type.kind == node_kind::global ? type.text + "." + type.name : std::string();
        return refusal(error_code::pk_call_refused, std::string(what) + " creates an object",
                       std::move(name));
    }
    record(event_kind::instantiate, cls, arguments);
    STKIT_TRY(node_id made, opaque_call(cls, arguments));
    return push(made);
}

// ---------------------------------------------------------------------------------------------
// The loop

result<void> machine::execute() {
    const pickle_limits& limits = options_.limits;
    while (!stopped_) {
        if (cursor_.at_end())
            return make_error(error_code::pk_no_stop, "the data ends before STOP", cursor_.offset());
        if (run.opcode_count >= limits.max_opcodes)
            return make_error(error_code::pk_opcode_limit,
                              "more than " + std::to_string(limits.max_opcodes) + " opcodes",
                              cursor_.offset());
        opcode_offset_ = cursor_.offset();
        STKIT_TRY(auto code, take(1));
        STKIT_TRY_VOID(dispatch(static_cast<uint8_t>(code[0])));
        ++run.opcode_count;
    }
    run.end_offset = cursor_.offset();
    return {};
}

result<void> machine::dispatch(uint8_t code) {
    switch (code) {
        case MARK:
            if (stack_.size() + marks_.size() >= options_.limits.max_stack_depth)
                return make_error(error_code::pk_stack_limit, "too many MARKs", opcode_offset_);
            marks_.push_back(stack_.size());
            return {};
        case STOP: {
            STKIT_TRY(run.root, pop());
            stopped_ = true;
            return {};
        }
        case POP:
            if (stack_.size() > frame_base()) stack_.pop_back();
            else STKIT_TRY_VOID(pop_mark());
            return {};
        case POP_MARK: {
            STKIT_TRY_VOID(pop_mark());
            return {};
        }
        case DUP: {
            STKIT_TRY(node_id id, top());
            return push(id);
        }

        // Numbers.
        case FLOAT: {
            STKIT_TRY(auto line, take_line());
            auto value = parse_python_float(line);
            if (!value) return refusal(error_code::pk_invalid_operand, "FLOAT is not a number");
            node made;
            made.kind = node_kind::floating;
            made.floating = *value;
            STKIT_TRY(node_id id, add(std::move(made), 0, 0));
            return push(id);
        }
        case BINFLOAT: {
            STKIT_TRY(auto bytes, take(8));
            uint64_t bits = 0;
            for (std::byte b : bytes) bits = (bits << 8) | static_cast<uint8_t>(b);
            node made;
            made.kind = node_kind::floating;
            made.floating = std::bit_cast<double>(bits);
            STKIT_TRY(node_id id, add(std::move(made), 0, 0));
            return push(id);
        }
        case INT:
        case LONG: {
            STKIT_TRY(auto line, take_line());
            if (code == INT && (line == "00" || line == "01")) {
                node made;
                made.kind = node_kind::boolean;
                made.integer = line == "01";
                STKIT_TRY(node_id id, add(std::move(made), 0, 0));
                return push(id);
            }
            if (code == LONG && !line.empty() && line.back() == 'L') line.remove_suffix(1);
            auto value = parse_python_int(line);
            if (!value) return refusal(error_code::pk_invalid_operand, "not an integer literal");
            if (!value->big) {
                STKIT_TRY(node_id id, add_integer(value->value));
                return push(id);
            }
            STKIT_TRY(node_id id, add_text(node_kind::big_integer, std::move(value->bytes)));
            return push(id);
        }
        case BININT:
        case BININT1:
        case BININT2: {
            STKIT_TRY(uint64_t raw, take_uint(code == BININT ? 4 : code == BININT1 ? 1 : 2));
            int64_t value = code == BININT ? static_cast<int32_t>(static_cast<uint32_t>(raw))
                                           : static_cast<int64_t>(raw);
            STKIT_TRY(node_id id, add_integer(value));
            return push(id);
        }
        case LONG1:
        case LONG4: {
            STKIT_TRY(uint64_t length, take_uint(code == LONG1 ? 1 : 4));
            if (length >= 0x80000000u)
                return refusal(error_code::pk_invalid_operand, "LONG4 with a negative length");
            STKIT_TRY(std::size_t size, checked_length(length));
            STKIT_TRY_VOID(charge(size));
            STKIT_TRY(auto bytes, take(size));
            parsed_integer value = integer_from_bytes(as_text(bytes));
            if (!value.big) {
                STKIT_TRY(node_id id, add_integer(value.value));
                return push(id);
            }
            STKIT_TRY(node_id id, add_text(node_kind::big_integer, std::move(value.bytes)));
            return push(id);
        }
        case NONE:
        case NEWTRUE:
        case NEWFALSE: {
            node made;
            made.kind = code == NONE ? node_kind::none : node_kind::boolean;
            made.integer = code == NEWTRUE;
            STKIT_TRY(node_id id, add(std::move(made), 0, 0));
            return push(id);
        }

        // Strings and bytes.
        case STRING: {
            STKIT_TRY(auto line, take_line());
            if (line.size() < 2 || line.front() != line.back() ||
                (line.front() != '\'' && line.front() != '"'))
                return refusal(error_code::pk_invalid_string, "STRING argument is not quoted");
            auto decoded = escape_decode(line.substr(1, line.size() - 2));
            if (!decoded) return refusal(error_code::pk_invalid_string, "bad escape in STRING");
            // Python 3 decodes 8-bit strings to str (torch.load: encoding="utf-8").
            node_kind kind = valid_utf8(*decoded) ? node_kind::string : node_kind::bytes;
            STKIT_TRY(node_id id, add_text(kind, std::move(*decoded)));
            return push(id);
        }
        case UNICODE: {
            STKIT_TRY(auto line, take_line());
            auto decoded = raw_unicode_escape_decode(line);
            if (!decoded) return refusal(error_code::pk_invalid_string, "bad escape in UNICODE");
            STKIT_TRY(node_id id, add_text(node_kind::string, std::move(*decoded)));
            return push(id);
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
            STKIT_TRY(uint64_t length, take_uint(counted_length_width(code)));
            if (code == BINSTRING && length >= 0x80000000u)
                return refusal(error_code::pk_invalid_operand, "BINSTRING with a negative length");
            STKIT_TRY(std::size_t size, checked_length(length));
            STKIT_TRY_VOID(charge(size));
            STKIT_TRY(auto bytes, take(size));
            std::string_view text = as_text(bytes);
            node_kind kind = node_kind::bytes;
            if (code == BINUNICODE || code == SHORT_BINUNICODE || code == BINUNICODE8) {
                if (!valid_utf8(text))
                    return refusal(error_code::pk_invalid_string, "string is not UTF-8");
                kind = node_kind::string;
            } else if (code == BINSTRING || code == SHORT_BINSTRING) {
                kind = valid_utf8(text) ? node_kind::string : node_kind::bytes;
            }
            node made;
            made.kind = kind;
            made.text.assign(text);
            STKIT_TRY(node_id id, add(std::move(made), 0, 0));  // payload charged above
            return push(id);
        }

        // Containers.
        case EMPTY_TUPLE:
        case EMPTY_LIST:
        case EMPTY_DICT:
        case EMPTY_SET: {
            node_kind kind = code == EMPTY_TUPLE  ? node_kind::tuple
                             : code == EMPTY_LIST ? node_kind::list
                             : code == EMPTY_DICT ? node_kind::dict
                                                  : node_kind::set;
            STKIT_TRY(node_id id, add_container(kind, {}));
            return push(id);
        }
        case TUPLE:
        case LIST:
        case DICT:
        case FROZENSET: {
            STKIT_TRY(auto items, pop_mark());
            if (code == DICT && items.size() % 2)
                return refusal(error_code::pk_invalid_operand, "DICT with an odd number of items");
            node_kind kind = code == TUPLE  ? node_kind::tuple
                             : code == LIST ? node_kind::list
                             : code == DICT ? node_kind::dict
                                            : node_kind::frozenset;
            STKIT_TRY(node_id id, add_container(kind, std::move(items)));
            return push(id);
        }
        case TUPLE1:
        case TUPLE2:
        case TUPLE3: {
            std::size_t count = code - TUPLE1 + 1u;
            if (stack_.size() - frame_base() < count)
                return make_error(error_code::pk_stack_underflow, "TUPLE needs more items",
                                  opcode_offset_);
            std::vector<node_id> items(stack_.end() - static_cast<std::ptrdiff_t>(count), stack_.end());
            stack_.resize(stack_.size() - count);
            STKIT_TRY(node_id id, add_container(node_kind::tuple, std::move(items)));
            return push(id);
        }
        case APPEND:
        case APPENDS:
        case SETITEM:
        case SETITEMS:
        case ADDITEMS: {
            std::vector<node_id> items;
            if (code == APPEND) {
                STKIT_TRY(node_id value, pop());
                items.push_back(value);
            } else if (code == SETITEM) {
                STKIT_TRY(node_id value, pop());
                STKIT_TRY(node_id key, pop());
                items = {key, value};
            } else {
                STKIT_TRY(items, pop_mark());
            }
            STKIT_TRY(node_id target, top());
            node_kind want = code == APPEND || code == APPENDS ? node_kind::list
                             : code == ADDITEMS                ? node_kind::set
                                                               : node_kind::dict;
            if ((code == SETITEMS) && items.size() % 2)
                return refusal(error_code::pk_invalid_operand, "SETITEMS with an odd number of items");
            if (run.nodes[target].kind == want) return grow(target, items);
            // A dict or list subclass (a Lightning AttributeDict): its own method would run.
            if (run.nodes[target].kind == node_kind::object)
                return refusal(error_code::pk_call_refused,
                               "adds items to an instance of a class: its own method would run",
                               class_name(target));
            // Python would call the object's own append/extend/__setitem__/add: code, in
            // general. Analysis mode keeps going; the values are still nodes of their own.
            if (analysis() && run.nodes[target].kind == node_kind::call) return {};
            return refusal(error_code::pk_invalid_operand, "adds items to something of the wrong kind");
        }

        // Memo.
        case PUT:
        case BINPUT:
        case LONG_BINPUT:
        case MEMOIZE: {
            uint64_t key;
            if (code == PUT) {
                STKIT_TRY(auto line, take_line());
                auto parsed = parse_memo_key(line);
                if (!parsed) return refusal(error_code::pk_invalid_operand, "bad PUT key");
                key = *parsed;
            } else if (code == BINPUT || code == LONG_BINPUT) {
                STKIT_TRY(key, take_uint(code == BINPUT ? 1 : 4));
            } else {
                key = memo_count_;
            }
            STKIT_TRY(node_id value, top());
            return memo_put(key, value);
        }
        case GET:
        case BINGET:
        case LONG_BINGET: {
            uint64_t key;
            if (code == GET) {
                STKIT_TRY(auto line, take_line());
                auto parsed = parse_memo_key(line);
                if (!parsed) return refusal(error_code::pk_invalid_operand, "bad GET key");
                key = *parsed;
            } else {
                STKIT_TRY(key, take_uint(code == BINGET ? 1 : 4));
            }
            STKIT_TRY(node_id value, memo_get(key));
            return push(value);
        }

        // Globals, calls, objects.
        case GLOBAL:
        case INST: {
            STKIT_TRY(auto module, take_line());
            STKIT_TRY(auto name, take_line());
            if (!valid_utf8(module) || !valid_utf8(name))
                return refusal(error_code::pk_invalid_string, "global name is not UTF-8");
            STKIT_TRY(node_id global, resolve_global(module, name));
            if (code == GLOBAL) return push(global);
            STKIT_TRY(auto items, pop_mark());
            STKIT_TRY(node_id arguments, add_container(node_kind::tuple, std::move(items)));
            return instantiate(global, arguments, "INST");
        }
        case STACK_GLOBAL: {
            STKIT_TRY(node_id name, pop());
            STKIT_TRY(node_id module, pop());
            const node& module_node = run.nodes[module];
            const node& name_node = run.nodes[name];
            if (module_node.kind != node_kind::string || name_node.kind != node_kind::string)
                return refusal(error_code::pk_invalid_operand, "STACK_GLOBAL requires two str");
            std::string module_text = module_node.text, name_text = name_node.text;
            STKIT_TRY(node_id global, resolve_global(module_text, name_text));
            return push(global);
        }
        case REDUCE: return reduce();
        case OBJ: {
            STKIT_TRY(auto items, pop_mark());
            if (items.empty())
                return make_error(error_code::pk_stack_underflow, "OBJ without a class", opcode_offset_);
            node_id cls = items.front();
            items.erase(items.begin());
            STKIT_TRY(node_id arguments, add_container(node_kind::tuple, std::move(items)));
            return instantiate(cls, arguments, "OBJ");
        }
        case NEWOBJ:
        case NEWOBJ_EX: {
            node_id keywords = no_node;
            if (code == NEWOBJ_EX) {
                STKIT_TRY(keywords, pop());
            }
            STKIT_TRY(node_id arguments, pop());
            STKIT_TRY(node_id cls, pop());
            if (keywords != no_node && analysis()) {
                // The call node's items: the class, the positional tuple, the keywords dict.
                std::vector<node_id> items{arguments, keywords};
                STKIT_TRY(arguments, add_container(node_kind::tuple, std::move(items)));
            }
            return instantiate(cls, arguments, code == NEWOBJ ? "NEWOBJ" : "NEWOBJ_EX");
        }
        case BUILD: {
            STKIT_TRY(node_id state, pop());
            STKIT_TRY(node_id target, top());
            return build(target, state);
        }
        case PERSID:
        case BINPERSID: {
            node_id pid;
            if (code == PERSID) {
                STKIT_TRY(auto line, take_line());
                for (char c : line)
                    if (static_cast<uint8_t>(c) >= 0x80)
                        return refusal(error_code::pk_invalid_string, "PERSID is not ASCII");
                STKIT_TRY(pid, add_text(node_kind::string, std::string(line)));
            } else {
                STKIT_TRY(pid, pop());
            }
            STKIT_TRY(node_id loaded, persistent_load(pid));
            return push(loaded);
        }
        case EXT1:
        case EXT2:
        case EXT4: {
            std::size_t width = code == EXT1 ? 1 : code == EXT2 ? 2 : 4;
            STKIT_TRY(uint64_t raw, take_uint(width));
            int64_t extension = code == EXT4 ? static_cast<int32_t>(static_cast<uint32_t>(raw))
                                             : static_cast<int64_t>(raw);
            if (!analysis())
                return refusal(error_code::pk_extension_refused,
                               "extension code " + std::to_string(extension));
            // copyreg's extension registry maps the code to a global we cannot know.
            node made;
            made.kind = node_kind::global;
            made.text = "copyreg";
            made.name = "extension " + std::to_string(extension);
            uint64_t payload = made.name.size() + made.text.size();
            STKIT_TRY(node_id id, add(std::move(made), payload, 0));
            run.events.push_back({event_kind::extension, "copyreg", run.nodes[id].name, opcode_offset_, id});
            return push(id);
        }

        // Framing and protocol.
        case PROTO: {
            STKIT_TRY(uint64_t raw, take_uint(1));
            int protocol = static_cast<int>(raw);
            if (protocol > highest_protocol)
                return refusal(error_code::pk_invalid_protocol,
                               "protocol " + std::to_string(protocol));
            run.protocol = protocol;
            return {};
        }
        case FRAME: {
            if (frame_end_ > cursor_.position())
                return refusal(error_code::pk_invalid_frame, "a FRAME inside an unfinished frame");
            STKIT_TRY(uint64_t length, take_uint(8));
            if (length > cursor_.remaining())
                return refusal(error_code::pk_invalid_frame,
                               "FRAME of " + std::to_string(length) + " bytes, " +
                                   std::to_string(cursor_.remaining()) + " remain");
            frame_end_ = cursor_.position() + static_cast<std::size_t>(length);
            return {};
        }
        case NEXT_BUFFER:
            return refusal(error_code::pk_invalid_operand,
                           "NEXT_BUFFER refers to out-of-band data, and there is none");
        case READONLY_BUFFER: {
            STKIT_TRY_VOID(top());
            return {};
        }
        default:
            return refusal(error_code::pk_unknown_opcode, "opcode 0x" + [&] {
                const char* hex = "0123456789abcdef";
                return std::string{hex[code >> 4], hex[code & 15]};
            }());
    }
}

bool run_is_consistent(const pickle_run& run) noexcept {
    auto valid = [&](node_id id) { return id < run.nodes.size(); };
    auto valid_or_none = [&](node_id id) { return id == no_node || valid(id); };
    for (const node& value : run.nodes) {
        for (node_id item : value.items)
            if (!valid(item)) return false;
        if (value.kind == node_kind::storage && value.storage_index >= run.storages.size()) return false;
        if (value.kind == node_kind::tensor && value.tensor_index >= run.tensors.size()) return false;
        if (value.kind == node_kind::dict && value.items.size() % 2) return false;
        // An object: its class (a global), then at most the dict BUILD gave it.
        if (value.kind == node_kind::object &&
            (value.items.empty() || value.items.size() > 2 ||
             run.nodes[value.items[0]].kind != node_kind::global ||
             (value.items.size() == 2 && run.nodes[value.items[1]].kind != node_kind::dict)))
            return false;
    }
    for (const tensor_ref& tensor : run.tensors)
        if (!valid(tensor.storage) || run.nodes[tensor.storage].kind != node_kind::storage ||
            tensor.size.size() != tensor.stride.size())
            return false;
    for (const event& seen : run.events)
        if (!valid_or_none(seen.callee) || !valid_or_none(seen.arguments)) return false;
    return valid_or_none(run.root) && (run.stopped_by || valid(run.root));
}

}  // namespace detail

result<pickle_run> run_pickle(std::span<const std::byte> data, const machine_options& options) {
    detail::machine machine(data, options);
    auto outcome = machine.execute();
    if (outcome.ok()) return std::move(machine.run);
    if (options.mode == machine_mode::restricted || machine.run.opcode_count == 0)
        return std::move(outcome).error();
    machine.run.stopped_by = std::move(outcome).error();
    return std::move(machine.run);
}

}  // namespace stkit::pickle
