// From the restricted machine's nodes to named tensors and listed non-tensor values.
// See stkit/convert/checkpoint.hpp for the structure rules.
#include <charconv>
#include <set>
#include <string>
#include <vector>

#include "convert/internal.hpp"
#include "stkit/pickle/allowlist.hpp"
#include "stkit/scan/dangerous.hpp"

namespace stkit::convert::detail {
namespace {

using pickle::node;
using pickle::node_id;
using pickle::node_kind;
using pickle::pickle_run;

constexpr unsigned max_walk_depth = 512;

std::string_view kind_name(node_kind kind) noexcept {
    switch (kind) {
        case node_kind::none: return "none";
        case node_kind::boolean: return "bool";
        case node_kind::integer:
        case node_kind::big_integer: return "int";
        case node_kind::floating: return "float";
        case node_kind::string: return "str";
        case node_kind::bytes: return "bytes";
        case node_kind::tuple: return "tuple";
        case node_kind::list: return "list";
        case node_kind::dict: return "dict";
        case node_kind::set: return "set";
        case node_kind::frozenset: return "frozenset";
        case node_kind::global: return "global";
        case node_kind::call: return "call";
        case node_kind::storage: return "storage";
        case node_kind::tensor: return "tensor";
        case node_kind::torch_dtype: return "torch.dtype";
        case node_kind::device: return "torch.device";
        case node_kind::persistent: return "persistent";
        case node_kind::object: return "object";
    }
    return "unknown";
}

std::string render(const node& value) {
    switch (value.kind) {
        case node_kind::none: return "None";
        case node_kind::boolean: return value.integer ? "True" : "False";
        case node_kind::integer: return std::to_string(value.integer);
        case node_kind::big_integer: return std::to_string(value.text.size()) + "-byte integer";
        case node_kind::floating: {
            char text[32];
            auto done = std::to_chars(text, text + sizeof text, value.floating);
            return std::string(text, done.ptr);
        }
        case node_kind::string:
            if (value.text.size() > 60) return "'" + value.text.substr(0, 57) + "...'";
            return "'" + value.text + "'";
        case node_kind::bytes: return std::to_string(value.text.size()) + " bytes";
        case node_kind::dict: return "dict of " + std::to_string(value.items.size() / 2) + " entries";
        case node_kind::tuple:
        case node_kind::list:
        case node_kind::set:
        case node_kind::frozenset:
            return std::string(kind_name(value.kind)) + " of " + std::to_string(value.items.size()) +
                   " items";
        case node_kind::global: return value.text + "." + value.name;
        default: return value.text.empty() ? std::string(kind_name(value.kind)) : value.text;
    }
}

bool is_container(node_kind kind) noexcept {
    return kind == node_kind::dict || kind == node_kind::list || kind == node_kind::tuple ||
           kind == node_kind::object;
}

// The value of a string key of a dict node, or no_node.
node_id dict_get(const pickle_run& run, const node& dict, std::string_view key) {
    for (std::size_t i = 0; i + 1 < dict.items.size(); i += 2) {
        const node& name = run.nodes[dict.items[i]];
        if (name.kind == node_kind::string && name.text == key) return dict.items[i + 1];
    }
    return pickle::no_node;
}

class walker {
public:
    walker(const pickle_run& run, const storage_resolver& resolve, checkpoint& out)
        : run_(run), resolve_(resolve), out_(out), state_(run.nodes.size(), 0) {}

    result<void> walk_root() {
        STKIT_TRY(const node* root, at(run_.root, 0));
        // torch.save(tensor) and torch.save([tensors]): the names a state dict would not have.
        if (root->kind == node_kind::tensor) return add_tensor(*root, "tensor");
        if (root->kind == node_kind::list || root->kind == node_kind::tuple ||
            root->kind == node_kind::object)
            return walk(run_.root, "", 0);
        if (root->kind != node_kind::dict)
            return make_error(error_code::cv_invalid_checkpoint,
                              "the pickled object is a " + std::string(kind_name(root->kind)) +
                                  ", not a dict of tensors, a tensor, a list of tensors or a model",
                              root->offset);
        node_id nested = no_state_dict();
        if (nested == pickle::no_node) return walk(run_.root, "", 0);
        out_.unwrapped = "state_dict";
        for (std::size_t i = 0; i + 1 < root->items.size(); i += 2) {
            if (root->items[i + 1] == nested) continue;
            STKIT_TRY(std::string key, key_text(root->items[i], ""));
            STKIT_TRY(const node* value, at(root->items[i + 1], 0));
            STKIT_TRY(bool tensors, holds_tensors(root->items[i + 1], 0));
            out_.others.push_back({key, std::string(kind_name(value->kind)),
                                   tensors ? render(*value) + ", holds tensors, not converted"
                                           : render(*value)});
        }
        return walk(nested, "", 0);
    }

    // The model's classes, sorted: what a user needs to rebuild it.
    [[nodiscard]] std::vector<std::string> classes() const { return {classes_.begin(), classes_.end()}; }

private:
    result<const node*> at(node_id id, uint64_t offset) const {
        if (id >= run_.nodes.size())
            return make_error(error_code::cv_invalid_checkpoint, "dangling node", offset);
        return &run_.nodes[id];
    }

    // The value of a top-level "state_dict" entry when it is a dict, else no_node.
    node_id no_state_dict() const {
        const node& root = run_.nodes[run_.root];
        for (std::size_t i = 0; i + 1 < root.items.size(); i += 2) {
            node_id key = root.items[i], value = root.items[i + 1];
            if (key < run_.nodes.size() && value < run_.nodes.size() &&
                run_.nodes[key].kind == node_kind::string && run_.nodes[key].text == "state_dict" &&
                run_.nodes[value].kind == node_kind::dict)
                return value;
        }
        return pickle::no_node;
    }

    result<std::string> key_text(node_id id, const std::string& path) const {
        STKIT_TRY(const node* key, at(id, 0));
        if (key->kind == node_kind::string) return key->text;
        if (key->kind == node_kind::integer) return std::to_string(key->integer);
        return error{error_code::cv_invalid_checkpoint,
                     "a dict key holding tensors is a " + std::string(kind_name(key->kind)) +
                         ", not a string",
                     key->offset, path, {}};
    }

    static std::string join(const std::string& path, const std::string& key) {
        return path.empty() ? key : path + "." + key;
    }

    // Whether a container holds a tensor at any depth. Memoised; a node being visited (a cycle)
    // counts as holding none, which is what it adds.
    result<bool> holds_tensors(node_id id, unsigned depth) {
        STKIT_TRY(const node* value, at(id, 0));
        if (value->kind == node_kind::tensor) return true;
        if (!is_container(value->kind)) return false;
        if (state_[id] != 0) return state_[id] == 3;
        if (depth > max_walk_depth)
            return make_error(error_code::cv_invalid_checkpoint, "containers nested too deeply",
                              value->offset);
        state_[id] = 1;
        bool found = false;
        for (std::size_t i = 0; i < value->items.size() && !found; ++i) {
            if (value->kind == node_kind::dict && i % 2 == 0) continue;
            STKIT_TRY(found, holds_tensors(value->items[i], depth + 1));
        }
        state_[id] = found ? 3 : 2;
        return found;
    }

    result<void> walk(node_id id, const std::string& path, unsigned depth) {
        STKIT_TRY(const node* value, at(id, 0));
        if (value->kind == node_kind::tensor) return add_tensor(*value, path);
        if (value->kind == node_kind::object) return walk_object(id, path, depth);
        STKIT_TRY(bool tensors, holds_tensors(id, depth));
        if (!tensors) {
            if (path.empty()) return {};  // an empty root; cv_no_tensors follows
            out_.others.push_back({path, std::string(kind_name(value->kind)), render(*value)});
            return {};
        }
        if (depth > max_walk_depth || walking_.size() > max_walk_depth)
            return make_error(error_code::cv_invalid_checkpoint, "containers nested too deeply",
                              value->offset, path);
        for (node_id open : walking_)
            if (open == id)
                return make_error(error_code::cv_invalid_checkpoint, "a container holds itself",
                                  value->offset, path);
        walking_.push_back(id);
        if (value->kind == node_kind::dict) {
            for (std::size_t i = 0; i + 1 < value->items.size(); i += 2) {
                STKIT_TRY(std::string key, key_text(value->items[i], path));
                STKIT_TRY_VOID(walk(value->items[i + 1], join(path, key), depth + 1));
            }
        } else {
            for (std::size_t i = 0; i < value->items.size(); ++i)
                STKIT_TRY_VOID(walk(value->items[i], join(path, std::to_string(i)), depth + 1));
        }
        walking_.pop_back();
        return {};
    }

    // A module's state as pickled from its __dict__: dicts _parameters, _buffers and _modules.
    struct module_state {
        const node* dict = nullptr;
        node_id parameters = pickle::no_node, buffers = pickle::no_node, modules = pickle::no_node;
    };
    std::optional<module_state> module_of(const node& object) const {
        if (object.kind != node_kind::object || object.items.size() < 2) return std::nullopt;
        module_state out;
        out.dict = &run_.nodes[object.items[1]];
        out.parameters = dict_get(run_, *out.dict, "_parameters");
        out.buffers = dict_get(run_, *out.dict, "_buffers");
        out.modules = dict_get(run_, *out.dict, "_modules");
        for (node_id member : {out.parameters, out.buffers, out.modules})
            if (member == pickle::no_node || run_.nodes[member].kind != node_kind::dict) return std::nullopt;
        return out;
    }

    std::string class_of(const node& object) const {
        const node& cls = run_.nodes[object.items[0]];
        return cls.text + "." + cls.name;
    }

    // A whole model's module: exactly what Module.state_dict() gathers (torch/nn/modules/module.py
    // _save_to_state_dict, then each child under "name."): parameters that are not None, then
    // buffers that are not None and not in _non_persistent_buffers_set, then the submodules, in
    // their dicts' order. Other attributes are not state and are not listed. An object that is not
    // a module is listed as a value that is not converted.
    result<void> walk_object(node_id id, const std::string& path, unsigned depth) {
        const node& object = run_.nodes[id];
        const std::string type = class_of(object);
        auto module = module_of(object);
        if (!module) {
            if (path.empty())
                return make_error(error_code::cv_invalid_checkpoint,
                                  "the pickled object is an instance of " + type +
                                      ", not a module (no _parameters, _buffers and _modules)",
                                  object.offset);
            STKIT_TRY(bool tensors, holds_tensors(id, depth));
            out_.others.push_back({path, "object", "instance of " + type +
                                                       (tensors ? ", holds tensors, not converted" : "")});
            return {};
        }
        auto invalid = [&](std::string why, uint64_t offset, const std::string& name) {
            return error{error_code::cv_invalid_checkpoint, std::move(why), offset, name, {}};
        };
        if (depth > max_walk_depth || walking_.size() > max_walk_depth)
            return invalid("modules nested too deeply", object.offset, path);
        for (node_id open : walking_)
            if (open == id) return invalid("a module contains itself", object.offset, path);
        // state_dict() runs these hooks on its result: what they would do is code, not data.
        for (std::string_view hooks : {"_state_dict_hooks", "_state_dict_pre_hooks"}) {
            node_id registered = dict_get(run_, *module->dict, hooks);
            if (registered != pickle::no_node && !run_.nodes[registered].items.empty())
                return invalid("module " + type + " has " + std::string(hooks) +
                                   ": its state_dict() runs them, which only running the code can show",
                               object.offset, path);
        }
        std::set<std::string> transient;
        node_id non_persistent = dict_get(run_, *module->dict, "_non_persistent_buffers_set");
        if (non_persistent != pickle::no_node && run_.nodes[non_persistent].kind == node_kind::set)
            for (node_id name : run_.nodes[non_persistent].items)
                if (run_.nodes[name].kind == node_kind::string) transient.insert(run_.nodes[name].text);
        classes_.insert(type);
        walking_.push_back(id);
        // Each entry of one of the three dicts that is not None, as (key, node, dotted name).
        auto entries = [&](node_id dict, node_kind want, const char* what, auto&& take) -> result<void> {
            const node& members = run_.nodes[dict];
            for (std::size_t i = 0; i + 1 < members.items.size(); i += 2) {
                STKIT_TRY(std::string key, key_text(members.items[i], path));
                const node& member = run_.nodes[members.items[i + 1]];
                std::string name = join(path, key);
                if (member.kind == node_kind::none) continue;
                if (member.kind != want || (want == node_kind::object && !module_of(member)))
                    return invalid(std::string(what) + " is " +
                                       (member.kind == node_kind::object ? "an instance of " + class_of(member)
                                                                         : "a " + std::string(kind_name(member.kind))),
                                   member.offset, name);
                STKIT_TRY_VOID(take(key, members.items[i + 1], name));
            }
            return {};
        };
        STKIT_TRY_VOID(entries(module->parameters, node_kind::tensor, "parameter",
                               [&](const std::string&, node_id member, const std::string& name) {
                                   return add_tensor(run_.nodes[member], name);
                               }));
        STKIT_TRY_VOID(entries(module->buffers, node_kind::tensor, "buffer",
                               [&](const std::string& key, node_id member, const std::string& name) {
                                   return transient.count(key) ? result<void>{}
                                                               : add_tensor(run_.nodes[member], name);
                               }));
        STKIT_TRY_VOID(entries(module->modules, node_kind::object, "submodule",
                               [&](const std::string&, node_id member, const std::string& name) {
                                   return walk_object(member, name, depth + 1);
                               }));
        walking_.pop_back();
        return {};
    }

    result<void> add_tensor(const node& value, const std::string& path) {
        if (value.tensor_index >= run_.tensors.size())
            return make_error(error_code::cv_invalid_checkpoint, "dangling tensor", value.offset, path);
        const pickle::tensor_ref& tensor = run_.tensors[value.tensor_index];
        STKIT_TRY(const node* storage_node, at(tensor.storage, value.offset));
        if (storage_node->kind != node_kind::storage ||
            storage_node->storage_index >= run_.storages.size())
            return make_error(error_code::cv_invalid_checkpoint, "tensor without a storage",
                              value.offset, path);
        const pickle::storage_ref& storage = run_.storages[storage_node->storage_index];
        pickle::torch_scalar element =
            tensor.element != pickle::torch_scalar::unknown ? tensor.element : storage.element;
        auto type = dtype_from_torch(element);
        if (!type)
            return make_error(error_code::cv_unsupported_dtype,
                              "torch." + std::string(pickle::torch_scalar_name(element)) +
                                  " has no safetensors dtype",
                              value.offset, path);
        if (tensor.size.size() != tensor.stride.size())
            return make_error(error_code::cv_invalid_checkpoint,
                              "size and stride have different ranks", value.offset, path);
        source_tensor out{};
        out.name = path;
        out.type = *type;
        out.offset = tensor.storage_offset;
        for (std::size_t d = 0; d < tensor.size.size(); ++d) {
            if (tensor.size[d] < 0)
                return make_error(error_code::cv_invalid_checkpoint, "negative size", value.offset,
                                  path);
            if (tensor.stride[d] < 0)
                return make_error(error_code::cv_unsupported_tensor, "negative stride",
                                  value.offset, path);
            out.shape.push_back(static_cast<uint64_t>(tensor.size[d]));
            out.stride.push_back(static_cast<uint64_t>(tensor.stride[d]));
        }
        auto index = resolve_(storage, storage_node->offset);
        if (!index.ok()) {
            error failure = std::move(index).error();
            if (failure.name.empty()) failure.name = path;
            return failure;
        }
        out.storage = *index;
        out_.tensors.push_back(std::move(out));
        return {};
    }

    const pickle_run& run_;
    const storage_resolver& resolve_;
    checkpoint& out_;
    std::vector<uint8_t> state_;  // holds_tensors: 0 unknown, 1 visiting, 2 no, 3 yes
    std::vector<node_id> walking_;
    std::set<std::string> classes_;
};

bool is_refusal(error_code code) noexcept {
    return code == error_code::pk_global_refused || code == error_code::pk_call_refused ||
           code == error_code::pk_build_refused || code == error_code::pk_persistent_id_refused ||
           code == error_code::pk_extension_refused;
}

}  // namespace

std::optional<dtype> dtype_from_torch(pickle::torch_scalar type) noexcept {
    using pickle::torch_scalar;
    switch (type) {
        case torch_scalar::bool_: return dtype::bool_;
        case torch_scalar::uint8: return dtype::u8;
        case torch_scalar::int8: return dtype::i8;
        case torch_scalar::int16: return dtype::i16;
        case torch_scalar::int32: return dtype::i32;
        case torch_scalar::int64: return dtype::i64;
        case torch_scalar::uint16: return dtype::u16;
        case torch_scalar::uint32: return dtype::u32;
        case torch_scalar::uint64: return dtype::u64;
        case torch_scalar::float16: return dtype::f16;
        case torch_scalar::bfloat16: return dtype::bf16;
        case torch_scalar::float32: return dtype::f32;
        case torch_scalar::float64: return dtype::f64;
        case torch_scalar::complex64: return dtype::c64;
        case torch_scalar::float8_e4m3fn: return dtype::f8_e4m3;
        case torch_scalar::float8_e5m2: return dtype::f8_e5m2;
        case torch_scalar::float8_e4m3fnuz: return dtype::f8_e4m3fnuz;
        case torch_scalar::float8_e5m2fnuz: return dtype::f8_e5m2fnuz;
        default: return std::nullopt;  // complex32, complex128, quantized, unknown
    }
}

result<pickle::pickle_run> run_restricted(std::span<const std::byte> data, uint64_t base_offset,
                                          const pickle::pickle_limits& limits) {
    pickle::machine_options options;
    options.limits = limits;
    options.base_offset = base_offset;
    auto run = pickle::run_pickle(data, options);
    if (run.ok() || !is_refusal(run.error().code)) return run;
    error refusal = std::move(run).error();
    // torch.save(model): the global refused may be a module's class. Rebuild the model; when that
    // too is refused, its refusal (a call, or a class not instantiated as a module) names the
    // offender better than the first class does.
    std::optional<error> model_refusal;
    if (refusal.code == error_code::pk_global_refused) {
        options.whole_model = true;
        auto model = pickle::run_pickle(data, options);
        options.whole_model = false;
        if (model.ok()) {
            // Classes stay opaque, but one the dangerous list names is refused all the same (an
            // instance of subprocess.Popen, a reference to os.system).
            if (auto danger = first_dangerous_import(*model))
                return make_error(error_code::pk_global_refused,
                                  "on the dangerous list (" + danger->match.matched + ": " +
                                      std::string(danger->match.reason) + ")",
                                  danger->offset, danger->global);
            return model;
        }
        if (is_refusal(model.error().code)) model_refusal = std::move(model).error();
    }
    options.mode = pickle::machine_mode::analysis;
    auto analysis = pickle::run_pickle(data, options);
    if (!analysis.ok()) return model_refusal ? *model_refusal : refusal;
    // A refused global that is itself on the dangerous list is the offender, whatever follows.
    auto danger = first_dangerous_import(*analysis);
    if (model_refusal && !(danger && danger->offset == refusal.offset)) return *model_refusal;
    std::string listed;
    std::size_t count = 0;
    for (const pickle::event& seen : analysis->events) {
        if (seen.kind != pickle::event_kind::import ||
            pickle::classify_global(seen.module, seen.name) != pickle::allowed_global::not_allowed)
            continue;
        if (count++) listed += ", ";
        listed += seen.module + "." + seen.name + " at byte " + std::to_string(seen.offset);
    }
    if (count > 1) {
        if (!refusal.detail.empty()) refusal.detail += "; ";
        refusal.detail += "globals outside the allowlist: " + listed;
    }
    return refusal;
}

result<void> collect_torch_tensors(const pickle::pickle_run& run, const storage_resolver& resolve,
                                   checkpoint& out) {
    out.pickle_protocol = run.protocol;
    walker walk(run, resolve, out);
    STKIT_TRY_VOID(walk.walk_root());
    out.model_classes = walk.classes();
    return finish_plan(out);
}

}  // namespace stkit::convert::detail
