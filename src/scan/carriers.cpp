// Code carriers that are not pickles: Keras model configurations (.keras config.json, .h5
// model_config) and TorchScript code; the JSON walking the carriers share (carrier_json.hpp).
#include <algorithm>
#include <optional>

#include "scan/carrier_json.hpp"
#include "stkit/scan/dangerous.hpp"

namespace stkit::detail {
namespace {

constexpr std::size_t max_json_depth = 256;
constexpr std::size_t max_config_bytes = std::size_t{64} << 20;

// Keras' own namespaces. Anything else a config names (a layer, a registered object, a function) is
// imported when the model loads: Keras before 3.9 imports any module (CVE-2025-1550), and a custom
// object is code the loader runs. tf_keras and tensorflow.keras are Keras 2, which .h5 files name.
bool keras_namespace(std::string_view module) {
    std::string_view root = module.substr(0, module.find('.'));
    return root == "keras" || root == "keras_hub" || root == "keras_nlp" || root == "keras_cv" || root == "tf_keras" ||
           module == "tensorflow.keras" || module.starts_with("tensorflow.keras.");
}

// The package of a registered name "package>name" (register_keras_serializable); Keras' own objects
// carry their class name ("Dense", "function") or null.
std::optional<std::string_view> registered_package(std::string_view registered) {
    std::size_t separator = registered.find('>');
    if (separator == std::string_view::npos) return std::nullopt;
    return registered.substr(0, separator);
}

void outside_keras(scan_state& state, const std::string& member, std::string module, std::string name,
                   std::string_view how) {
    auto danger = classify_dangerous(module, name);
    state.add(carrier_finding(verdict::dangerous, "code-execution",
                              "Keras config " + std::string(how) + " " + module + "." + name +
                                  ", outside Keras: loading imports it" +
                                  (danger ? " (" + std::string(danger->reason) + ")" : std::string()),
                              member, std::move(module), std::move(name)));
}

void judge_keras_object(scan_state& state, simdjson::dom::object object, const std::string& member) {
    std::string class_name = json_string_field(object, "class_name");
    std::string module = json_string_field(object, "module");
    std::string registered = json_string_field(object, "registered_name");
    for (auto field : object)
        if (field.key == "__lambda__")
            state.add(carrier_finding(verdict::dangerous, "code-execution",
                                      "Keras config holds a serialized lambda (__lambda__)", member));
    if (class_name == "Lambda" || class_name == "__lambda__") {
        std::string layer;
        simdjson::dom::object config;
        if (object["config"].get_object().get(config) == simdjson::SUCCESS) layer = json_string_field(config, "name");
        state.add(carrier_finding(verdict::dangerous, "code-execution",
                                  "Keras Lambda layer" + (layer.empty() ? std::string() : " '" + layer + "'") +
                                      ": loading runs its stored Python code",
                                  member, module.empty() ? "keras.layers" : module, class_name));
        return;
    }
    // Keras 3 writes a function as {"module": M, "class_name": "function", "config": NAME}; with
    // module "builtins" (losses, metrics) it looks NAME up among its own functions, then in Python's
    // builtins, and NAME may be a registered "package>name".
    bool function = class_name == "function";
    std::string target = function ? json_string_field(object, "config") : class_name;
    if (module == "builtins" && function) {
        if (auto package = registered_package(target); package && !keras_namespace(*package))
            return outside_keras(state, member, std::string(*package), target.substr(package->size() + 1), "names");
        if (classify_dangerous(module, target)) outside_keras(state, member, module, target, "names");
    } else if (!module.empty() && !keras_namespace(module)) {
        outside_keras(state, member, module, target, "references");
    } else if (auto package = registered_package(registered); package && !keras_namespace(*package)) {
        outside_keras(state, member, std::string(*package), registered.substr(package->size() + 1), "registers");
    }
}

// The end of the JSON object starting at `text[0]` ('{'), by bracket matching outside strings;
// npos when it does not close within the text.
std::size_t json_object_end(std::string_view text) {
    std::size_t depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') in_string = true;
        else if (c == '{') ++depth;
        else if (c == '}' && --depth == 0) return i + 1;
    }
    return std::string_view::npos;
}

bool identifier_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Tokens that TorchScript never needs and a hand-edited code/ file would use to reach Python.
constexpr std::string_view torchscript_dangerous_tokens[] = {
    "PythonOp", "__import__", "os.", "subprocess", "builtins", "eval", "exec", "system", "popen",
    "ctypes", "open", "socket", "pickle", "marshal", "importlib", "sys.",
};

}  // namespace

finding carrier_finding(verdict severity, std::string category, std::string message, const std::string& member,
                        std::string module, std::string name, uint64_t offset) {
    finding f;
    f.severity = severity;
    f.category = std::move(category);
    f.message = std::move(message);
    f.member = member;
    f.module = std::move(module);
    f.name = std::move(name);
    f.offset = offset;
    return f;
}

std::string json_string_field(simdjson::dom::object object, std::string_view key) {
    std::string_view value;
    if (object[key].get_string().get(value) == simdjson::SUCCESS) return std::string(value);
    return {};
}

void for_each_json_object(scan_state& state, std::string_view json, const std::string& member, std::string_view what,
                          const std::function<void(simdjson::dom::object)>& visit) {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(json);
    simdjson::dom::element root;
    if (parser.parse(padded).get(root) != simdjson::SUCCESS) {
        state.add(carrier_finding(verdict::suspicious, "malformed", std::string(what) + " is not valid JSON", member));
        return;
    }
    bool too_deep = false;
    std::function<void(simdjson::dom::element, std::size_t)> walk = [&](simdjson::dom::element element,
                                                                         std::size_t depth) {
        if (depth > max_json_depth) {
            too_deep = true;
            return;
        }
        simdjson::dom::array array;
        if (element.get_array().get(array) == simdjson::SUCCESS) {
            for (simdjson::dom::element item : array) walk(item, depth + 1);
            return;
        }
        simdjson::dom::object object;
        if (element.get_object().get(object) != simdjson::SUCCESS) return;
        visit(object);
        for (auto field : object) walk(field.value, depth + 1);
    };
    walk(root, 0);
    if (too_deep)
        state.add(carrier_finding(verdict::suspicious, "limit", std::string(what) + " nested too deeply to analyse",
                                  member));
}

void scan_keras_config(scan_state& state, std::string_view json, const std::string& member) {
    for_each_json_object(state, json, member, "Keras config",
                         [&](simdjson::dom::object object) { judge_keras_object(state, object, member); });
}

// Keras 2 .h5 files keep the model JSON in the root group's `model_config` attribute (and
// `training_config`). Reading HDF5 attributes needs the whole HDF5 object model (superblock, object
// headers, global heaps for variable-length strings); libhdf5 would do it but is not a dependency of
// the library, so the JSON objects are found by a bounded search for their start, which h5py writes
// contiguously in either storage (attribute message or global heap).
void scan_hdf5(scan_state& state, std::span<const std::byte> bytes, const std::string& member) {
    std::string_view text = as_text(bytes);
    constexpr std::string_view opening = "{\"class_name\"";
    std::size_t scanned = 0;
    for (std::size_t at = text.find(opening); at != std::string_view::npos; at = text.find(opening, at + 1)) {
        std::string_view candidate = text.substr(at, std::min(text.size() - at, max_config_bytes));
        std::size_t end = json_object_end(candidate);
        if (end == std::string_view::npos) continue;
        scan_keras_config(state, candidate.substr(0, end), member);
        at += end - 1;
        if (++scanned > 16) break;  // model_config and training_config; more is not Keras' doing
    }
}

void scan_torchscript_code(scan_state& state, std::string_view code, const std::string& member) {
    for (std::string_view token : torchscript_dangerous_tokens) {
        for (std::size_t at = code.find(token); at != std::string_view::npos; at = code.find(token, at + 1)) {
            bool starts = at == 0 || (!identifier_char(code[at - 1]) && code[at - 1] != '.');
            std::size_t after = at + token.size();
            bool ends = token.back() == '.' || after >= code.size() || !identifier_char(code[after]);
            if (!starts || !ends) continue;
            state.add(carrier_finding(verdict::dangerous, "code-execution",
                                      "TorchScript code uses '" + std::string(token) +
                                          "', which TorchScript never needs: hand-edited code",
                                      member, {}, std::string(token), at));
            break;
        }
    }
}

}  // namespace stkit::detail
