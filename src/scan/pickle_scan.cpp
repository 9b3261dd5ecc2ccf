// What an unpickler does with a buffer, judged: every import the reachability interpreter
// (stkit/pickle/reach.hpp) finds, in every reading and every pickle of the stream, becomes a
// finding unless the allowlist (stkit/pickle/allowlist.hpp) knows it; the dangerous list only
// decides how bad an unknown import is. Buffers that import nothing get no finding at all, so
// ordinary files stay quiet; anything that imports is at least suspicious (fail closed).
//
// Whole models (`torch.save(model)`) import their modules' classes, which runs those modules' code
// on loading: suspicious, never safe. When the restricted machine rebuilds a pickle as a whole
// model (stkit/pickle/machine.hpp, whole_model: only PyTorch's own object-creation shapes, nothing
// called) and none of its globals is on the dangerous list (first_dangerous_import, the
// converter's rule), its imports are reported as such, at `suspicious`, even those the dangerous
// list names for other uses (copyreg._reconstructor and builtins.object, which protocols 0 and 1
// create objects with; a `__main__` class, which is the loading program's own).
#include <algorithm>
#include <set>
#include <tuple>
#include <utility>

#include "scan/internal.hpp"
#include "stkit/pickle/allowlist.hpp"
#include "stkit/pickle/machine.hpp"
#include "stkit/pickle/reach.hpp"
#include "stkit/scan/dangerous.hpp"

namespace stkit::detail {
namespace {

// torch's legacy files hold five pickles back to back (magic number, protocol version, sys_info,
// the object, the storage keys) followed by raw storage bytes.
constexpr uint32_t legacy_pickle_count = 5;

finding located(verdict severity, std::string category, std::string message, const std::string& member,
                int pickle_index, uint64_t offset) {
    finding f;
    f.severity = severity;
    f.category = std::move(category);
    f.message = std::move(message);
    f.member = member;
    f.pickle_index = pickle_index;
    f.offset = offset;
    return f;
}

// TorchScript archives pickle instances of classes their code/ folder defines (__torch__.*) and
// use torch.jit._pickle helpers for typed lists; the TorchScript finding covers those.
bool torchscript_internal(std::string_view module) {
    return module.starts_with("__torch__") || module == "torch.jit._pickle";
}

// An import needs a valid module name (the interpreter checks that); a finding also needs a valid
// attribute name, so a text line that happens to follow a 'c' is not one. Modules that act when
// merely imported (a __main__, or anything on the dangerous list) count whatever the name: the
// import happens before the attribute lookup fails.
bool acts_on_import(std::string_view module) { return classify_dangerous(module, "").has_value(); }

bool judged_harmless(const scan_state& state, const pickle::reach_import& seen) {
    if (seen.extension || seen.computed) return false;
    if (!pickle::importable_module_name(seen.name) && !acts_on_import(seen.module)) return true;
    if (pickle::classify_global(seen.module, seen.name) != pickle::allowed_global::not_allowed) return true;
    return state.torchscript && torchscript_internal(seen.module);
}

std::string reading_note(const pickle::reach_import& seen) {
    std::string note;
    if (seen.reading == pickle::reach_reading::frame_buffered)
        note = "as the C unpickler reads a file without peek(): a frame's unread tail is skipped";
    if (seen.reused) note += std::string(note.empty() ? "" : "; ") + "as one Unpickler object reads pickle after pickle: its memo carries over";
    return note.empty() ? note : " (" + note + ")";
}

finding import_finding(const pickle::reach_import& seen, const std::string& member) {
    auto index = static_cast<int>(seen.pickle_index);
    std::string note = reading_note(seen);
    if (seen.extension) {
        finding f = located(seen.called ? verdict::dangerous : verdict::suspicious, "extension",
                            "EXT opcode (" + seen.name + "): the copyreg extension registry names a global, which is imported" +
                                std::string(seen.called ? " and called" : "") + note,
                            member, index, seen.offset);
        f.module = seen.module;  // "copyreg", name "extension N": the code, not what it stands for
        f.name = seen.name;
        return f;
    }
    if (seen.computed) {
        return located(verdict::dangerous, "evasion",
                       "STACK_GLOBAL with a module and name made by a call: the import is decided when the pickle runs" + note,
                       member, index, seen.offset);
    }
    std::string global = seen.name.empty() ? seen.module : seen.module + "." + seen.name;
    finding f;
    if (auto danger = classify_dangerous(seen.module, seen.name)) {
        f = located(verdict::dangerous, std::string(danger_category_name(danger->category)),
                    "imports " + global + ": " + std::string(danger->reason) + note, member, index, seen.offset);
    } else {
        f = located(verdict::suspicious, "unknown-import",
                    "imports " + global + ", which is not on the allowlist" + note, member, index, seen.offset);
    }
    f.module = seen.module;
    f.name = seen.name;
    return f;
}

using import_key = std::tuple<std::string, std::string, uint64_t>;  // module, name, offset

// The imports of every pickle of `run` (read sequentially, to its STOP) that the restricted machine
// accepts as a whole model without a dangerous global.
std::set<import_key> whole_model_imports(const scan_state& state, std::span<const std::byte> bytes,
                                         const pickle::reach_result& run) {
    // Only imports outside the allowlist are judged as a whole model's: a pickle without one (a
    // state_dict) needs no second run, which builds a node per value (70 MB and 120 ms for the
    // data.pkl of 20,000 tensors, where the reach analysis alone takes 11 ms).
    std::set<uint32_t> judged;  // pickles (by index) with such an import, read sequentially
    for (const pickle::reach_import& seen : run.imports)
        if (seen.reading == pickle::reach_reading::sequential && !seen.reused && !judged_harmless(state, seen))
            judged.insert(seen.pickle_index);
    std::set<import_key> accepted;
    for (const pickle::reach_pickle& p : run.pickles) {
        if (!p.stopped || p.reused || p.reading != pickle::reach_reading::sequential || p.start >= bytes.size() ||
            !judged.count(p.index))
            continue;
        pickle::machine_options options;
        options.whole_model = true;
        options.base_offset = p.start;
        options.limits.max_total_bytes = std::min(options.limits.max_total_bytes, state.options.max_total_bytes);
        auto model = pickle::run_pickle(bytes.subspan(static_cast<std::size_t>(p.start)), options);
        if (!model.ok() || first_dangerous_import(*model)) continue;
        bool objects = false;
        for (const pickle::node& value : model->nodes) objects = objects || value.kind == pickle::node_kind::object;
        if (!objects) continue;
        for (const pickle::event& seen : model->events)
            if (seen.kind == pickle::event_kind::import) accepted.emplace(seen.module, seen.name, seen.offset);
    }
    return accepted;
}

finding whole_model_finding(const pickle::reach_import& seen, const std::string& member) {
    std::string global = seen.module + "." + seen.name;
    bool helper = global == "copyreg._reconstructor" || global == "builtins.object";
    std::string what = helper
                           ? ", with which protocols 0 and 1 create a whole model's objects (used only that way here)"
                       : seen.module == "__main__"
                           ? ", a class of a whole model that loading takes from the program that loads it"
                           : ", a class of a whole model (or a value in a module's state): loading it runs the code "
                             "of " + seen.module;
    finding f = located(verdict::suspicious, "whole-model",
                        "imports " + global + what + "; `stkit convert` extracts the state_dict without it",
                        member, static_cast<int>(seen.pickle_index), seen.offset);
    f.module = seen.module;
    f.name = seen.name;
    return f;
}

std::string_view divergence_text(pickle::reach_divergence_kind kind) {
    switch (kind) {
        case pickle::reach_divergence_kind::operand_crosses_frame:
            return "an operand runs past the end of its FRAME: the C unpickler reads it one way from bytes and another "
                   "from a file without peek(), and pickle.py refuses it";
        case pickle::reach_divergence_kind::frame_inside_frame:
            return "a FRAME starts before the previous frame ends: unpicklers disagree on what follows";
        case pickle::reach_divergence_kind::stop_inside_frame:
            return "STOP before the end of its FRAME: loaders that read on start the next pickle at different bytes";
        case pickle::reach_divergence_kind::frame_past_end:
            return "a FRAME longer than the data: the C unpickler stops there, pickle.py (joblib) reads on";
    }
    return "unpicklers disagree on this stream";
}

class pickle_judge {
public:
    pickle_judge(scan_state& state, const std::string& member, unsigned depth, bool legacy_layout)
        : state_(state), member_(member), depth_(depth), legacy_(legacy_layout) {}

    void judge(const pickle::reach_result& run, std::set<import_key> whole_model) {
        whole_model_ = std::move(whole_model);
        judge_imports(run);
        judge_divergences(run);
        judge_nested(run);
        judge_staged(run);
        if (run.limit)
            state_.add(located(verdict::suspicious, "limit",
                               "pickle analysis stopped (" + std::string(error_code_name(run.limit->code)) +
                                   "): " + run.limit->to_string() + "; the rest could import anything",
                               member_, -1, run.limit->offset));
    }

private:
    // Is import `i` of `run` one that counts (not allowlisted)?
    [[nodiscard]] bool counts(const pickle::reach_import& seen) const { return !judged_harmless(state_, seen); }

    void judge_imports(const pickle::reach_result& run) {
        std::set<std::pair<std::string, std::string>> reported;
        std::set<uint32_t> hidden_pickles;  // pickles after a STOP that import something
        for (const pickle::reach_import& seen : run.imports) {
            if (!counts(seen)) continue;
            uint32_t expected = legacy_ ? legacy_pickle_count : 1;
            if (seen.pickle_index >= expected) hidden_pickles.insert(seen.pickle_index);
            if (!reported.emplace(seen.module, seen.name).second) continue;
            bool model = seen.reading == pickle::reach_reading::sequential && !seen.reused &&
                         whole_model_.count({seen.module, seen.name, seen.offset});
            state_.add(model ? whole_model_finding(seen, member_) : import_finding(seen, member_));
        }
        for (uint32_t index : hidden_pickles) {
            bool called = false;
            uint64_t offset = no_offset;
            for (const pickle::reach_import& seen : run.imports)
                if (seen.pickle_index == index && counts(seen)) {
                    called = called || seen.called;
                    offset = std::min(offset, seen.offset);
                }
            for (const pickle::reach_pickle& p : run.pickles)
                if (p.index == index) offset = std::min(offset, p.start);
            state_.add(located(called ? verdict::dangerous : verdict::suspicious, "evasion",
                               "pickle " + std::to_string(index) + " after a STOP imports" +
                                   std::string(called ? " and calls" : "") +
                                   ": loaders that read on run it, scanners that stop at the first STOP miss it",
                               member_, static_cast<int>(index), offset));
        }
    }

    void judge_divergences(const pickle::reach_result& run) {
        std::set<pickle::reach_divergence_kind> reported;
        for (const pickle::reach_divergence& d : run.divergences) {
            if (!reported.insert(d.kind).second) continue;
            // What one reading sees and another does not: imports past the divergence, and
            // everything the buffered reading found.
            bool imports = false, called = false;
            for (const pickle::reach_import& seen : run.imports) {
                bool hidden = seen.reading != pickle::reach_reading::sequential || seen.reused || seen.offset >= d.offset;
                if (!hidden || !counts(seen)) continue;
                imports = true;
                called = called || seen.called;
            }
            // A FRAME that runs past the data is what a truncated file looks like; it hides
            // something only when pickle.py would import past it.
            if (d.kind == pickle::reach_divergence_kind::frame_past_end && !imports) continue;
            state_.add(located(imports && called ? verdict::dangerous : verdict::suspicious, "evasion",
                               std::string(divergence_text(d.kind)) +
                                   (imports ? (called ? "; the hidden reading imports and calls"
                                                      : "; the hidden reading imports")
                                            : ""),
                               member_, static_cast<int>(d.pickle_index), d.offset));
        }
    }

    // pickle.loads(b'...'), torch.load(io.BytesIO(b'...')), marshal.loads(...): the argument is
    // decoded in turn.
    void judge_nested(const pickle::reach_result& run) {
        for (const pickle::reach_call& call : run.calls) {
            if (!call.first_text) continue;
            const pickle::reach_import& callee = run.imports[call.import_index];
            if (!is_nested_deserializer(callee.module, callee.name)) continue;
            std::string nested = member_ + "!" + callee.module + "." + callee.name + "@" + std::to_string(call.offset);
            state_.add(located(verdict::dangerous, "nested-deserialization",
                               callee.module + "." + callee.name + " is called with " +
                                   std::to_string(call.first_text->size()) + " bytes; scanned as " + nested,
                               member_, static_cast<int>(call.pickle_index), call.offset));
            nested_payloads_.insert(*call.first_text);
            scan_buffer(state_, as_bytes_of(*call.first_text), nested, depth_ + 1);
        }
    }

    // A str or bytes value that is itself a pickle with imports (raw, base64 or hex): a staged
    // payload, harmless until something decodes it, so suspicious, with what it would import.
    void judge_staged(const pickle::reach_result& run) {
        for (const pickle::reach_text& text : run.staged) {
            if (nested_payloads_.count(text.bytes)) continue;
            for (const std::string& form : pickle::staged_pickle_forms(text.bytes)) {
                pickle::reach_options strict;
                strict.python_leniency = false;  // what pickle.loads(value) would do
                strict.collect_staged = false;
                strict.limits.max_total_bytes = std::min<uint64_t>(strict.limits.max_total_bytes, form.size() * 16 + (1 << 20));
                pickle::reach_result inner = pickle::reach_analyse(as_bytes_of(form), strict);
                bool imports = false;
                for (const pickle::reach_import& seen : inner.imports) imports = imports || counts(seen);
                if (!imports) continue;
                std::string where = member_ + "!staged@" + std::to_string(text.offset);
                state_.add(located(verdict::suspicious, "staged-payload",
                                   "a " + std::to_string(text.bytes.size()) + "-byte value holds a pickle" +
                                       (form.size() == text.bytes.size() ? "" : " (encoded)") +
                                       " that imports when decoded; its findings are listed under " + where,
                                   member_, -1, text.offset));
                // Its own findings, held at suspicious: nothing runs them unless the pickle decodes it.
                file_report aside;
                scan_state inner_state{state_.options, aside, state_.bytes_used, state_.torchscript};
                scan_buffer(inner_state, as_bytes_of(form), where, depth_ + 1);
                state_.bytes_used = inner_state.bytes_used;
                for (finding& f : aside.findings) {
                    if (f.severity > verdict::suspicious) f.severity = verdict::suspicious;
                    state_.add(std::move(f));
                }
                break;
            }
        }
    }

    scan_state& state_;
    const std::string& member_;
    unsigned depth_;
    bool legacy_;
    std::set<std::string> nested_payloads_;
    std::set<import_key> whole_model_;
};

}  // namespace

bool scan_pickle_reach(scan_state& state, std::span<const std::byte> bytes, const std::string& member,
                       unsigned depth, bool legacy_layout) {
    if (depth > state.options.max_depth) {
        state.add(located(verdict::suspicious, "limit",
                          std::string(error_message(error_code::scan_depth_limit)) + ": pickle not analysed",
                          member, -1, no_offset));
        return false;
    }
    pickle::reach_options options;
    options.limits.max_total_bytes = std::min(options.limits.max_total_bytes, state.options.max_total_bytes);
    options.releasable = state.file_map;
    pickle::reach_result run = pickle::reach_analyse(bytes, options);
    pickle_judge(state, member, depth, legacy_layout)
        .judge(run, whole_model_imports(state, bytes, run));
    return run.looks_like_pickle(bytes.size());
}

}  // namespace stkit::detail
