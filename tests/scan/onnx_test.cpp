// ONNX models (src/scan/onnx.cpp) on hand-encoded ModelProtos: external data locations that escape
// the model's folder in every place a tensor can sit, custom operator domains and the local
// functions that define theirs, the nesting limit, and the clean twins.
#include <string>
#include <vector>

#include "containers/fixtures.hpp"
#include "scan/internal.hpp"
#include "scan/findings.hpp"
#include "scan/protobuf_encoder.hpp"

namespace stkit {
namespace {

using namespace test::proto;
using test::dump;
using test::count_findings;

// onnx/onnx.proto3 messages, by field number.
std::string external_tensor(std::string_view name, std::string_view location) {  // TensorProto
    auto entry = [](std::string_view k, std::string_view v) { return bytes(13, bytes(1, k) + bytes(2, v)); };
    return number(1, 4) + number(2, 1) + bytes(8, name) + entry("location", location) + entry("offset", "0") +
           entry("length", "64") + number(14, 1);
}
std::string tensor_attribute(std::string_view name, const std::string& tensor) {  // AttributeProto.t
    return bytes(1, name) + bytes(5, tensor) + number(20, 4);
}
std::string graph_attribute(std::string_view name, const std::string& graph) {  // AttributeProto.g
    return bytes(1, name) + bytes(6, graph) + number(20, 5);
}
std::string onnx_node(std::string_view name, std::string_view op_type, std::string_view domain = {},
                      const std::string& attribute = {}) {  // NodeProto
    std::string out = each(1, {"x"}) + each(2, {"y"}) + bytes(3, name) + bytes(4, op_type);
    if (!domain.empty()) out += bytes(7, domain);
    return attribute.empty() ? out : out + bytes(5, attribute);
}
std::string opset(std::string_view domain, uint64_t version) { return bytes(1, domain) + number(2, version); }
// GraphProto with nodes (field 1), initializers (5) and a name (2).
std::string onnx_graph(std::initializer_list<std::string> nodes,
                       std::initializer_list<std::string> initializers = {}) {
    std::string out;
    for (const std::string& n : nodes) out += bytes(1, n);
    out += bytes(2, "main");
    for (const std::string& t : initializers) out += bytes(5, t);
    return out;
}
std::string model(const std::string& graph, const std::string& extra = {}) {  // ModelProto
    return number(1, 8) + bytes(2, "stkit-test") + bytes(7, graph) + bytes(8, opset("", 17)) + extra;
}

file_report scan_model(const std::string& message) {
    auto data = test::to_bytes(message);
    return scan_bytes(data, "model.onnx");
}

std::string with_initializer_at(std::string_view location) {
    return model(onnx_graph({onnx_node("mm", "MatMul")}, {external_tensor("w", location)}));
}

TEST(onnx, external_data_outside_the_folder_is_dangerous) {
    for (std::string_view location :
         {"../../etc/passwd", "/etc/passwd", "C:\\Windows\\win.ini", "C:w.bin", "\\\\server\\share\\w.bin",
          "data/..\\..\\secret", "data/../../x", "file:///etc/passwd", "w.bin:stream", "*/_ORT_MEM_ADDR_/*",
          "", "w\nbin", "weights/*.bin"}) {
        auto r = scan_model(with_initializer_at(location));
        EXPECT_EQ(r.format.format, file_format::onnx) << location;
        EXPECT_EQ(r.overall, verdict::dangerous) << location << dump(r);
        ASSERT_EQ(count_findings(r, "file", "w"), 1u) << location << dump(r);
        EXPECT_NE(r.findings.front().offset, no_offset);
    }
}

TEST(onnx, relative_external_data_is_clean) {
    for (std::string_view location :
         {"weights.bin", "data/w.bin", "./w.bin", "model.onnx_data", "..weights", "a..b/c"}) {
        auto r = scan_model(with_initializer_at(location));
        EXPECT_EQ(r.overall, verdict::safe) << location << dump(r);
        EXPECT_TRUE(r.findings.empty()) << location << dump(r);
    }
}

TEST(onnx, every_place_a_tensor_sits) {
    const std::string bad = external_tensor("w", "../../etc/passwd");
    const std::string good = external_tensor("i", "weights.bin");
    const std::string plain = onnx_node("mm", "MatMul");
    std::string subgraph = onnx_graph({plain}, {bad});
    std::vector<std::string> models = {
        // sparse_initializer: values and indices
        model(onnx_graph({plain}) + bytes(15, bytes(1, bad) + bytes(2, good))),
        model(onnx_graph({plain}) + bytes(15, bytes(1, good) + bytes(2, bad))),
        // node attributes: t, tensors, sparse_tensor, a subgraph (If) and a list of graphs
        model(onnx_graph({onnx_node("c", "Constant", {}, tensor_attribute("value", bad))})),
        model(onnx_graph({onnx_node("c", "Constant", {}, bytes(1, "v") + bytes(10, good) + bytes(10, bad))})),
        model(onnx_graph({onnx_node("c", "Constant", {}, bytes(1, "s") + bytes(22, bytes(1, bad)))})),
        model(onnx_graph({onnx_node("if", "If", {}, graph_attribute("then_branch", subgraph))})),
        model(onnx_graph({onnx_node("s", "Scan", {}, bytes(1, "bodies") + bytes(11, subgraph))})),
        // training graphs: initialization and algorithm
        model(onnx_graph({plain}), bytes(20, bytes(1, subgraph))),
        model(onnx_graph({plain}), bytes(20, bytes(2, subgraph))),
        // local functions: a node's attribute and a default attribute value
        model(onnx_graph({plain}),
              bytes(25, bytes(1, "F") + bytes(7, onnx_node("c", "Constant", {}, tensor_attribute("value", bad))))),
        model(onnx_graph({plain}), bytes(25, bytes(1, "F") + bytes(11, tensor_attribute("t", bad)))),
    };
    for (std::size_t i = 0; i < models.size(); ++i) {
        auto r = scan_model(models[i]);
        EXPECT_EQ(r.overall, verdict::dangerous) << i << dump(r);
        EXPECT_EQ(count_findings(r, "file", "w"), 1u) << i << dump(r);
    }
}

TEST(onnx, custom_operator_domains_are_suspicious) {
    auto node_domain = scan_model(model(onnx_graph({onnx_node("n", "Inverse", "com.evil")})));
    EXPECT_EQ(node_domain.overall, verdict::suspicious) << dump(node_domain);
    ASSERT_EQ(count_findings(node_domain, "custom-operator", "Inverse"), 1u) << dump(node_domain);
    EXPECT_EQ(node_domain.findings.front().module, "com.evil");

    auto imported =
        scan_model(model(onnx_graph({onnx_node("n", "Relu")}), bytes(8, opset("ai.onnx.contrib", 1))));
    EXPECT_EQ(count_findings(imported, "custom-operator"), 1u) << dump(imported);
    EXPECT_EQ(imported.findings.front().module, "ai.onnx.contrib");

    // One finding per domain, however many nodes use it.
    auto many = scan_model(model(onnx_graph({onnx_node("a", "A", "x.y"), onnx_node("b", "B", "x.y")}),
                                 bytes(8, opset("x.y", 1))));
    EXPECT_EQ(count_findings(many, "custom-operator"), 1u) << dump(many);
}

TEST(onnx, builtin_domains_are_clean) {
    std::string imports;
    for (std::string_view d : {"ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training",
                               "com.microsoft", "com.microsoft.nchwc", "com.microsoft.experimental",
                               "com.ms.internal.nhwc"})
        imports += bytes(8, opset(d, 1));
    auto r = scan_model(model(onnx_graph({onnx_node("a", "Relu"), onnx_node("b", "Attention", "com.microsoft"),
                                          onnx_node("c", "LinearClassifier", "ai.onnx.ml")}),
                              imports));
    EXPECT_EQ(r.overall, verdict::safe) << dump(r);
    EXPECT_TRUE(r.findings.empty()) << dump(r);
}

TEST(onnx, local_functions_define_their_domains) {
    std::string block = bytes(25, bytes(1, "Block") + bytes(10, "pkg.local") + bytes(9, opset("", 17)) +
                                      bytes(7, onnx_node("r", "Relu")));
    auto calls = scan_model(
        model(onnx_graph({onnx_node("b", "Block", "pkg.local")}), bytes(8, opset("pkg.local", 1)) + block));
    EXPECT_TRUE(calls.findings.empty()) << dump(calls);
    // The same domain with an op no function defines needs a custom-op library.
    auto other = scan_model(model(onnx_graph({onnx_node("o", "Other", "pkg.local")}), block));
    EXPECT_EQ(count_findings(other, "custom-operator", "Other"), 1u) << dump(other);
}

TEST(onnx, deep_subgraphs_are_reported_not_walked) {
    std::string g = onnx_graph({onnx_node("leaf", "Relu")});
    for (int i = 0; i < 40; ++i) g = onnx_graph({onnx_node("if", "If", {}, graph_attribute("then_branch", g))});
    auto r = scan_model(model(g));
    EXPECT_EQ(r.overall, verdict::suspicious) << dump(r);
    EXPECT_EQ(count_findings(r, "limit"), 1u);
}

TEST(onnx, models_detection_refuses_are_still_scanned) {
    // ModelProto.configuration (26, ONNX 1.18) is not in the detector's schema; loaders skip what they
    // do not know.
    auto r = scan_model(with_initializer_at("/etc/shadow") + bytes(26, bytes(1, "cfg")));
    EXPECT_EQ(r.format.format, file_format::unknown);
    EXPECT_EQ(count_findings(r, "file", "w"), 1u) << dump(r);
    auto custom = scan_model(model(onnx_graph({onnx_node("n", "Inverse", "com.evil")})) + number(99, 1));
    EXPECT_EQ(count_findings(custom, "custom-operator"), 1u) << dump(custom);
}

TEST(onnx, other_protobufs_are_not_judged_as_models) {
    // A field 8 with a string inside is common; without ir_version and a graph it is no opset import.
    EXPECT_TRUE(scan_model(bytes(8, bytes(1, "\x08\x01\x10\x02"))).findings.empty());
    EXPECT_TRUE(scan_model(bytes(1, "name") + bytes(8, bytes(1, "xyz"))).findings.empty());
    // Not valid protobuf further in: a parser refuses the whole model.
    std::string broken = model(onnx_graph({onnx_node("n", "Inverse", "com.evil") + "\x07"}));
    EXPECT_TRUE(scan_model(broken).findings.empty()) << dump(scan_model(broken));
}

}  // namespace
}  // namespace stkit
