// Keras 3 configs and skops schemas, rule by rule, each rule with the clean twin real files write;
// the real configs and schema in tests/scan/data stay safe with no finding; archives are recognised
// by their JSON member (a .keras without weights included).
#include <fstream>
#include <sstream>

#include "containers/fixtures.hpp"
#include "scan/internal.hpp"

namespace stkit::detail {
namespace {

using carrier_scan = void (*)(scan_state&, std::string_view, const std::string&);

file_report judge(carrier_scan scan, std::string_view json) {
    file_report report;
    scan_options options;
    scan_state state{options, report};
    scan(state, json, "member.json");
    return report;
}

file_report keras(std::string_view json) { return judge(scan_keras_config, json); }
file_report skops(std::string_view json) { return judge(scan_skops_schema, json); }

bool has(const file_report& r, verdict severity, std::string_view category, std::string_view module,
         std::string_view name) {
    return std::any_of(r.findings.begin(), r.findings.end(), [&](const finding& f) {
        return f.severity == severity && f.category == category && f.module == module && f.name == name;
    });
}

std::string dump(const file_report& r) {
    std::string out;
    for (const finding& f : r.findings)
        out += "[" + f.category + " " + f.module + " " + f.name + "] " + f.message + "\n";
    return out;
}

std::string data_file(const std::string& name) {
    std::ifstream in(STKIT_SOURCE_DIR "/tests/scan/data/" + name, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// A layer of a Sequential model, as Keras 3 writes it, with `fields` added to the layer object.
std::string keras_layer(std::string_view fields) {
    return R"({"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": [{)" +
           std::string(fields) + R"(, "config": {"name": "layer", "trainable": true}}]}, "registered_name": null})";
}

#define EXPECT_SAFE(report) \
    EXPECT_TRUE((report).findings.empty() && (report).overall == verdict::safe) << dump(report)

TEST(keras_config, real_configs_are_safe_with_no_finding) {
    for (std::string name : {"mlp_sequential", "cnn_sequential", "transformer_functional", "keras_hub_gemma"}) {
        std::string json = data_file("keras/" + name + ".json");
        ASSERT_FALSE(json.empty()) << name;
        EXPECT_SAFE(keras(json)) << name;
    }
}

TEST(keras_config, modules_outside_keras_are_imported_when_loading) {
    auto custom = keras(keras_layer(R"("module": "mylib.layers", "class_name": "Custom", "registered_name": null)"));
    EXPECT_EQ(custom.overall, verdict::dangerous);
    EXPECT_TRUE(has(custom, verdict::dangerous, "code-execution", "mylib.layers", "Custom")) << dump(custom);
    auto process = keras(keras_layer(R"("module": "subprocess", "class_name": "Popen")"));
    EXPECT_TRUE(has(process, verdict::dangerous, "code-execution", "subprocess", "Popen")) << dump(process);
    // Look-alikes of Keras' namespaces are other packages.
    for (std::string module : {"keras_evil", "kerasx.layers", "keras_tuner", "tensorflow.kerasx"}) {
        auto r = keras(keras_layer(R"("module": ")" + module + R"(", "class_name": "Dense")"));
        EXPECT_EQ(r.overall, verdict::dangerous) << module;
    }
    for (std::string module : {"keras", "keras.layers", "keras.src.models.functional", "keras_hub.layers",
                               "keras_nlp.models", "keras_cv.layers", "tf_keras.layers", "tensorflow.keras.layers"})
        EXPECT_SAFE(keras(keras_layer(R"("module": ")" + module + R"(", "class_name": "Dense")"))) << module;
    EXPECT_SAFE(keras(keras_layer(R"("module": null, "class_name": "Dense")")));
}

TEST(keras_config, registered_names_outside_keras) {
    auto evil =
        keras(keras_layer(R"("module": "keras.layers", "class_name": "Layer", "registered_name": "evil_pkg>Layer")"));
    EXPECT_TRUE(has(evil, verdict::dangerous, "code-execution", "evil_pkg", "Layer")) << dump(evil);
    // Keras' own objects carry their class name, "function", null, or a Keras package.
    for (std::string registered : {R"("Dense")", R"("function")", "null", R"("keras_hub>GemmaBackbone")",
                                   R"("keras_nlp>GPT2Backbone")"})
        EXPECT_SAFE(keras(keras_layer(R"("module": "keras.layers", "class_name": "Dense", "registered_name": )" +
                                      registered)))
            << registered;
}

TEST(keras_config, functions_by_name) {
    auto function = [](std::string_view module, std::string_view name) {
        return keras(R"({"module": ")" + std::string(module) + R"(", "class_name": "function", "config": ")" +
                     std::string(name) + R"(", "registered_name": "function"})");
    };
    // Keras looks names up among its own functions, then in Python's builtins.
    EXPECT_SAFE(function("builtins", "binary_crossentropy"));
    EXPECT_SAFE(function("keras.activations", "relu"));
    EXPECT_SAFE(function("builtins", "keras_hub>gelu_approximate"));
    auto eval = function("builtins", "eval");
    EXPECT_TRUE(has(eval, verdict::dangerous, "code-execution", "builtins", "eval")) << dump(eval);
    auto registered = function("builtins", "mw>scaled_relu");
    EXPECT_TRUE(has(registered, verdict::dangerous, "code-execution", "mw", "scaled_relu")) << dump(registered);
    auto system = function("os", "system");
    EXPECT_TRUE(has(system, verdict::dangerous, "code-execution", "os", "system")) << dump(system);
}

TEST(keras_config, lambda_layers_and_bad_json) {
    auto lambda = keras(keras_layer(R"("module": "keras.layers", "class_name": "Lambda")"));
    EXPECT_TRUE(has(lambda, verdict::dangerous, "code-execution", "keras.layers", "Lambda")) << dump(lambda);
    auto code = keras(R"({"activation": {"class_name": "__lambda__", "config": {"code": "4wEAAA=="}}})");
    EXPECT_EQ(code.overall, verdict::dangerous) << dump(code);
    auto broken = keras(R"({"module": "keras", )");
    EXPECT_EQ(broken.overall, verdict::suspicious);
    EXPECT_EQ(broken.findings.at(0).category, "malformed");
}

// A skops node of `loader` for module.type, with `extra` fields.
std::string node(std::string_view loader, std::string_view module, std::string_view type, std::string_view extra = "") {
    return R"({"__class__": ")" + std::string(type) + R"(", "__module__": ")" + std::string(module) +
           R"(", "__loader__": ")" + std::string(loader) + "\"" + std::string(extra) + "}";
}

// An sklearn object holding `attribute` in its state, as skops writes it.
std::string skops_with(std::string_view attribute) {
    return node("ObjectNode", "sklearn.preprocessing._function_transformer", "FunctionTransformer",
                R"(, "content": )" + node("DictNode", "builtins", "dict", R"(, "content": {"func": )" +
                                                                            std::string(attribute) + "}") +
                    R"(, "protocol": 2, "_skops_version": "0.10.0")");
}

TEST(skops_schema, real_schema_is_safe_with_no_finding) {
    std::string json = data_file("skops/logistic_regression.json");
    ASSERT_FALSE(json.empty());
    EXPECT_SAFE(skops(json));
}

TEST(skops_schema, dangerous_functions) {
    auto eval = skops(skops_with(node("FunctionNode", "builtins", "eval")));
    EXPECT_TRUE(has(eval, verdict::dangerous, "code-execution", "builtins", "eval")) << dump(eval);
    auto system = skops(skops_with(node("FunctionNode", "os", "system")));
    EXPECT_TRUE(has(system, verdict::dangerous, "process", "os", "system")) << dump(system);
    // Inside trusted packages too: numpy.load unpickles.
    auto load = skops(skops_with(node("FunctionNode", "numpy", "load")));
    EXPECT_EQ(load.overall, verdict::dangerous) << dump(load);
    EXPECT_SAFE(skops(skops_with(node("FunctionNode", "numpy", "log1p"))));
    EXPECT_SAFE(skops(skops_with(node("FunctionNode", "scipy.special", "expit"))));
}

TEST(skops_schema, types_outside_the_trusted_set) {
    auto custom = skops(skops_with(node("ObjectNode", "mylib.preprocessing", "CustomScaler")));
    EXPECT_EQ(custom.overall, verdict::suspicious);
    EXPECT_TRUE(has(custom, verdict::suspicious, "unknown-import", "mylib.preprocessing", "CustomScaler"))
        << dump(custom);
    EXPECT_EQ(skops(skops_with(node("TypeNode", "sklearn_extra", "Thing"))).overall, verdict::suspicious);
    EXPECT_EQ(skops(skops_with(node("TypeNode", "builtins", "frozenset"))).overall, verdict::suspicious);
    // What skops trusts, and what its loaders build without importing the named type.
    for (std::string trusted : {node("TypeNode", "builtins", "str"), node("TypeNode", "builtins", "NoneType"),
                                node("DictNode", "collections", "OrderedDict"),
                                node("DefaultDictNode", "collections", "defaultdict"),
                                node("NdArrayNode", "numpy", "ndarray", R"(, "type": "numpy", "file": "1.npy")"),
                                node("SparseMatrixNode", "scipy.sparse._csr", "csr_matrix"),
                                node("TreeNode", "sklearn.tree._tree", "Tree"),
                                node("JsonNode", "os", "system", R"(, "content": "1", "is_json": true)")})
        EXPECT_SAFE(skops(skops_with(trusted))) << trusted;
}

TEST(skops_schema, methods_partials_and_operators) {
    // skops trusts no method: a MethodNode is refused by default even on a trusted class.
    std::string owner = node("ObjectNode", "sklearn.linear_model._logistic", "LogisticRegression");
    auto method = skops(skops_with(node("MethodNode", "sklearn.linear_model._logistic", "LogisticRegression",
                                        R"(, "content": {"func": "predict", "obj": )" + owner + "}")));
    EXPECT_TRUE(has(method, verdict::suspicious, "unknown-import", "sklearn.linear_model._logistic",
                    "LogisticRegression.predict")) << dump(method);
    auto partial = skops(skops_with(node("PartialNode", "functools", "partial")));
    EXPECT_EQ(partial.overall, verdict::suspicious) << dump(partial);
    auto getter = skops(skops_with(node("OperatorFuncNode", "operator", "attrgetter")));
    EXPECT_EQ(getter.overall, verdict::dangerous) << dump(getter);
    auto broken = skops("{\"__class__\": ");
    EXPECT_EQ(broken.overall, verdict::suspicious);
}

class carrier_archives : public test::scratch_test {};

TEST_F(carrier_archives, keras_without_weights_and_skops_are_recognised) {
    ASSERT_TRUE(python(R"(
import zipfile
with zipfile.ZipFile('bare.keras', 'w') as z:
    z.writestr('metadata.json', '{"keras_version": "3.6.0"}')
    z.writestr('config.json', open(')" STKIT_SOURCE_DIR R"(/tests/scan/data/keras/mlp_sequential.json').read())
with zipfile.ZipFile('evil.keras', 'w') as z:
    z.writestr('config.json', '{"module": "subprocess", "class_name": "Popen", "config": {}}')
with zipfile.ZipFile('model.skops', 'w') as z:
    z.writestr('schema.json', open(')" STKIT_SOURCE_DIR R"(/tests/scan/data/skops/logistic_regression.json').read())
)"));
    auto bare = scan_path(directory_ / "bare.keras");
    EXPECT_EQ(bare.format.format, file_format::keras_v3) << bare.format.detail;
    EXPECT_EQ(bare.overall, verdict::safe) << dump(bare);
    auto evil = scan_path(directory_ / "evil.keras");
    EXPECT_TRUE(has(evil, verdict::dangerous, "code-execution", "subprocess", "Popen")) << dump(evil);
    EXPECT_EQ(evil.findings.at(0).member, "config.json");
    auto model = scan_path(directory_ / "model.skops");
    EXPECT_EQ(model.format.format, file_format::skops) << model.format.detail;
    EXPECT_EQ(file_format_name(model.format.format), "skops");
    EXPECT_EQ(model.overall, verdict::safe) << dump(model);
}

}  // namespace
}  // namespace stkit::detail
