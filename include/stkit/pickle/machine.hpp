// stkit/pickle/machine.hpp — the restricted pickle machine.
//
// A pickle is a program for a stack machine. Python's unpickler *executes* it: GLOBAL imports any
// module, REDUCE calls anything. This machine parses every opcode of protocols 0–5 with a real stack
// and memo, but never imports or calls: a global is only a (module, name) pair, and a call is only
// understood when the callee is on the allowlist (stkit/pickle/allowlist.hpp), in which case the
// machine builds the typed node that torch would have built (a tensor, a storage reference, an
// OrderedDict...). No Python library parses pickle without executing it, hence this hand-written
// interpreter.
//
// Two modes:
//   restricted  (the converter) — the first global outside the allowlist, disallowed call, BUILD or
//               persistent id stops the run with an error naming the module, name and byte offset.
//   analysis    (the converter's report of a refusal, and tests) — nothing stops it but malformed
//               input or a limit: every import, call, instantiation, BUILD and extension is recorded
//               as an event, non-allowlisted globals become opaque nodes, and the events seen before
//               an error are kept.
// The scanner does not use this machine for imports: what every unpickler could import from
// arbitrary bytes is a different question, answered by stkit/pickle/reach.hpp without building
// values. It does ask it whether a pickle is a whole model (below), to judge the classes it names.
//
// Whole models (machine_options::whole_model, restricted mode). `torch.save(model)` pickles each
// nn.Module the way pickle pickles any plain object: a reference to its class (any module path,
// `__main__.Net` included), an instance made without running its code (NEWOBJ with no arguments,
// as protocol 2+ writes it, or `copyreg._reconstructor(cls, builtins.object, None)`, as protocols
// 0 and 1 do), then BUILD with its `__dict__`. In this mode a global outside the allowlist is
// accepted as an opaque reference, never resolved; exactly those two creation shapes make an
// `object` node (the class is a record, never called), BUILD gives it a dict state once, and every
// other use of such a global (REDUCE, NEWOBJ with arguments, NEWOBJ_EX, INST, OBJ, items added to
// the object) is still refused, naming it. Whether a global is on the dangerous list is for the
// caller to judge from the import events (stkit/scan/dangerous.hpp: dangerous_import).
//
// All sizes are bounded by `pickle_limits`; each limit has its own error code.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "stkit/error.hpp"

namespace stkit::pickle {

struct pickle_limits {
    uint64_t max_opcodes = 200'000'000;            // pk_opcode_limit
    uint64_t max_stack_depth = 1'000'000;          // pk_stack_limit (stack items, all marks)
    uint64_t max_memo_entries = 10'000'000;        // pk_memo_limit
    uint64_t max_string_bytes = uint64_t{1} << 31;  // pk_string_limit (one string/bytes operand)
    uint64_t max_total_bytes = uint64_t{8} << 30;  // pk_allocation_limit (all nodes and payloads)
    uint64_t max_nesting = 10'000;                 // pk_depth_limit (containers inside containers)
};

enum class machine_mode { restricted, analysis };

using node_id = uint32_t;
inline constexpr node_id no_node = 0xffffffffu;

enum class node_kind : uint8_t {
    none,
    boolean,
    integer,      // fits in int64
    big_integer,  // LONG/LONG1/LONG4 wider than 64 bits: kept as little-endian two's complement bytes
    floating,
    string,       // unicode (UTF-8); also protocol-0/1 8-bit strings that are valid UTF-8
                  // (Python 3 decodes them to str)
    bytes,        // bytes, bytearray, 8-bit strings that are not UTF-8
    tuple,
    list,
    dict,         // also collections.OrderedDict (ordered = true)
    set,
    frozenset,
    global,       // a global reference (module, name), allowlisted or (analysis mode) not
    call,         // analysis mode: result of calling / instantiating something not understood
    storage,      // torch storage from a persistent id
    tensor,       // torch tensor rebuilt by torch._utils._rebuild_tensor*
    torch_dtype,  // a torch dtype object such as torch.float16
    device,       // torch.device(...); text: "cpu", "cuda:0", ...
    persistent,   // analysis mode: a persistent id that is not a storage reference
    object,       // whole-model mode: an instance of an opaque class; items: the class (a global),
                  // then the state BUILD gave it (a dict), when it had one
};

// Torch element types as torch names them; converted to safetensors dtypes by convert/.
enum class torch_scalar : uint8_t {
    unknown, bool_, uint8, int8, int16, int32, int64, uint16, uint32, uint64, float16, bfloat16,
    float32, float64, complex32, complex64, complex128, float8_e4m3fn, float8_e5m2,
    float8_e4m3fnuz, float8_e5m2fnuz, qint8, quint8, qint32, quint4x2,
};
[[nodiscard]] std::string_view torch_scalar_name(torch_scalar type) noexcept;
// Bytes per element; 0 for unknown.
[[nodiscard]] unsigned torch_scalar_size(torch_scalar type) noexcept;

struct storage_ref {
    std::string key;       // record name in data/ (zip) or the key (legacy)
    torch_scalar element;  // from the storage class or the v3 dtype argument
    std::string location;  // "cpu", "cuda:0", ...
    uint64_t numel = 0;    // element count declared by the persistent id
    // Legacy files only: the persistent id named a view of storage `key` (view_metadata =
    // (view_key, view_offset, view_numel), in elements). Tensors over a view already have
    // view_offset added to their storage_offset, so they index `key` directly.
    std::string view_key;  // empty when the storage is not a view
    uint64_t view_offset = 0;
    uint64_t view_numel = 0;
};

struct tensor_ref {
    node_id storage = no_node;
    uint64_t storage_offset = 0;  // in elements, from the start of storage `key` (views resolved)
    std::vector<int64_t> size;
    std::vector<int64_t> stride;
    torch_scalar element = torch_scalar::unknown;
    bool requires_grad = false;
    bool parameter = false;       // wrapped by torch._utils._rebuild_parameter*
    std::string rebuild;          // the rebuild function's name ("_rebuild_tensor_v2")
};

struct node {
    node_kind kind = node_kind::none;
    bool ordered = false;         // dict: built by collections.OrderedDict
    int64_t integer = 0;          // boolean, integer; global: its allowed_global;
                                  // torch_dtype: its torch_scalar
    double floating = 0;
    std::string text;             // string, bytes payload, big_integer bytes; global: module
    std::string name;             // global: name
    std::vector<node_id> items;   // tuple, list, set: elements; dict: key, value, key, value...;
                                  // call: callee, then arguments
    uint64_t offset = 0;          // byte offset of the opcode that made this node
    uint32_t storage_index = 0;   // storage: index into pickle_run::storages
    uint32_t tensor_index = 0;    // tensor: index into pickle_run::tensors
};

// What analysis mode records. Restricted mode records imports only.
enum class event_kind : uint8_t {
    import,         // GLOBAL / STACK_GLOBAL / INST / OBJ resolved to (module, name)
    call,           // REDUCE of a callee (with its node id)
    instantiate,    // NEWOBJ / NEWOBJ_EX / INST / OBJ
    build,          // BUILD on something that is not plain data
    extension,      // EXT1 / EXT2 / EXT4
    persistent_id,  // PERSID / BINPERSID that is not a storage reference
};

struct event {
    event_kind kind;
    std::string module;  // after protocol < 3 renames (e.g. __builtin__ -> builtins)
    std::string name;
    uint64_t offset;     // absolute byte offset of the opcode
    node_id callee = no_node;
    node_id arguments = no_node;  // the argument tuple of a call, when known
};

struct pickle_run {
    std::vector<node> nodes;            // node ids index this
    node_id root = no_node;             // the object STOP returned
    std::vector<storage_ref> storages;
    std::vector<tensor_ref> tensors;
    std::vector<event> events;
    int protocol = 0;                   // from PROTO, or 0/1 when absent
    uint64_t end_offset = 0;            // absolute offset just past STOP
    uint64_t opcode_count = 0;
    std::optional<error> stopped_by;    // analysis mode: the error that ended the run early
};

struct machine_options {
    machine_mode mode = machine_mode::restricted;
    pickle_limits limits;
    uint64_t base_offset = 0;  // absolute offset of data[0], for messages
    // Accept the whole-model constructs described above (restricted mode; analysis mode accepts
    // everything anyway).
    bool whole_model = false;
    // Legacy torch files call persistent_load with ('storage', type, key, location, numel, view
    // metadata); zip files with ('storage', type, key, location, numel). Both are accepted.
};

// Runs one pickle from the start of `data` up to and including its STOP.
// Restricted mode errors: every pk_* code; pk_global_refused (name = "module.name") and friends
// carry the offset of the offending opcode. Analysis mode returns a pickle_run even on malformed
// input (stopped_by set) unless nothing at all could be read.
[[nodiscard]] result<pickle_run> run_pickle(std::span<const std::byte> data,
                                            const machine_options& options = {});

}  // namespace stkit::pickle
