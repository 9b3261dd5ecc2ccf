// skops files (.skops: a zip with schema.json at its root, arrays in .npy members).
//
// schema.json is a tree of nodes. Every node is an object with "__class__", "__module__" and
// "__loader__" (the skops class that rebuilds it: ObjectNode, FunctionNode, MethodNode, TypeNode,
// ReduceNode, TreeNode, LossNode, DictNode, ListNode, TupleNode, SetNode, SliceNode, JsonNode,
// NdArrayNode, DTypeNode, SparseMatrixNode, PartialNode, OperatorFuncNode, ...) and children in
// "content", "attrs", "__reduce__", "key_types"; the root also holds "protocol" and
// "_skops_version". Files before protocol 1 have no "__loader__". skops.io.load imports
// __module__.__class__ for every node (a MethodNode then fetches content.func from the object it
// rebuilt) and refuses unless the type is trusted: by default scikit-learn's estimators, NumPy and SciPy
// ufuncs and dtypes, numpy.ndarray, the builtins int, float, str, bool, list, dict, tuple, set,
// map, slice, bytes and bytearray, and collections' OrderedDict and defaultdict. Users are told
// to pass get_untrusted_types() as `trusted` after a look, so what skops refuses by default is
// what this scan reports. The scan visits every object in the document (a superset of the nodes
// skops reads) and judges each (module, class) pair:
//   - `dangerous` when the dangerous list matches (a FunctionNode of builtins.eval or os.system);
//   - safe when the module is sklearn, numpy, scipy or skops (or below them) or the pair is one of
//     the builtins above — wider than skops' list of estimators, as loading any of these imports
//     only code those packages ship;
//   - `suspicious` (unknown-import) otherwise, and for every MethodNode (skops trusts no method).
// JsonNode holds plain JSON; skops never imports its (builtins, str) type. PartialNode always
// builds functools.partial, which calls nothing while loading; its function is a node of its own.
#include <algorithm>

#include "scan/carrier_json.hpp"
#include "stkit/scan/dangerous.hpp"

namespace stkit::detail {
namespace {

constexpr std::string_view trusted_roots[] = {"sklearn", "numpy", "scipy", "skops"};

constexpr std::string_view trusted_types[] = {
    "builtins.int",   "builtins.float",     "builtins.str",           "builtins.bool",
    "builtins.list",  "builtins.dict",      "builtins.tuple",         "builtins.set",
    "builtins.map",   "builtins.slice",     "builtins.bytes",         "builtins.bytearray",
    "builtins.complex", "builtins.NoneType", "collections.OrderedDict", "collections.defaultdict",
};

bool trusted(std::string_view module, std::string_view type) {
    std::string_view root = module.substr(0, module.find('.'));
    if (std::find(std::begin(trusted_roots), std::end(trusted_roots), root) != std::end(trusted_roots)) return true;
    std::string path = std::string(module) + "." + std::string(type);
    return std::find(std::begin(trusted_types), std::end(trusted_types), path) != std::end(trusted_types);
}

void judge_skops_node(scan_state& state, simdjson::dom::object object, const std::string& member) {
    std::string module = json_string_field(object, "__module__");
    std::string type = json_string_field(object, "__class__");
    if (module.empty() || type.empty()) return;
    std::string loader = json_string_field(object, "__loader__");
    if (loader == "JsonNode") return;
    std::string name = type;
    if (loader == "MethodNode") {
        simdjson::dom::object content;
        if (object["content"].get_object().get(content) == simdjson::SUCCESS)
            name += "." + json_string_field(content, "func");
    }
    std::string what = (loader.empty() ? "a node" : loader) + " of " + module + "." + name;
    if (auto danger = classify_dangerous(module, name); danger && loader != "PartialNode") {
        state.add(carrier_finding(verdict::dangerous, std::string(danger_category_name(danger->category)),
                                  "skops schema loads " + what + ": " + std::string(danger->reason), member, module,
                                  name));
    } else if (!trusted(module, type) || loader == "MethodNode") {
        state.add(carrier_finding(verdict::suspicious, "unknown-import",
                                  "skops schema loads " + what + ", which skops does not trust by default", member,
                                  module, name));
    }
}

}  // namespace

void scan_skops_schema(scan_state& state, std::string_view json, const std::string& member) {
    for_each_json_object(state, json, member, "skops schema.json",
                         [&](simdjson::dom::object object) { judge_skops_node(state, object, member); });
}

}  // namespace stkit::detail
