// TensorFlow graphs (src/scan/tensorflow.cpp) on hand-encoded SavedModels and GraphDefs: every op
// rule with its clean twin, the saver subgraphs that must stay safe, the lenient protobuf reading,
// the limits, and the wiring through scan_bytes and scan_path.
#include <string>

#include "containers/fixtures.hpp"
#include "scan/internal.hpp"
#include "scan/findings.hpp"
#include "scan/protobuf_encoder.hpp"

namespace stkit {
namespace {

using namespace test::proto;
using test::dump;
using test::count_findings;

// tensorflow/core/framework and tensorflow/core/protobuf messages, by field number.
std::string attr(std::string_view name, const std::string& value) {  // NodeDef.attr entry
    return bytes(5, bytes(1, name) + bytes(2, value));
}
std::string string_value(std::string_view s) { return bytes(2, s); }  // AttrValue.s
std::string string_list(std::initializer_list<std::string_view> items) { return bytes(1, each(2, items)); }
std::string string_tensor(std::string_view s) {  // AttrValue.tensor {dtype DT_STRING, string_val}
    return bytes(8, number(1, 7) + bytes(8, s));
}
std::string node(std::string_view name, std::string_view op,
                 std::initializer_list<std::string_view> inputs = {}, const std::string& attrs = {}) {
    return bytes(1, name) + bytes(2, op) + each(3, inputs) + attrs;
}
std::string const_string(std::string_view name, std::string_view value) {
    return node(name, "Const", {}, attr("dtype", number(6, 7)) + attr("value", string_tensor(value)));
}
std::string graph(std::initializer_list<std::string> nodes, const std::string& library = {}) {
    std::string out;
    for (const std::string& n : nodes) out += bytes(1, n);
    return library.empty() ? out : out + bytes(2, library);
}
std::string function(std::string_view name, std::initializer_list<std::string> nodes) {
    std::string out = bytes(1, bytes(1, name));  // signature.name
    for (const std::string& n : nodes) out += bytes(3, n);
    return bytes(1, out);  // one FunctionDefLibrary.function
}
// A SavedModel with one meta graph; `meta_fields` adds fields to it (saver_def, asset_file_def).
std::string saved_model(const std::string& graph_def, const std::string& meta_fields = {}) {
    std::string meta_info = bytes(1, bytes(4, "serve"));
    return number(1, 1) + bytes(2, meta_info + bytes(2, graph_def) + meta_fields);
}
std::string asset_file_def(std::string_view tensor, std::string_view filename) {
    return bytes(6, bytes(1, bytes(1, tensor)) + bytes(2, filename));
}

file_report scan_graph(const std::string& message) {
    static const scan_options options;
    file_report report;
    detail::scan_state state{options, report};
    auto data = test::to_bytes(message);
    detail::scan_tf_graph(state, data, "saved_model.pb");
    return report;
}

const std::string placeholder = node("save/Const", "Placeholder", {}, attr("dtype", number(6, 7)));

TEST(tensorflow, pyfunc_in_saved_model_is_code_execution) {
    auto r = scan_graph(saved_model(graph({node("x", "Placeholder"), node("py", "PyFunc", {"x"})})));
    EXPECT_EQ(r.overall, verdict::dangerous) << dump(r);
    ASSERT_EQ(count_findings(r, "code-execution", "PyFunc"), 1u) << dump(r);
    const finding& f = r.findings.front();
    EXPECT_EQ(f.module, "tensorflow");
    EXPECT_EQ(f.member, "saved_model.pb");
    EXPECT_NE(f.message.find("'py'"), std::string::npos) << f.message;
    EXPECT_NE(f.offset, no_offset);
}

TEST(tensorflow, ops_in_function_bodies_are_found) {
    std::string lib = function("__inference_f_12", {node("EagerPyFunc", "EagerPyFunc", {"x"})});
    auto r = scan_graph(saved_model(graph({node("call", "StatefulPartitionedCall")}, lib)));
    EXPECT_EQ(count_findings(r, "code-execution", "EagerPyFunc"), 1u) << dump(r);
    EXPECT_NE(r.findings.at(0).message.find("'__inference_f_12'"), std::string::npos);
}

TEST(tensorflow, frozen_graph_def_with_file_ops) {
    std::string frozen = graph({const_string("path", "/etc/passwd"), node("read", "ReadFile", {"path"}),
                                node("write", "WriteFile", {"path", "read"})});
    auto r = scan_graph(frozen);
    EXPECT_EQ(r.overall, verdict::dangerous);
    EXPECT_EQ(count_findings(r, "file", "ReadFile"), 1u) << dump(r);
    EXPECT_EQ(count_findings(r, "file", "WriteFile"), 1u) << dump(r);
    // Read as a SavedModel too, the same graph is not found twice.
    EXPECT_EQ(r.findings.size(), 2u) << dump(r);
}

TEST(tensorflow, plain_math_graph_is_clean) {
    std::string frozen = graph({node("x", "Placeholder"), node("w", "Const"), node("mm", "MatMul", {"x", "w"}),
                                node("b", "Const"), node("y", "Add", {"mm", "b"})});
    EXPECT_TRUE(scan_graph(frozen).findings.empty()) << dump(scan_graph(frozen));
    EXPECT_TRUE(scan_graph(saved_model(frozen)).findings.empty());
}

TEST(tensorflow, readers_datasets_network_and_mapped_files) {
    for (std::string_view op : {"WholeFileReaderV2", "TFRecordDataset", "ImmutableConst", "MatchingFiles"}) {
        auto r = scan_graph(graph({node("n", op)}));
        EXPECT_EQ(count_findings(r, "file", op), 1u) << op << dump(r);
    }
    for (std::string_view op : {"DataServiceDatasetV4", "RpcClient"}) {
        auto r = scan_graph(graph({node("n", op)}));
        EXPECT_EQ(count_findings(r, "network", op), 1u) << op << dump(r);
    }
}

// TF1's Saver: the path is a PlaceholderWithDefault fed at restore time (its default "model"),
// joined with a temporary suffix and sharded.
std::string tf1_saver(const std::string& filename_source) {
    return graph({filename_source,
                  node("save/Const", "PlaceholderWithDefault", {"save/filename"}),
                  const_string("save/StringJoin/inputs_1", "_temp_6f1c2d/part"),
                  node("save/StringJoin", "StringJoin", {"save/Const", "save/StringJoin/inputs_1"}),
                  node("save/ShardedFilename", "ShardedFilename", {"save/StringJoin", "shard", "num_shards"}),
                  node("save/SaveV2", "SaveV2", {"save/ShardedFilename", "names", "slices", "w"}),
                  node("save/Pack", "Pack", {"save/ShardedFilename", "^save/SaveV2"}),
                  node("save/MergeV2Checkpoints", "MergeV2Checkpoints", {"save/Pack", "save/Const"}),
                  node("save/RestoreV2", "RestoreV2", {"save/Const", "names", "slices"})});
}

TEST(tensorflow, savers_fed_at_load_time_are_clean) {
    auto fed = scan_graph(saved_model(tf1_saver(node("save/filename", "Placeholder"))));
    EXPECT_TRUE(fed.findings.empty()) << dump(fed);
    auto defaulted = scan_graph(saved_model(tf1_saver(const_string("save/filename", "model"))));
    EXPECT_TRUE(defaulted.findings.empty()) << dump(defaulted);
    // TF2's traced save function: the prefix is an argument, the suffix chosen by Select.
    std::string lib = function(
        "__inference__traced_save_45",
        {node("StaticRegexFullMatch", "StaticRegexFullMatch", {"file_prefix"},
              attr("pattern", string_value("^s3://.*"))),
         const_string("Const", ".part"), const_string("Const_1", "_temp/part"),
         node("Select", "Select", {"StaticRegexFullMatch:output:0", "Const:output:0", "Const_1:output:0"}),
         node("StringJoin", "StringJoin", {"file_prefix", "Select:output:0"}),
         node("ShardedFilename", "ShardedFilename",
              {"StringJoin:output:0", "shard:output:0", "num_shards:output:0"}),
         node("SaveV2", "SaveV2", {"ShardedFilename:filename:0", "names:output:0", "slices:output:0"}),
         node("Pack", "Pack", {"ShardedFilename:filename:0", "^SaveV2"}),
         node("MergeV2Checkpoints", "MergeV2Checkpoints", {"Pack:output:0", "file_prefix"})});
    auto tf2 = scan_graph(saved_model(graph({placeholder}, lib)));
    EXPECT_TRUE(tf2.findings.empty()) << dump(tf2);
}

TEST(tensorflow, constant_checkpoint_paths_that_escape) {
    auto absolute = scan_graph(tf1_saver(const_string("save/filename", "/etc/cron.d/evil")));
    EXPECT_EQ(absolute.overall, verdict::dangerous) << dump(absolute);
    EXPECT_EQ(count_findings(absolute, "file", "SaveV2"), 1u) << dump(absolute);
    EXPECT_EQ(count_findings(absolute, "file", "RestoreV2"), 1u);
    EXPECT_EQ(count_findings(absolute, "file", "MergeV2Checkpoints"), 2u);  // both its inputs

    auto direct =
        scan_graph(graph({const_string("p", "C:\\Users\\x\\ckpt"), node("s", "SaveV2", {"p", "n", "t"})}));
    EXPECT_EQ(count_findings(direct, "file", "SaveV2"), 1u) << dump(direct);

    auto climbing = scan_graph(graph({placeholder, const_string("suffix", "/../../../home/user/.bashrc"),
                                      node("join", "StringJoin", {"save/Const", "suffix"}),
                                      node("s", "Save", {"join", "n", "t"})}));
    EXPECT_EQ(count_findings(climbing, "file", "Save"), 1u) << dump(climbing);

    // The same constant in tensor_content (every length, then every string), which TensorFlow
    // decodes too; a shape of one element.
    std::string hidden_path = "/etc/cron.d/evil";
    std::string content_tensor =
        number(1, 7) + bytes(2, bytes(2, number(1, 1))) + bytes(4, varint(hidden_path.size()) + hidden_path);
    auto content = scan_graph(graph({node("p", "Const", {}, attr("value", bytes(8, content_tensor))),
                                     node("s", "SaveV2", {"p", "n", "t"})}));
    EXPECT_EQ(count_findings(content, "file", "SaveV2"), 1u) << dump(content);

    auto url =
        scan_graph(graph({const_string("p", "gs://bucket/ckpt"), node("r", "RestoreV2", {"p", "n", "s"})}));
    EXPECT_EQ(count_findings(url, "network", "RestoreV2"), 1u) << dump(url);

    // A relative constant is the model's own business; only the start of a path may be absolute.
    auto relative = scan_graph(graph({const_string("p", "variables/variables"), const_string("q", "/part"),
                                      node("j", "StringJoin", {"p", "q"}), node("s", "SaveV2", {"j", "n", "t"})}));
    EXPECT_TRUE(relative.findings.empty()) << dump(relative);
}

TEST(tensorflow, paths_the_loader_feeds) {
    // TF1 exports keep an asset's path at export time in a Const the loader feeds with
    // assets/<filename>; a vocabulary table reads what is fed.
    std::string table = graph({const_string("asset_path", "/home/export/vocab.txt"),
                               node("init", "InitializeTableFromTextFileV2", {"table", "asset_path"})});
    auto fed = scan_graph(saved_model(table, asset_file_def("asset_path:0", "vocab.txt")));
    EXPECT_TRUE(fed.findings.empty()) << dump(fed);
    auto unfed = scan_graph(saved_model(table));
    EXPECT_EQ(count_findings(unfed, "file", "InitializeTableFromTextFileV2"), 1u) << dump(unfed);
    // The asset's own name may not climb out of the assets folder.
    auto climbing = scan_graph(saved_model(table, asset_file_def("asset_path:0", "../../../etc/passwd")));
    EXPECT_EQ(count_findings(climbing, "file", "asset_file_def"), 1u) << dump(climbing);
    // The saver's filename tensor is fed at restore time, whatever its constant.
    std::string saver = tf1_saver(const_string("save/filename", "/abs/export/model.ckpt"));
    EXPECT_TRUE(scan_graph(saved_model(saver, bytes(3, bytes(1, "save/Const:0")))).findings.empty());
}

TEST(tensorflow, long_path_chains_are_not_followed) {
    std::string g = bytes(1, const_string("i0", "/etc/x"));
    for (int i = 1; i <= 20; ++i)
        g += bytes(1, node("i" + std::to_string(i), "Identity", {"i" + std::to_string(i - 1)}));
    g += bytes(1, node("s", "SaveV2", {"i20", "n", "t"}));
    auto r = scan_graph(g);
    EXPECT_EQ(r.overall, verdict::suspicious) << dump(r);
    EXPECT_EQ(count_findings(r, "limit", "SaveV2"), 1u);
    // All the traces of a graph share one budget: a thousand savers of a constant of 2,000 strings.
    std::string many_strings;
    for (int i = 0; i < 2000; ++i) many_strings += bytes(8, "part");
    std::string crowded = bytes(1, node("c", "Const", {}, attr("value", bytes(8, number(1, 7) + many_strings))));
    for (int i = 0; i < 1000; ++i) crowded += bytes(1, node("s" + std::to_string(i), "SaveV2", {"c", "n", "t"}));
    auto budget = scan_graph(crowded);
    EXPECT_EQ(budget.overall, verdict::suspicious);
    EXPECT_EQ(count_findings(budget, "limit", "SaveV2"), 256u);  // the rest counted in one more
    // A short chain is followed to its constant.
    auto near = scan_graph(graph({const_string("c", "/etc/x"), node("i", "Identity", {"c"}),
                                  node("s", "SaveV2", {"i:0", "n", "t"})}));
    EXPECT_EQ(count_findings(near, "file", "SaveV2"), 1u) << dump(near);
}

TEST(tensorflow, destinations_in_attrs) {
    auto print_to = [](std::string_view stream) {
        return scan_graph(graph({node("p", "PrintV2", {"x"}, attr("output_stream", string_value(stream)))}));
    };
    EXPECT_EQ(count_findings(print_to("file:///tmp/leak"), "file", "PrintV2"), 1u);
    EXPECT_TRUE(print_to("log(info)").findings.empty()) << dump(print_to("log(info)"));

    auto grpc = scan_graph(
        graph({node("d", "DebugIdentity", {"x"}, attr("debug_urls", string_list({"grpc://evil:6064"})))}));
    EXPECT_EQ(count_findings(grpc, "network", "DebugIdentity"), 1u) << dump(grpc);
    auto silent = scan_graph(graph({node("d", "DebugIdentityV2", {"x"}, attr("debug_urls", string_list({}))),
                                    node("c", "CopyHost", {"x"})}));
    EXPECT_TRUE(silent.findings.empty()) << dump(silent);

    auto decode_from = [](std::string_view source) {
        return scan_graph(graph({node("d", "DecodeProtoV2", {"x"}, attr("descriptor_source", string_value(source)))}));
    };
    EXPECT_EQ(count_findings(decode_from("/etc/fds"), "file", "DecodeProtoV2"), 1u);
    EXPECT_TRUE(decode_from("bytes://\x0a\x01x").findings.empty()) << dump(decode_from("bytes://\x0a\x01x"));
    EXPECT_TRUE(decode_from("local://").findings.empty());
}

TEST(tensorflow, read_leniently_as_tensorflow_parses) {
    // Unknown fields, a group, a field of the wrong wire type and a repeated op (the last one wins)
    // do not hide a node.
    std::string hidden = number(99, 7) + group(98, number(1, 1) + bytes(2, "x")) + number(2, 5) +
                         bytes(2, "NoOp") + node("py", "PyFunc");
    auto r = scan_graph(graph({hidden}));
    EXPECT_EQ(count_findings(r, "code-execution", "PyFunc"), 1u) << dump(r);
    auto replaced = scan_graph(graph({node("n", "PyFunc") + bytes(2, "NoOp")}));
    EXPECT_TRUE(replaced.findings.empty()) << dump(replaced);
}

TEST(tensorflow, nothing_from_bytes_a_parser_refuses) {
    std::string good = graph({node("py", "PyFunc")});
    EXPECT_TRUE(scan_graph(good.substr(0, good.size() - 1)).findings.empty());  // truncated
    EXPECT_TRUE(scan_graph(good + "\x07").findings.empty());                    // wire type 7
    EXPECT_TRUE(scan_graph(good + key(3, 4)).findings.empty());                 // stray end group
    EXPECT_TRUE(scan_graph("plain text, not a graph\n").findings.empty());
    EXPECT_TRUE(scan_graph("").findings.empty());
}

TEST(tensorflow, findings_are_capped_per_graph) {
    std::string g;
    for (int i = 0; i < 300; ++i) g += bytes(1, node("py" + std::to_string(i), "PyFunc"));
    auto r = scan_graph(g);
    EXPECT_EQ(count_findings(r, "code-execution"), 256u);
    ASSERT_EQ(count_findings(r, "limit"), 1u);
    EXPECT_EQ(r.overall, verdict::dangerous);
    EXPECT_NE(r.findings.back().message.find("44 more"), std::string::npos) << r.findings.back().message;
}

TEST(tensorflow, nodes_kept_within_limits) {
    // A node with more inputs than are kept is judged on those kept, and the graph reported as not
    // fully analysed.
    std::string inputs;
    for (int i = 0; i < 1100; ++i) inputs += bytes(3, "p" + std::to_string(i));
    auto r = scan_graph(graph({const_string("p0", "/etc/x"), bytes(1, "packed") + bytes(2, "Pack") + inputs,
                               node("m", "MergeV2Checkpoints", {"packed", "dest"})}));
    EXPECT_EQ(count_findings(r, "file", "MergeV2Checkpoints"), 1u) << dump(r);
    EXPECT_EQ(count_findings(r, "limit"), 1u) << dump(r);
    // Nodes no rule reads are not kept: a graph of them is judged in full.
    std::string plain;
    for (int i = 0; i < 5000; ++i) plain += bytes(1, node("n" + std::to_string(i), "AddN", {"a", "b", "c"}));
    EXPECT_TRUE(scan_graph(plain).findings.empty());
}

TEST(tensorflow, wired_into_scan_bytes_and_saved_model_folders) {
    // A frozen graph has no magic: detected as nothing, scanned all the same.
    auto frozen = test::to_bytes(graph({node("read", "ReadFile", {"p"})}));
    auto r = scan_bytes(frozen, "frozen.pb");
    EXPECT_EQ(r.overall, verdict::dangerous) << dump(r);

    auto model = test::to_bytes(saved_model(graph({node("py", "PyFunc")})));
    EXPECT_EQ(scan_bytes(model, "saved_model.pb").format.format, file_format::tf_savedmodel);
    EXPECT_EQ(scan_bytes(model, "saved_model.pb").overall, verdict::dangerous);

    auto folder = std::filesystem::temp_directory_path() / ("stkit_tf_folder_" + std::to_string(::getpid()));
    std::filesystem::create_directories(folder / "variables");
    test::write_bytes(folder / "saved_model.pb", model);
    auto scanned = scan_path(folder);
    EXPECT_EQ(scanned.format.format, file_format::tf_savedmodel);
    EXPECT_EQ(scanned.path, folder.string());
    EXPECT_EQ(scanned.overall, verdict::dangerous) << dump(scanned);
    EXPECT_EQ(count_findings(scanned, "code-execution", "PyFunc"), 1u);
    EXPECT_EQ(scanned.findings.at(0).member, "saved_model.pb");
    auto saver = saved_model(tf1_saver(node("save/filename", "Placeholder")));
    test::write_bytes(folder / "saved_model.pb", test::to_bytes(saver));
    EXPECT_EQ(scan_path(folder).overall, verdict::safe) << dump(scan_path(folder));
    std::filesystem::remove_all(folder);
}

}  // namespace
}  // namespace stkit
