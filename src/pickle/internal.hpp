// Internals of the pickle machine shared by its source files (not installed).
//
//   machine.cpp       the opcode loop: stack, marks, memo, frames, limits, events
//   torch_objects.cpp what the allowlisted callables, persistent ids and BUILDs make
//   whole_model.cpp   the objects of whole-model pickles (opaque classes, never called)
//   allowlist.cpp     the allowlist table, torch element types, protocol < 3 renames
//   compat_names.cpp  CPython's _compat_pickle tables
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "stkit/detail/cursor.hpp"
#include "stkit/pickle/allowlist.hpp"
#include "stkit/pickle/machine.hpp"

namespace stkit::pickle::detail {

struct module_rename {
    std::string_view from, to;
};
struct name_rename {
    std::string_view module, name, to_module, to_name;
};
extern const module_rename module_renames[];
extern const std::size_t module_rename_count;
extern const name_rename name_renames[];
extern const std::size_t name_rename_count;

// The allowlist row of a (Python 3) global, or nullptr.
struct allow_entry {
    std::string_view module;
    std::string_view name;
    allowed_global kind;
    torch_scalar element;  // storage classes and dtypes
};
[[nodiscard]] const allow_entry* find_allowed(std::string_view module, std::string_view name) noexcept;

// True when every node id in `run` (items, root, tensors, events) points at a node and every
// storage/tensor index is in range: what consumers may rely on. For fuzz targets and tests.
[[nodiscard]] bool run_is_consistent(const pickle_run& run) noexcept;

// The interpreter. One instance per run_pickle call.
class machine {
public:
    machine(std::span<const std::byte> data, const machine_options& options);

    // Runs to STOP. On error the partial state stays in `run`.
    [[nodiscard]] result<void> execute();

    pickle_run run;

private:
    // --- reading (machine.cpp) ---
    [[nodiscard]] result<std::span<const std::byte>> take(std::size_t count);
    [[nodiscard]] result<uint64_t> take_uint(std::size_t width);  // little-endian, 1..8 bytes
    [[nodiscard]] result<std::string_view> take_line();
    [[nodiscard]] result<node_id> add_tensor(tensor_ref&& tensor);
    [[nodiscard]] result<std::size_t> checked_length(uint64_t length);
    [[nodiscard]] result<void> dispatch(uint8_t opcode);

    // --- nodes, stack, memo (machine.cpp) ---
    [[nodiscard]] result<node_id> add(node&& value, uint64_t payload, uint32_t depth);
    [[nodiscard]] result<node_id> add_leaf(node_kind kind, uint64_t payload = 0);
    [[nodiscard]] result<node_id> add_integer(int64_t value);
    [[nodiscard]] result<node_id> add_text(node_kind kind, std::string text);
    [[nodiscard]] result<node_id> add_container(node_kind kind, std::vector<node_id> items);
    [[nodiscard]] result<void> grow(node_id target, std::span<const node_id> items);
    [[nodiscard]] result<void> push(node_id id);
    [[nodiscard]] result<node_id> pop();
    [[nodiscard]] result<node_id> top();
    [[nodiscard]] result<std::vector<node_id>> pop_mark();
    [[nodiscard]] std::size_t frame_base() const noexcept { return marks_.empty() ? 0 : marks_.back(); }
    [[nodiscard]] result<void> memo_put(uint64_t key, node_id id);
    [[nodiscard]] result<node_id> memo_get(uint64_t key);
    [[nodiscard]] result<void> charge(uint64_t bytes);

    // --- globals and calls (machine.cpp) ---
    [[nodiscard]] result<node_id> resolve_global(std::string_view module, std::string_view name);
    [[nodiscard]] result<void> reduce();
    [[nodiscard]] result<void> instantiate(node_id cls, node_id arguments, const char* what);
    [[nodiscard]] result<node_id> opaque_call(node_id callee, node_id arguments);
    void record(event_kind kind, node_id callee, node_id arguments);
    [[nodiscard]] error refusal(error_code code, std::string detail, std::string name = {}) const;
    [[nodiscard]] bool analysis() const noexcept { return options_.mode == machine_mode::analysis; }

    // --- torch constructs (torch_objects.cpp) ---
    // The node an allowlisted callable makes from `arguments`; a pk_call_refused error when the
    // arguments are not what torch passes.
    [[nodiscard]] result<node_id> call_allowed(node_id callee, node_id arguments);
    [[nodiscard]] result<node_id> rebuild_tensor(allowed_global kind, std::vector<node_id> arguments);
    [[nodiscard]] result<node_id> rebuild_parameter(allowed_global kind, std::vector<node_id> arguments);
    [[nodiscard]] result<node_id> persistent_load(node_id pid);
    [[nodiscard]] result<node_id> storage_from(node_id pid);
    [[nodiscard]] result<void> build(node_id target, node_id state);
    [[nodiscard]] const node* text_like(node_id id) const noexcept;

    // --- whole models (whole_model.cpp) ---
    [[nodiscard]] bool is_reconstructor(node_id callee) const noexcept;
    [[nodiscard]] bool is_opaque_class(node_id cls) const noexcept;
    [[nodiscard]] std::string class_name(node_id object) const;
    // copyreg._reconstructor(cls, builtins.object, None): protocols 0 and 1.
    [[nodiscard]] result<node_id> reconstruct(node_id arguments);
    // NEWOBJ cls (): protocol 2 and later.
    [[nodiscard]] result<node_id> new_object(node_id cls, node_id arguments);
    // The class of a legacy file's ('module', cls, source_file, source) persistent id, or no_node.
    [[nodiscard]] node_id legacy_module_class(node_id pid) const noexcept;
    // BUILD on an object: its __dict__, once.
    [[nodiscard]] result<void> build_object(node_id target, node_id state);
    [[nodiscard]] bool int_tuple(node_id id, std::vector<int64_t>& out) const;

    const machine_options& options_;
    stkit::detail::byte_cursor cursor_;
    std::size_t frame_end_ = 0;     // position where the current FRAME ends (0: none)
    uint64_t opcode_offset_ = 0;    // absolute offset of the opcode being run
    uint64_t allocated_ = 0;        // bytes charged against max_total_bytes
    bool stopped_ = false;          // STOP seen
    std::vector<node_id> stack_;
    std::vector<std::size_t> marks_;       // stack sizes at each MARK (the metastack)
    std::vector<node_id> memo_dense_;      // small memo keys, no_node when unset
    std::unordered_map<uint64_t, node_id> memo_sparse_;
    uint64_t memo_count_ = 0;
    std::vector<uint32_t> depth_;          // per node: containers nested inside it, itself included
    std::unordered_map<std::string, node_id> storage_by_key_;
};

}  // namespace stkit::pickle::detail
