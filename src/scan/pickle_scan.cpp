// Pickle streams: every pickle in the stream through the analysis machine, every event judged.
//
// The allowlist (stkit/pickle/allowlist.hpp) decides what is safe; the dangerous list only decides
// how bad an unknown global is. Anything the machine records that is not allowlisted is a finding,
// so an unknown import fails the scan (fail closed).
#include <set>
#include <utility>

#include "scan/internal.hpp"
#include "stkit/pickle/allowlist.hpp"
#include "stkit/pickle/machine.hpp"
#include "stkit/scan/dangerous.hpp"

namespace stkit::detail {
namespace {

// torch's legacy files hold five pickles back to back (magic number, protocol version, sys_info,
// the object, the storage keys) followed by raw storage bytes.
constexpr int legacy_pickle_count = 5;

struct pickle_place {
    const std::string& member;
    int index;
};

finding located(verdict severity, std::string category, std::string message, const pickle_place& at,
                uint64_t offset) {
    finding f;
    f.severity = severity;
    f.category = std::move(category);
    f.message = std::move(message);
    f.member = at.member;
    f.pickle_index = at.index;
    f.offset = offset;
    return f;
}

// TorchScript archives pickle instances of classes their code/ folder defines (__torch__.*) and
// use torch.jit._pickle helpers for typed lists; the TorchScript finding covers those.
bool torchscript_internal(std::string_view module) {
    return module.starts_with("__torch__") || module == "torch.jit._pickle";
}

void judge_import(scan_state& state, const pickle::event& e, const pickle_place& at) {
    if (pickle::classify_global(e.module, e.name) != pickle::allowed_global::not_allowed) return;
    if (state.torchscript && torchscript_internal(e.module)) return;
    std::string global = e.module + "." + e.name;
    finding f;
    if (auto danger = classify_dangerous(e.module, e.name)) {
        f = located(verdict::dangerous, std::string(danger_category_name(danger->category)),
                    "imports " + global + ": " + std::string(danger->reason), at, e.offset);
    } else {
        f = located(verdict::suspicious, "unknown-import",
                    "imports " + global + ", which is not on the allowlist", at, e.offset);
    }
    f.module = e.module;
    f.name = e.name;
    state.add(std::move(f));
}

// The bytes or string a nested deserializer was called with, when the machine kept them.
const pickle::node* first_bytes_argument(const pickle::pickle_run& run, pickle::node_id arguments) {
    if (arguments == pickle::no_node || arguments >= run.nodes.size()) return nullptr;
    const pickle::node& args = run.nodes[arguments];
    if (args.kind != pickle::node_kind::tuple || args.items.empty()) return nullptr;
    pickle::node_id first = args.items[0];
    if (first >= run.nodes.size()) return nullptr;
    const pickle::node& value = run.nodes[first];
    if (value.kind == pickle::node_kind::bytes || value.kind == pickle::node_kind::string) return &value;
    return nullptr;
}

void judge_call(scan_state& state, const pickle::pickle_run& run, const pickle::event& e,
                const pickle_place& at, unsigned depth) {
    if (!is_nested_deserializer(e.module, e.name)) return;
    const pickle::node* payload = first_bytes_argument(run, e.arguments);
    if (payload == nullptr) return;
    std::string nested = at.member + "!" + e.module + "." + e.name + "@" + std::to_string(e.offset) +
                         "[pickle " + std::to_string(at.index) + "]";
    state.add(located(verdict::dangerous, "nested-deserialization",
                      e.module + "." + e.name + " is called with " + std::to_string(payload->text.size()) +
                          " bytes; scanned as " + nested,
                      at, e.offset));
    // The payload lives in the run's nodes, which outlive this call.
    scan_buffer(state, as_bytes_of(payload->text), nested, depth + 1);
}

void judge_events(scan_state& state, const pickle::pickle_run& run, const pickle_place& at,
                  unsigned depth) {
    std::set<std::pair<std::string, std::string>> reported;  // one import finding per global
    for (const pickle::event& e : run.events) {
        switch (e.kind) {
            case pickle::event_kind::import:
                if (reported.emplace(e.module, e.name).second) judge_import(state, e, at);
                break;
            case pickle::event_kind::call: judge_call(state, run, e, at, depth); break;
            case pickle::event_kind::instantiate:
                if (e.module.empty())
                    state.add(located(verdict::suspicious, "instantiation",
                                      "instantiates an object whose class is not a known global", at,
                                      e.offset));
                break;
            case pickle::event_kind::build:
                if (state.torchscript && torchscript_internal(e.module)) break;
                state.add(located(verdict::suspicious, "build",
                                  "BUILD sets the state of a non-data object" +
                                      (e.module.empty() ? std::string() : " (" + e.module + "." + e.name + ")") +
                                      ", which calls its __setstate__",
                                  at, e.offset));
                break;
            case pickle::event_kind::extension:
                state.add(located(verdict::suspicious, "extension",
                                  "EXT opcode: a global through the copyreg extension registry", at,
                                  e.offset));
                break;
            case pickle::event_kind::persistent_id:
                state.add(located(verdict::suspicious, "persistent-id",
                                  "persistent id that is not a torch storage reference", at, e.offset));
                break;
        }
    }
}

}  // namespace

void scan_pickle_stream(scan_state& state, std::span<const std::byte> bytes, const std::string& member,
                        unsigned depth, bool multi_pickle_layout) {
    if (depth > state.options.max_depth) {
        state.add(located(verdict::suspicious, "limit",
                          std::string(error_message(error_code::scan_depth_limit)) + ": pickle not analysed",
                          {member, -1}, no_offset));
        return;
    }
    uint64_t offset = 0;
    for (int index = 0; offset < bytes.size(); ++index) {
        std::span<const std::byte> rest = bytes.subspan(offset);
        pickle_place at{member, index};
        if (index > 0) {
            if (multi_pickle_layout && index >= legacy_pickle_count) break;  // raw storage bytes
            if (!sniff_pickle(rest).is_pickle) {
                if (!multi_pickle_layout)
                    state.add(located(verdict::suspicious, "trailing-data",
                                      std::to_string(rest.size()) + " bytes after the last STOP", at, offset));
                break;
            }
            if (!multi_pickle_layout)
                state.add(located(verdict::dangerous, "evasion",
                                  "another pickle after STOP: loaders that read on run it, scanners "
                                  "that stop at the first STOP miss it",
                                  at, offset));
        }
        pickle::machine_options options;
        options.mode = pickle::machine_mode::analysis;
        options.base_offset = offset;
        options.limits.max_total_bytes = std::min(options.limits.max_total_bytes, state.options.max_total_bytes);
        auto run = pickle::run_pickle(rest, options);
        if (!run.ok()) {
            state.add(located(verdict::suspicious, "malformed-pickle",
                              "not readable as a pickle: " + run.error().to_string(), at, offset));
            return;
        }
        judge_events(state, *run, at, depth);
        if (run->stopped_by) {
            const error& why = *run->stopped_by;
            // Loaders may stop later than a scanner (or read differently): the unread tail is itself
            // a finding, and the globals seen before it have been judged above.
            state.add(located(verdict::suspicious, "malformed-pickle",
                              "analysis stopped: " + std::string(error_code_name(why.code)) + " (" +
                                  std::string(error_message(why.code)) +
                                  (why.detail.empty() ? "" : ": " + why.detail) +
                                  "); the rest of the stream was not analysed",
                              at, why.has_offset() ? why.offset : offset));
            return;
        }
        if (run->end_offset <= offset) return;  // no progress: never loop
        offset = run->end_offset;
    }
}

}  // namespace stkit::detail
