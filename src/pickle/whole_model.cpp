// Whole-model pickles (machine_options::whole_model): the objects `torch.save(model)` writes for
// each nn.Module. Pickle saves a plain object as its class, an instance made without running the
// class's code, then its __dict__ (copyreg.__reduce_ex__ in CPython's Lib/copyreg.py, and
// object.__reduce_ex__ for protocol 2+). Exactly those shapes make an `object` node here; the class
// stays a (module, name) record that is never resolved, and every other use is refused.
#include "pickle/internal.hpp"

namespace stkit::pickle::detail {
namespace {

bool is_global(const node& value, std::string_view module, std::string_view name) noexcept {
    return value.kind == node_kind::global && value.text == module && value.name == name;
}

}  // namespace

bool machine::is_reconstructor(node_id callee) const noexcept {
    return is_global(run.nodes[callee], "copyreg", "_reconstructor");
}

// A global outside the allowlist that can stand for a class: not one of the creation helpers
// themselves, and not a copyreg extension code (whatever it stands for is unknown).
bool machine::is_opaque_class(node_id cls) const noexcept {
    const node& value = run.nodes[cls];
    return value.kind == node_kind::global &&
           value.integer == static_cast<int64_t>(allowed_global::not_allowed) &&
           !is_reconstructor(cls) && !is_global(value, "builtins", "object") &&
           value.text != "copyreg";
}

std::string machine::class_name(node_id object) const {
    const node& value = run.nodes[object];
    if (value.kind != node_kind::object || value.items.empty()) return {};
    const node& cls = run.nodes[value.items[0]];
    return cls.text + "." + cls.name;
}

result<node_id> machine::reconstruct(node_id arguments) {
    const node& args = run.nodes[arguments];
    // _reconstructor(cls, base, state) runs base.__init__(obj, state) unless base is object.
    if (args.kind != node_kind::tuple || args.items.size() != 3 ||
        !is_opaque_class(args.items[0]) || !is_global(run.nodes[args.items[1]], "builtins", "object") ||
        run.nodes[args.items[2]].kind != node_kind::none)
        return refusal(error_code::pk_call_refused,
                       "is called with something other than (a class, builtins.object, None)",
                       "copyreg._reconstructor");
    return add_container(node_kind::object, {args.items[0]});
}

result<node_id> machine::new_object(node_id cls, node_id arguments) {
    const node& type = run.nodes[cls];
    std::string name = type.kind == node_kind::global ? type.text + "." + type.name : std::string();
    if (!is_opaque_class(cls))
        return refusal(error_code::pk_call_refused, "NEWOBJ creates an object", std::move(name));
    // Arguments go to cls.__new__: a class of its own making (__getnewargs__), not a module.
    const node& args = run.nodes[arguments];
    if (args.kind != node_kind::tuple || !args.items.empty())
        return refusal(error_code::pk_call_refused, "NEWOBJ passes arguments to the class",
                       std::move(name));
    return add_container(node_kind::object, {cls});
}

node_id machine::legacy_module_class(node_id pid) const noexcept {
    // Legacy torch.save records each module class as ('module', cls, source_file, source), so
    // that loading can warn when the source changed; persistent_load returns cls.
    const node& id = run.nodes[pid];
    if (id.kind != node_kind::tuple || id.items.size() != 4) return no_node;
    const node* tag = text_like(id.items[0]);
    if (!tag || tag->text != "module" || !is_opaque_class(id.items[1])) return no_node;
    for (node_id text : {id.items[2], id.items[3]})
        if (!text_like(text) && run.nodes[text].kind != node_kind::none) return no_node;
    return id.items[1];
}

result<void> machine::build_object(node_id target, node_id state) {
    // BUILD calls the class's __setstate__ when it has one; a module's only restores __dict__,
    // which a second BUILD or a (dict, slots) pair would not be.
    if (run.nodes[target].items.size() != 1)
        return refusal(error_code::pk_build_refused, "a second BUILD on an object", class_name(target));
    if (run.nodes[state].kind != node_kind::dict)
        return refusal(error_code::pk_build_refused, "BUILD with a state that is not a dict",
                       class_name(target));
    const node_id items[] = {state};
    return grow(target, items);
}

}  // namespace stkit::pickle::detail
