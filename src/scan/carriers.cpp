// Code carriers that are not pickles: Keras model configurations (.keras config.json, .h5
// model_config) and TorchScript code.
#include <simdjson.h>

#include <algorithm>

#include "scan/internal.hpp"
#include "stkit/scan/dangerous.hpp"

namespace stkit::detail {
namespace {

constexpr std::size_t max_json_depth = 256;
constexpr std::size_t max_config_bytes = std::size_t{64} << 20;

std::string string_field(simdjson::dom::object object, std::string_view key) {
    std::string_view value;
    if (object[key].get_string().get(value) == simdjson::SUCCESS) return std::string(value);
    return {};
}

// Keras' own modules; anything else named by a config is imported (registered objects, custom
// layers) when the model is loaded.
bool keras_module(std::string_view module) {
    return module == "keras" || module.starts_with("keras.") || module.starts_with("keras_") ||
           module.starts_with("tensorflow.keras") || module.starts_with("tf_keras");
}

void walk_keras(scan_state& state, simdjson::dom::element element, const std::string& member, std::size_t depth) {
    if (depth > max_json_depth) {
        state.add(carrier_finding(verdict::suspicious, "limit", "Keras config nested too deeply to analyse", member));
        return;
    }
    simdjson::dom::array array;
    if (element.get_array().get(array) == simdjson::SUCCESS) {
        for (simdjson::dom::element item : array) walk_keras(state, item, member, depth + 1);
        return;
    }
    simdjson::dom::object object;
    if (element.get_object().get(object) != simdjson::SUCCESS) return;
    std::string class_name = string_field(object, "class_name");
    std::string module = string_field(object, "module");
    if (class_name == "Lambda" || class_name == "__lambda__") {
        std::string layer;
        simdjson::dom::object config;
        if (object["config"].get_object().get(config) == simdjson::SUCCESS) layer = string_field(config, "name");
        state.add(carrier_finding(verdict::dangerous, "code-execution",
                                  "Keras Lambda layer" + (layer.empty() ? std::string() : " '" + layer + "'") +
                                      ": loading runs its stored Python code",
                                  member, module.empty() ? "keras.layers" : module, class_name));
    } else if (!module.empty() && !keras_module(module)) {
        // Keras 3 serializes functions as {"module": M, "class_name": "function", "config": NAME}.
        std::string target = class_name == "function" ? string_field(object, "config") : class_name;
        if (auto danger = classify_dangerous(module, target)) {
            state.add(carrier_finding(verdict::dangerous, std::string(danger_category_name(danger->category)),
                                      "Keras config references " + module + "." + target + ": " +
                                          std::string(danger->reason),
                                      member, module, target));
        } else {
            state.add(carrier_finding(verdict::suspicious, "unknown-import",
                                      "Keras config references " + module + "." + target +
                                          ", which loading imports",
                                      member, module, target));
        }
    }
    for (auto field : object) {
        if (field.key == "__lambda__")
            state.add(carrier_finding(verdict::dangerous, "code-execution",
                                      "Keras config holds a serialized lambda (__lambda__)", member));
        walk_keras(state, field.value, member, depth + 1);
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

void scan_keras_config(scan_state& state, std::string_view json, const std::string& member) {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(json);
    simdjson::dom::element root;
    if (parser.parse(padded).get(root) != simdjson::SUCCESS) {
        state.add(carrier_finding(verdict::suspicious, "malformed", "Keras config is not valid JSON", member));
        return;
    }
    walk_keras(state, root, member, 0);
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
