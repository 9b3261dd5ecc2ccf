// What the allowlisted globals make: the torch rebuild functions, storages from persistent ids,
// OrderedDict, torch.Size, torch.device, _codecs.encode — each checked against the argument shapes
// torch itself passes (torch/_utils.py, torch/serialization.py), so anything else is refused
// rather than guessed at.
#include "pickle/internal.hpp"
#include "pickle/text.hpp"
#include "stkit/detail/checked.hpp"

namespace stkit::pickle::detail {
namespace {

std::string global_name(const node& value) {
    return value.kind == node_kind::global ? value.text + "." + value.name : std::string();
}

}  // namespace

const node* machine::text_like(node_id id) const noexcept {
    const node& value = run.nodes[id];
    // Python 2 era files may carry these as bytes; torch decodes them as ASCII.
    return value.kind == node_kind::string || value.kind == node_kind::bytes ? &value : nullptr;
}

bool machine::int_tuple(node_id id, std::vector<int64_t>& out) const {
    const node& value = run.nodes[id];
    if (value.kind != node_kind::tuple && value.kind != node_kind::list) return false;
    out.clear();
    out.reserve(value.items.size());
    for (node_id item : value.items) {
        const node& element = run.nodes[item];
        if (element.kind != node_kind::integer) return false;
        out.push_back(element.integer);
    }
    return true;
}

result<node_id> machine::call_allowed(node_id callee, node_id arguments) {
    const node& function = run.nodes[callee];
    const auto kind = static_cast<allowed_global>(function.integer);
    const std::string name = global_name(function);
    std::vector<node_id> args = run.nodes[arguments].items;
    auto refuse = [&](const char* why) { return refusal(error_code::pk_call_refused, why, name); };

    switch (kind) {
        case allowed_global::rebuild_tensor:
        case allowed_global::rebuild_tensor_v2:
        case allowed_global::rebuild_tensor_v3: return rebuild_tensor(kind, std::move(args));
        case allowed_global::rebuild_parameter:
        case allowed_global::rebuild_parameter_state: return rebuild_parameter(kind, std::move(args));
        case allowed_global::ordered_dict: {
            if (!args.empty()) return refuse("OrderedDict is called with arguments");
            STKIT_TRY(node_id id, add_container(node_kind::dict, {}));
            run.nodes[id].ordered = true;
            return id;
        }
        case allowed_global::torch_size: {
            std::vector<int64_t> extents;
            if (args.size() != 1 || !int_tuple(args[0], extents))
                return refuse("torch.Size takes one tuple of ints");
            if (run.nodes[args[0]].kind == node_kind::tuple) return args[0];
            std::vector<node_id> items = run.nodes[args[0]].items;
            return add_container(node_kind::tuple, std::move(items));
        }
        case allowed_global::torch_device: {
            if (args.empty() || args.size() > 2 || run.nodes[args[0]].kind != node_kind::string)
                return refuse("torch.device takes a type and an optional index");
            std::string text = run.nodes[args[0]].text;
            if (args.size() == 2) {
                const node& index = run.nodes[args[1]];
                if (index.kind != node_kind::integer || index.integer < 0)
                    return refuse("torch.device index is not a non-negative int");
                text += ":" + std::to_string(index.integer);
            }
            return add_text(node_kind::device, std::move(text));
        }
        case allowed_global::get_layout: {
            if (args.size() != 1 || run.nodes[args[0]].kind != node_kind::string)
                return refuse("_get_layout takes one str");
            // The layout's name ("torch.strided"); sparse layouts only matter to rebuild
            // functions that are not on the allowlist.
            return args[0];
        }
        case allowed_global::codecs_encode: {
            if (args.size() != 2 || run.nodes[args[0]].kind != node_kind::string ||
                run.nodes[args[1]].kind != node_kind::string)
                return refuse("_codecs.encode takes two str");
            const std::string& encoding = run.nodes[args[1]].text;
            if (encoding != "latin1" && encoding != "latin-1" && encoding != "iso-8859-1")
                return refuse("_codecs.encode with an encoding other than latin1");
            // Protocol 2 pickles bytes as the latin1 encoding of a str: code points < 256 only.
            const std::string& source = run.nodes[args[0]].text;
            std::string bytes;
            bytes.reserve(source.size());
            for (std::size_t i = 0; i < source.size(); ++i) {
                auto c = static_cast<uint8_t>(source[i]);
                if (c < 0x80) {
                    bytes.push_back(static_cast<char>(c));
                } else if ((c == 0xc2 || c == 0xc3) && i + 1 < source.size()) {
                    bytes.push_back(static_cast<char>(((c & 0x1f) << 6) |
                                                      (static_cast<uint8_t>(source[++i]) & 0x3f)));
                } else {
                    return refuse("_codecs.encode of a character outside latin1");
                }
            }
            STKIT_TRY_VOID(charge(bytes.size()));
            return add_text(node_kind::bytes, std::move(bytes));
        }
        case allowed_global::set: {
            // set() or set(list/tuple): protocol 2's spelling of a set (a module's
            // _non_persistent_buffers_set).
            if (args.size() > 1) return refuse("set takes at most one argument");
            std::vector<node_id> items;
            if (args.size() == 1) {
                const node& source = run.nodes[args[0]];
                if (source.kind != node_kind::list && source.kind != node_kind::tuple)
                    return refuse("set is called with something other than a list or tuple");
                items = source.items;
            }
            return add_container(node_kind::set, std::move(items));
        }
        case allowed_global::storage_class:
        case allowed_global::torch_dtype:
        case allowed_global::not_allowed: break;
    }
    return refuse("is not called when torch rebuilds tensors");
}

result<node_id> machine::add_tensor(tensor_ref&& tensor) {
    node made;
    made.kind = node_kind::tensor;
    made.tensor_index = static_cast<uint32_t>(run.tensors.size());
    uint64_t payload = sizeof(tensor_ref) + (tensor.size.size() + tensor.stride.size()) * 8;
    STKIT_TRY(node_id id, add(std::move(made), payload, 0));
    run.tensors.push_back(std::move(tensor));
    return id;
}

// _rebuild_tensor(storage, storage_offset, size, stride)
// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
// _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype[, metadata])
result<node_id> machine::rebuild_tensor(allowed_global kind, std::vector<node_id> args) {
    const char* name = kind == allowed_global::rebuild_tensor      ? "_rebuild_tensor"
                       : kind == allowed_global::rebuild_tensor_v2 ? "_rebuild_tensor_v2"
                                                                   : "_rebuild_tensor_v3";
    const std::string full = std::string("torch._utils.") + name;
    auto refuse = [&](std::string why) {
        return refusal(error_code::pk_call_refused, std::move(why), full);
    };
    auto invalid = [&](std::string why) {
        return refusal(error_code::pk_invalid_operand, std::move(why), full);
    };
    std::size_t least = kind == allowed_global::rebuild_tensor ? 4
                        : kind == allowed_global::rebuild_tensor_v2 ? 6
                                                                    : 7;
    std::size_t most = kind == allowed_global::rebuild_tensor ? 4 : least + 1;
    if (args.size() < least || args.size() > most)
        return refuse("takes " + std::to_string(least) + " to " + std::to_string(most) +
                      " arguments, got " + std::to_string(args.size()));

    const node& storage = run.nodes[args[0]];
    if (storage.kind != node_kind::storage) return refuse("the first argument is not a storage");
    const storage_ref& source = run.storages[storage.storage_index];
    tensor_ref tensor;
    tensor.storage = args[0];
    tensor.rebuild = name;
    tensor.element = source.element;

    const node& offset = run.nodes[args[1]];
    if (offset.kind != node_kind::integer) return refuse("storage_offset is not an int");
    if (offset.integer < 0) return invalid("negative storage_offset");
    auto absolute = stkit::detail::checked_add(static_cast<uint64_t>(offset.integer), source.view_offset);
    if (!absolute) return invalid("storage_offset overflows");
    tensor.storage_offset = *absolute;
    if (!int_tuple(args[2], tensor.size)) return refuse("size is not a tuple of ints");
    if (!int_tuple(args[3], tensor.stride)) return refuse("stride is not a tuple of ints");
    if (tensor.size.size() != tensor.stride.size()) return invalid("size and stride ranks differ");
    for (std::size_t d = 0; d < tensor.size.size(); ++d)
        if (tensor.size[d] < 0 || tensor.stride[d] < 0) return invalid("negative size or stride");

    if (kind != allowed_global::rebuild_tensor) {
        const node& requires_grad = run.nodes[args[4]];
        if (requires_grad.kind != node_kind::boolean && requires_grad.kind != node_kind::integer)
            return refuse("requires_grad is not a bool");
        tensor.requires_grad = requires_grad.integer != 0;
        if (run.nodes[args[5]].kind != node_kind::dict) return refuse("backward_hooks is not a dict");
    }
    std::size_t metadata = 6;
    if (kind == allowed_global::rebuild_tensor_v3) {
        const node& type = run.nodes[args[6]];
        if (type.kind != node_kind::torch_dtype) return refuse("dtype is not a torch dtype");
        tensor.element = static_cast<torch_scalar>(type.integer);
        metadata = 7;
    }
    if (args.size() > metadata) {
        node_kind extra = run.nodes[args[metadata]].kind;
        if (extra != node_kind::none && extra != node_kind::dict)
            return refuse("metadata is not a dict");
    }
    return add_tensor(std::move(tensor));
}

// _rebuild_parameter(data, requires_grad, backward_hooks)
// _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state)
result<node_id> machine::rebuild_parameter(allowed_global kind, std::vector<node_id> args) {
    const bool with_state = kind == allowed_global::rebuild_parameter_state;
    const std::string full = with_state ? "torch._utils._rebuild_parameter_with_state"
                                        : "torch._utils._rebuild_parameter";
    auto refuse = [&](const char* why) { return refusal(error_code::pk_call_refused, why, full); };
    if (args.size() != (with_state ? 4u : 3u)) return refuse("wrong number of arguments");
    const node& data = run.nodes[args[0]];
    if (data.kind != node_kind::tensor) return refuse("data is not a tensor");
    const node& requires_grad = run.nodes[args[1]];
    if (requires_grad.kind != node_kind::boolean && requires_grad.kind != node_kind::integer)
        return refuse("requires_grad is not a bool");
    if (run.nodes[args[2]].kind != node_kind::dict) return refuse("backward_hooks is not a dict");
    if (with_state) {
        node_kind state = run.nodes[args[3]].kind;
        if (state != node_kind::none && state != node_kind::dict && state != node_kind::tuple)
            return refuse("state is not a dict or tuple");
    }
    // A Parameter is a new object sharing the tensor's storage.
    tensor_ref parameter = run.tensors[data.tensor_index];
    parameter.parameter = true;
    parameter.requires_grad = requires_grad.integer != 0;
    return add_tensor(std::move(parameter));
}

// ('storage', storage_class, key, location, numel)                       torch.save zip files
// ('storage', storage_class, root_key, location, numel, view_metadata)   legacy files
result<node_id> machine::storage_from(node_id pid) {
    auto refuse = [&](std::string why) {
        return refusal(error_code::pk_persistent_id_refused, std::move(why));
    };
    const node& id = run.nodes[pid];
    if (id.kind != node_kind::tuple) return refuse("the persistent id is not a tuple");
    const std::vector<node_id> items = id.items;
    if (items.size() != 5 && items.size() != 6)
        return refuse("the persistent id is not a 5- or 6-tuple");
    const node* type_name = text_like(items[0]);
    if (!type_name || type_name->text != "storage") return refuse("the persistent id is not 'storage'");
    const node& type = run.nodes[items[1]];
    if (type.kind != node_kind::global ||
        static_cast<allowed_global>(type.integer) != allowed_global::storage_class)
        return refuse("the storage type is not a torch storage class");
    const node* key = text_like(items[2]);
    const node* location = text_like(items[3]);
    const node& numel = run.nodes[items[4]];
    if (!key || !location) return refuse("the storage key or location is not a str");
    if (numel.kind != node_kind::integer || numel.integer < 0)
        return refuse("the storage size is not a non-negative int");

    storage_ref storage;
    storage.key = key->text;
    storage.location = location->text;
    storage.numel = static_cast<uint64_t>(numel.integer);
    const allow_entry* entry = find_allowed(type.text, type.name);
    storage.element = entry ? entry->element : torch_scalar::unknown;
    std::string cache_key = storage.key;
    if (items.size() == 6 && run.nodes[items[5]].kind != node_kind::none) {
        const node& view = run.nodes[items[5]];
        if (view.kind != node_kind::tuple || view.items.size() != 3)
            return refuse("the view metadata is not (key, offset, size)");
        const node* view_key = text_like(view.items[0]);
        const node& view_offset = run.nodes[view.items[1]];
        const node& view_numel = run.nodes[view.items[2]];
        if (!view_key || view_offset.kind != node_kind::integer || view_offset.integer < 0 ||
            view_numel.kind != node_kind::integer || view_numel.integer < 0)
            return refuse("the view metadata is not (str, int, int)");
        storage.view_key = view_key->text;
        storage.view_offset = static_cast<uint64_t>(view_offset.integer);
        storage.view_numel = static_cast<uint64_t>(view_numel.integer);
        auto end = stkit::detail::checked_add(storage.view_offset, storage.view_numel);
        if (!end || *end > storage.numel) return refuse("the view lies outside its storage");
        cache_key = storage.view_key;
    }
    // torch.load builds each key once and hands the same storage to every tensor naming it.
    if (auto found = storage_by_key_.find(cache_key); found != storage_by_key_.end())
        return found->second;
    node made;
    made.kind = node_kind::storage;
    made.storage_index = static_cast<uint32_t>(run.storages.size());
    uint64_t payload = sizeof(storage_ref) + storage.key.size() + storage.location.size() +
                       storage.view_key.size();
    STKIT_TRY(node_id made_id, add(std::move(made), payload, 0));
    run.storages.push_back(std::move(storage));
    storage_by_key_.emplace(std::move(cache_key), made_id);
    return made_id;
}

result<node_id> machine::persistent_load(node_id pid) {
    if (options_.whole_model && !analysis())
        if (node_id cls = legacy_module_class(pid); cls != no_node) return cls;
    auto storage = storage_from(pid);
    if (storage.ok() || !analysis() ||
        storage.error().code != error_code::pk_persistent_id_refused)
        return storage;
    record(event_kind::persistent_id, no_node, pid);
    STKIT_TRY(node_id made, add_container(node_kind::persistent, {pid}));
    return made;
}

// torch's weights_only unpickler applies BUILD to tensors and Parameters (their state) and to
// OrderedDict (the `_metadata` attribute of a state_dict); nothing else.
result<void> machine::build(node_id target, node_id state) {
    const node& object = run.nodes[target];
    const node& value = run.nodes[state];
    bool accepted = false;
    if (object.kind == node_kind::object) {
        return build_object(target, state);
    } else if (object.kind == node_kind::tensor) {
        accepted = true;
    } else if (object.kind == node_kind::dict && object.ordered) {
        // __dict__ as a dict, or (None, slots dict) / (dict, slots dict).
        if (value.kind == node_kind::dict) {
            accepted = true;
        } else if (value.kind == node_kind::tuple && value.items.size() == 2) {
            node_kind first = run.nodes[value.items[0]].kind;
            accepted = (first == node_kind::none || first == node_kind::dict) &&
                       run.nodes[value.items[1]].kind == node_kind::dict;
        }
    }
    if (accepted) return {};
    if (!analysis())
        return refusal(error_code::pk_build_refused,
                       "BUILD on " + std::string(object.kind == node_kind::global ? "a global"
                                                 : object.kind == node_kind::call ? "an object"
                                                                                   : "plain data"),
                       global_name(object));
    record(event_kind::build, target, state);
    return {};
}

}  // namespace stkit::pickle::detail
