// TensorFlow graphs (SavedModel saved_model.pb, frozen GraphDef .pb): the ops that run Python or
// reach files or the network when a loader runs the graph.
//
// A graph holds no code of its own, but some ops call back into Python (PyFunc), read or write any
// path they are given (ReadFile, WriteFile, readers and datasets), send tensors somewhere (debug
// ops, PrintV2 to a file) or talk to servers (RPC, tf.data service). The walk reads the protobuf
// the way TensorFlow's parser does, leniently (unknown fields and mismatched wire types skipped), so
// a field added to hide a node does not hide it; each node's op is looked up in one table.
#include <algorithm>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "scan/graph.hpp"
#include "scan/protobuf.hpp"
#include "stkit/scan/dangerous.hpp"

namespace stkit::detail {
namespace {

using namespace protobuf;
using enum danger_category;

// Field numbers: tensorflow/core/protobuf/{saved_model,meta_graph}.proto and
// tensorflow/core/framework/{graph,node_def,function,op_def,attr_value,tensor}.proto.
constexpr uint32_t saved_model_meta_graphs = 2;  // SavedModel.meta_graphs (MetaGraphDef)
constexpr uint32_t meta_graph_graph_def = 2;     // MetaGraphDef.graph_def (GraphDef)
constexpr uint32_t meta_graph_saver_def = 3;     // MetaGraphDef.saver_def (SaverDef)
constexpr uint32_t meta_graph_asset_file_def = 6;  // MetaGraphDef.asset_file_def (AssetFileDef)
constexpr uint32_t saver_filename_tensor = 1;    // SaverDef.filename_tensor_name
constexpr uint32_t asset_tensor_info = 1, asset_filename = 2;  // AssetFileDef
constexpr uint32_t tensor_info_name = 1;         // TensorInfo.name
constexpr uint32_t graph_node = 1;               // GraphDef.node (NodeDef)
constexpr uint32_t graph_library = 2;            // GraphDef.library (FunctionDefLibrary)
constexpr uint32_t library_function = 1;         // FunctionDefLibrary.function (FunctionDef)
constexpr uint32_t function_signature = 1;       // FunctionDef.signature (OpDef)
constexpr uint32_t function_node_def = 3;        // FunctionDef.node_def (NodeDef)
constexpr uint32_t op_def_name = 1;              // OpDef.name
constexpr uint32_t node_name = 1, node_op = 2, node_input = 3, node_attr = 5;  // NodeDef
constexpr uint32_t map_key = 1, map_value = 2;   // map<string, AttrValue> entries
constexpr uint32_t attr_list = 1, attr_s = 2, attr_tensor = 8;  // AttrValue
constexpr uint32_t list_s = 2;                   // AttrValue.ListValue.s
constexpr uint32_t tensor_dtype = 1, tensor_shape = 2;  // TensorProto
constexpr uint32_t tensor_content = 4, tensor_string_val = 8;
constexpr uint32_t shape_dim = 2, dim_size = 1;  // TensorShapeProto.dim, Dim.size
constexpr uint64_t dt_string = 7;                // types.proto DataType

// How an op in the table is judged.
enum class op_rule : uint8_t {
    always,       // the op reads, writes, connects or runs Python whatever its inputs
    path_input,   // only when a path input (bit i of `inputs`) is a constant that escapes the model
    destination,  // only when the string attr `attr` holds a value outside `allowed`
};

struct op_entry {
    std::string_view op;
    danger_category category;
    std::string_view reason;
    op_rule rule = op_rule::always;
    uint8_t inputs = 0;
    std::string_view attr = {};
    std::string_view allowed = {};  // '|'-separated values; one ending in '*' is a prefix
};

// THE list, one row per op. A saver's path is fed at load time (a Placeholder, a function argument)
// and built by StringJoin/ShardedFilename, so checkpoint ops are judged by their constant paths.
constexpr op_entry op_table[] = {
    {"PyFunc", code_execution, "calls a Python function of the loading process"},
    {"PyFuncStateless", code_execution, "calls a Python function of the loading process"},
    {"EagerPyFunc", code_execution, "calls a Python function of the loading process"},
    {"ReadFile", file, "reads the file its input names"},
    {"WriteFile", file, "writes the file its input names"},
    {"MatchingFiles", file, "lists the files matching a pattern"},
    {"WholeFileReader", file, "reads whole files named by a queue"},
    {"WholeFileReaderV2", file, "reads whole files named by a queue"},
    {"TextLineReader", file, "reads lines of files named by a queue"},
    {"TextLineReaderV2", file, "reads lines of files named by a queue"},
    {"FixedLengthRecordReader", file, "reads records of files named by a queue"},
    {"FixedLengthRecordReaderV2", file, "reads records of files named by a queue"},
    {"TFRecordReader", file, "reads TFRecord files named by a queue"},
    {"TFRecordReaderV2", file, "reads TFRecord files named by a queue"},
    {"LMDBReader", file, "reads LMDB files named by a queue"},
    {"TextLineDataset", file, "reads the files it is given"},
    {"TFRecordDataset", file, "reads the files it is given"},
    {"TFRecordDatasetV2", file, "reads the files it is given"},
    {"FixedLengthRecordDataset", file, "reads the files it is given"},
    {"FixedLengthRecordDatasetV2", file, "reads the files it is given"},
    {"CSVDataset", file, "reads the files it is given"},
    {"CSVDatasetV2", file, "reads the files it is given"},
    {"ExperimentalCSVDataset", file, "reads the files it is given"},
    {"LMDBDataset", file, "reads the files it is given"},
    {"ExperimentalLMDBDataset", file, "reads the files it is given"},
    {"SqlDataset", file, "queries the database file it is given"},
    {"ExperimentalSqlDataset", file, "queries the database file it is given"},
    {"MatchingFilesDataset", file, "lists the files matching patterns"},
    {"ExperimentalMatchingFilesDataset", file, "lists the files matching patterns"},
    {"LoadDataset", file, "reads a saved dataset from a path"},
    {"SaveDataset", file, "writes a dataset to a path"},
    {"SaveDatasetV2", file, "writes a dataset to a path"},
    {"SnapshotDataset", file, "writes and reads dataset snapshots at a path"},
    {"SnapshotDatasetV2", file, "writes and reads dataset snapshots at a path"},
    {"DatasetToTFRecord", file, "writes a dataset to a TFRecord file"},
    {"ExperimentalDatasetToTFRecord", file, "writes a dataset to a TFRecord file"},
    {"ImmutableConst", file, "maps the file its memory_region_name attr names"},
    {"CreateSummaryFileWriter", file, "writes event files to a folder"},
    {"CreateSummaryDbWriter", file, "writes a database file"},
    {"Save", file, "writes a checkpoint", op_rule::path_input, 0b1},
    {"SaveSlices", file, "writes a checkpoint", op_rule::path_input, 0b1},
    {"SaveV2", file, "writes a checkpoint", op_rule::path_input, 0b1},
    {"Restore", file, "reads a checkpoint", op_rule::path_input, 0b1},
    {"RestoreSlice", file, "reads a checkpoint", op_rule::path_input, 0b1},
    {"RestoreV2", file, "reads a checkpoint", op_rule::path_input, 0b1},
    {"MergeV2Checkpoints", file, "merges checkpoints and deletes the merged files", op_rule::path_input, 0b11},
    {"InitializeTableFromTextFile", file, "reads a vocabulary file", op_rule::path_input, 0b10},
    {"InitializeTableFromTextFileV2", file, "reads a vocabulary file", op_rule::path_input, 0b10},
    {"CacheDataset", file, "caches a dataset in a file", op_rule::path_input, 0b10},
    {"CacheDatasetV2", file, "caches a dataset in a file", op_rule::path_input, 0b10},
    {"PrintV2", file, "prints to the output_stream it names", op_rule::destination, 0, "output_stream",
     "stderr|stdout|log(info)|log(warning)|log(error)"},
    {"DebugIdentity", file, "sends tensors to its debug_urls", op_rule::destination, 0, "debug_urls"},
    {"DebugIdentityV2", file, "sends tensors to its debug_urls", op_rule::destination, 0, "debug_urls"},
    {"DebugIdentityV3", file, "sends tensors to its debug_urls", op_rule::destination, 0, "debug_urls"},
    {"DebugNanCount", file, "sends tensors to its debug_urls", op_rule::destination, 0, "debug_urls"},
    {"DebugNumericSummary", file, "sends tensors to its debug_urls", op_rule::destination, 0, "debug_urls"},
    {"Copy", file, "sends tensors to the debug URLs of its debug_ops_spec", op_rule::destination, 0,
     "debug_ops_spec"},
    {"CopyHost", file, "sends tensors to the debug URLs of its debug_ops_spec", op_rule::destination, 0,
     "debug_ops_spec"},
    {"DecodeProtoV2", file, "reads the descriptor file its descriptor_source names", op_rule::destination, 0,
     "descriptor_source", "local://|bytes://*"},
    {"EncodeProto", file, "reads the descriptor file its descriptor_source names", op_rule::destination, 0,
     "descriptor_source", "local://|bytes://*"},
    {"DataServiceDataset", network, "reads from a tf.data service over the network"},
    {"DataServiceDatasetV2", network, "reads from a tf.data service over the network"},
    {"DataServiceDatasetV3", network, "reads from a tf.data service over the network"},
    {"DataServiceDatasetV4", network, "reads from a tf.data service over the network"},
    {"RpcServer", network, "listens for remote calls"},
    {"RpcClient", network, "connects to an RPC server"},
    {"Rpc", network, "sends remote calls"},
    {"TryRpc", network, "sends remote calls"},
};

// How a constant reaches a path input: the ops a path flows through unchanged or as its start
// (bit i of `start`: input i keeps its place at the start of the path; of `inner`: it is joined
// after something else). Other producers (Placeholder, function arguments) are fed at load time.
constexpr uint32_t all_inputs = 0xffffffff;
struct path_flow {
    std::string_view op;
    uint32_t start;
    uint32_t inner = 0;
};
constexpr path_flow path_flows[] = {
    {"Identity", 0b1}, {"Snapshot", 0b1}, {"StopGradient", 0b1}, {"PlaceholderWithDefault", 0b1},
    {"ShardedFilename", 0b1}, {"StringJoin", 0b1, all_inputs & ~uint32_t{1}}, {"Select", 0b110},
    {"SelectV2", 0b110}, {"Pack", all_inputs}, {"IdentityN", all_inputs},
};
constexpr std::string_view constant_ops[] = {"Const", "HostConst"};
// A path traced further than this through the graph is reported as not followed.
constexpr unsigned max_path_trace_depth = 16;
constexpr unsigned max_path_trace_nodes = 64;
constexpr uint64_t max_path_trace_steps = uint64_t{1} << 20;
// Inputs and attr values kept per node; a node with more is kept cut and the graph reported as not
// fully analysed (no op a rule reads takes that many).
constexpr std::size_t max_node_items = 1024;

// The table by op name; the nodes a rule or a path trace reads (the others are not kept), and the
// attrs some row reads.
struct op_index {
    std::unordered_map<std::string_view, const op_entry*> ops;
    std::unordered_set<std::string_view> kept_ops{std::begin(constant_ops), std::end(constant_ops)};
    std::vector<std::string_view> kept_attrs{"value"};  // Const's tensor
    op_index() {
        for (const path_flow& flow : path_flows) kept_ops.insert(flow.op);
        for (const op_entry& entry : op_table) {
            ops.emplace(entry.op, &entry);
            kept_ops.insert(entry.op);
            bool kept = std::find(kept_attrs.begin(), kept_attrs.end(), entry.attr) != kept_attrs.end();
            if (!entry.attr.empty() && !kept) kept_attrs.push_back(entry.attr);
        }
    }
};
const op_index& op_lookup() {
    static const op_index built;
    return built;
}

struct tf_attr {
    std::string_view key;
    std::vector<field> values;  // every copy of the AttrValue (the parser merges them), read on demand
};

struct tf_node {
    std::string_view name, op;
    uint64_t offset = no_offset;
    std::vector<std::string_view> inputs;
    std::vector<tf_attr> attrs;

    [[nodiscard]] const tf_attr* attr(std::string_view key) const {
        for (const tf_attr& a : attrs)
            if (a.key == key) return &a;
        return nullptr;
    }
};

// Calls `each(text)` for every element of a string tensor until it returns false (then false):
// string_val, and tensor_content, which TensorFlow decodes as every element's length (a varint)
// then every element's bytes, and which would hide the strings from a reader of string_val alone.
template <class Each>
bool tensor_strings(const field& tensor, Each&& each) {
    uint64_t dtype = 0, elements = 1;
    std::span<const std::byte> content;
    // The element count saturates past the tensor's size, where it no longer matters (each element
    // takes a length byte at least); a negative dim, read as a huge one, too.
    const uint64_t cap = tensor.bytes.size() + 1;
    auto times = [cap](uint64_t a, uint64_t b) { return b != 0 && a > cap / b ? cap : std::min(a * b, cap); };
    bool stopped = false;
    (void)for_each_field(tensor.bytes, tensor.offset, [&](const field& f) {
        if (f.number == tensor_dtype && f.type == varint) dtype = f.value;
        if (f.is_bytes(tensor_string_val) && !each(f.text())) {
            stopped = true;
            return false;
        }
        if (f.is_bytes(tensor_content)) content = f.bytes;
        if (!f.is_bytes(tensor_shape)) return true;
        // Repeated shapes are merged, so every dim of every copy counts.
        return for_each_field(f.bytes, f.offset, [&](const field& dim) {
            return !dim.is_bytes(shape_dim) || for_each_field(dim.bytes, dim.offset, [&](const field& d) {
                if (d.number == dim_size && d.type == varint) elements = times(elements, d.value);
                return true;
            });
        });
    });
    if (stopped || dtype != dt_string || content.empty() || elements > content.size()) return !stopped;
    byte_cursor lengths(content);
    uint64_t length = 0;
    for (uint64_t i = 0; i < elements; ++i)
        if (!read_varint(lengths, length)) return true;
    byte_cursor sizes(content), texts(lengths.rest());
    for (uint64_t i = 0; i < elements; ++i) {
        if (!read_varint(sizes, length) || length > texts.remaining()) return true;
        auto text = texts.take_text(static_cast<std::size_t>(length));
        if (!text.ok()) return true;
        if (!each(*text)) return false;
    }
    return true;
}

// Calls `each(text)` for every string of an attr (s, list.s, a string tensor such as Const's value)
// until it returns false (then false). Bytes that do not parse end the strings.
template <class Each>
bool attr_strings(const tf_attr& attr, Each&& each) {
    bool stopped = false;
    auto one = [&](std::string_view text) {
        stopped = !each(text);
        return !stopped;
    };
    for (const field& value : attr.values) {
        (void)for_each_field(value.bytes, value.offset, [&](const field& f) {
            if (f.is_bytes(attr_s)) return one(f.text());
            if (f.is_bytes(attr_tensor)) return tensor_strings(f, one);
            return !f.is_bytes(attr_list) || for_each_field(f.bytes, f.offset, [&](const field& g) {
                return !g.is_bytes(list_s) || one(g.text());
            });
        });
        if (stopped) return false;
    }
    return true;
}

// One attr map entry. Its key may follow its value, so the key is found first; the values of attrs
// a rule reads are kept to be read when needed (a parser that refuses them would only refuse more
// files). `cut` is set when values are left out (max_node_items).
bool read_attr_entry(const field& entry, tf_node& node, bool& cut) {
    std::string_view key;
    bool ok = for_each_field(entry.bytes, entry.offset, [&](const field& f) {
        if (f.is_bytes(map_key)) key = f.text();
        return true;
    });
    const auto& kept = op_lookup().kept_attrs;
    if (!ok || std::find(kept.begin(), kept.end(), key) == kept.end()) return ok;
    tf_attr attr{key, {}};
    (void)for_each_field(entry.bytes, entry.offset, [&](const field& f) {
        if (!f.is_bytes(map_value)) return true;
        if (attr.values.size() < max_node_items) attr.values.push_back(f);
        else cut = true;
        return true;
    });
    auto same = std::find_if(node.attrs.begin(), node.attrs.end(),
                             [&](const tf_attr& a) { return a.key == key; });
    if (same != node.attrs.end()) *same = std::move(attr);  // a repeated map key: the last one wins
    else node.attrs.push_back(std::move(attr));
    return true;
}

// The nodes kept by a walk, within max_graph_items (see graph.hpp).
struct node_store {
    uint64_t items_left = max_graph_items;
    bool cut = false;  // something was left out: the graph is not fully analysed

    bool take(uint64_t items) {
        if (items > items_left) {
            cut = true;
            return false;
        }
        items_left -= items;
        return true;
    }
};

bool read_node(const field& def, std::vector<tf_node>& nodes, node_store& store) {
    tf_node node;
    node.offset = def.offset;
    bool cut = false;
    bool ok = for_each_field(def.bytes, def.offset, [&](const field& f) {
        if (f.is_bytes(node_name)) node.name = f.text();  // singular fields: the last one wins
        else if (f.is_bytes(node_op)) node.op = f.text();
        else if (f.is_bytes(node_attr)) return read_attr_entry(f, node, cut);
        else if (f.is_bytes(node_input) && node.inputs.size() < max_node_items) node.inputs.push_back(f.text());
        else if (f.is_bytes(node_input)) cut = true;
        return true;
    });
    if (!op_lookup().kept_ops.contains(node.op)) return ok;
    uint64_t items = 1 + node.inputs.size();
    for (const tf_attr& a : node.attrs) items += a.values.size();
    store.cut = store.cut || cut;
    if (store.take(items)) nodes.push_back(std::move(node));
    return ok;
}

// The node of a tensor or input name: "node", "node:1" in graphs, "node:output:0" in function bodies.
std::string_view node_of(std::string_view tensor) {
    return tensor.substr(0, tensor.find(':'));
}

// Where a path input's constant text comes from, and why it escapes the model.
struct traced_path {
    std::string_view path;
    std::string_view reason;
    bool too_far = false;  // the trace hit its limits before reaching every constant
};

// Follows path inputs back to the constants they are made of, within one graph or function body.
// Each input is followed max_path_trace_depth ops deep and through max_path_trace_nodes nodes, and
// all of a graph's inputs together take at most max_path_trace_steps steps (a node or a string), so
// many savers of one huge constant cost no more than that; what is left is reported as not followed.
class path_tracer {
public:
    // `fed` names the nodes the loader feeds (an asset's path, the saver's prefix), whatever
    // constant the graph gives them.
    path_tracer(std::span<const tf_node> nodes, std::span<const std::string_view> fed) {
        for (const tf_node& node : nodes) by_name_.insert_or_assign(node.name, &node);
        for (std::string_view name : fed) by_name_.erase(name);
    }

    [[nodiscard]] std::optional<traced_path> escape(std::string_view input) {
        unsigned nodes = max_path_trace_nodes;
        return trace(input, true, 0, nodes);
    }

private:
    std::optional<traced_path> trace(std::string_view input, bool at_start, unsigned depth, unsigned& nodes) {
        if (input.starts_with('^')) return std::nullopt;  // a control input carries no value
        if (depth > max_path_trace_depth || nodes == 0 || steps_ == 0) return traced_path{input, {}, true};
        --nodes;
        --steps_;
        auto found = by_name_.find(node_of(input));
        if (found == by_name_.end()) return std::nullopt;  // fed at load time
        const tf_node& node = *found->second;
        if (std::find(std::begin(constant_ops), std::end(constant_ops), node.op) != std::end(constant_ops)) {
            const tf_attr* value = node.attr("value");
            std::optional<traced_path> escaped;
            if (value)
                (void)attr_strings(*value, [&](std::string_view text) {
                    if (steps_ == 0) {
                        escaped = traced_path{input, {}, true};
                        return false;
                    }
                    --steps_;
                    if (std::string_view why = path_escape(text, at_start); !why.empty())
                        escaped = traced_path{text, why};
                    return !escaped;
                });
            return escaped;
        }
        const path_flow* flow = nullptr;
        for (const path_flow& candidate : path_flows)
            if (candidate.op == node.op) flow = &candidate;
        if (!flow) return std::nullopt;
        for (std::size_t i = 0; i < node.inputs.size(); ++i) {
            uint32_t bit = uint32_t{1} << std::min<std::size_t>(i, 31);
            if (((flow->start | flow->inner) & bit) == 0) continue;
            if (auto traced = trace(node.inputs[i], at_start && (flow->start & bit) != 0, depth + 1, nodes))
                return traced;
        }
        return std::nullopt;
    }

    std::unordered_map<std::string_view, const tf_node*> by_name_;
    uint64_t steps_ = max_path_trace_steps;
};

bool allowed_value(std::string_view allowed, std::string_view value) {
    if (value.empty()) return true;
    while (!allowed.empty()) {
        std::size_t bar = allowed.find('|');
        std::string_view one = allowed.substr(0, bar);
        if (one.ends_with('*') ? value.starts_with(one.substr(0, one.size() - 1)) : value == one) return true;
        allowed = bar == std::string_view::npos ? std::string_view() : allowed.substr(bar + 1);
    }
    return false;
}

// Judges every node of one graph or function body (`function` names it, empty for a graph).
void check_nodes(std::span<const tf_node> nodes, std::string_view function,
                 std::span<const std::string_view> fed, graph_findings& out) {
    std::optional<path_tracer> tracer;  // built for the first path input only
    for (const tf_node& node : nodes) {
        auto row = op_lookup().ops.find(node.op);
        if (row == op_lookup().ops.end()) continue;
        const op_entry& entry = *row->second;
        auto report = [&](verdict severity, danger_category category, std::string detail) {
            std::string where = "node " + quoted(node.name);
            if (!function.empty()) where += " of function " + quoted(function);
            out.add(severity, severity == verdict::dangerous ? danger_category_name(category) : "limit",
                    "TensorFlow op " + std::string(node.op) + " (" + where + ") " + std::string(entry.reason) +
                        detail,
                    "tensorflow", std::string(node.op), node.offset);
        };
        switch (entry.rule) {
            case op_rule::always: report(verdict::dangerous, entry.category, {}); break;
            case op_rule::path_input:
                for (std::size_t i = 0; i < node.inputs.size() && i < 8 * sizeof entry.inputs; ++i) {
                    if ((entry.inputs & (1u << i)) == 0) continue;
                    if (!tracer) tracer.emplace(nodes, fed);
                    auto traced = tracer->escape(node.inputs[i]);
                    if (!traced) continue;
                    if (traced->too_far)
                        report(verdict::suspicious, entry.category, ": its path is not traced to its end (limits)");
                    else
                        report(verdict::dangerous, is_network_url(traced->path) ? network : entry.category,
                               ": its path " + quoted(traced->path) + " " + std::string(traced->reason));
                }
                break;
            case op_rule::destination:
                if (const tf_attr* destinations = node.attr(entry.attr))
                    (void)attr_strings(*destinations, [&](std::string_view value) {
                        if (!allowed_value(entry.allowed, value))
                            report(verdict::dangerous, is_network_url(value) ? network : entry.category,
                                   ": " + quoted(value));
                        return true;
                    });
                break;
        }
    }
}

// The walks of the messages that hold nodes; each returns false when the bytes are not protobuf.
class tf_walk {
public:
    explicit tf_walk(graph_findings& out) : out_(out) {}

    bool saved_model(std::span<const std::byte> bytes) {
        return finish(for_each_field(bytes, 0, [&](const field& f) {
            return !f.is_bytes(saved_model_meta_graphs) || meta_graph(f);
        }));
    }

    // A repeated singular message is merged by the parser: every graph_def of a meta graph (and
    // every node field of a graph) adds to one node list.
    bool graph_def(std::span<const std::byte> bytes) {
        std::vector<tf_node> nodes;
        if (!graph_fields(bytes, 0, nodes)) return false;
        check_nodes(nodes, {}, {}, out_);
        return finish(true);
    }

private:
    bool finish(bool ok) {
        if (ok && store_.cut)
            out_.add(verdict::suspicious, "limit",
                     "TensorFlow graph too large to analyse: nodes past the scan's limits were not judged");
        return ok;
    }

    bool meta_graph(const field& meta) {
        std::vector<tf_node> nodes;
        std::vector<std::string_view> fed;
        bool ok = for_each_field(meta.bytes, meta.offset, [&](const field& f) {
            if (f.is_bytes(meta_graph_graph_def)) return graph_fields(f.bytes, f.offset, nodes);
            if (f.is_bytes(meta_graph_saver_def))
                return for_each_field(f.bytes, f.offset, [&](const field& g) {
                    if (g.is_bytes(saver_filename_tensor) && store_.take(1)) fed.push_back(node_of(g.text()));
                    return true;
                });
            if (f.is_bytes(meta_graph_asset_file_def)) return asset(f, fed);
            return true;
        });
        if (ok) check_nodes(nodes, {}, fed, out_);
        return ok;
    }

    // The loader feeds an asset's tensor the path assets/<filename>: the tensor's constant is not
    // what the graph reads, the filename is.
    bool asset(const field& def, std::vector<std::string_view>& fed) {
        std::string_view filename;
        bool ok = for_each_field(def.bytes, def.offset, [&](const field& f) {
            if (f.is_bytes(asset_filename)) filename = f.text();
            if (!f.is_bytes(asset_tensor_info)) return true;
            return for_each_field(f.bytes, f.offset, [&](const field& g) {
                if (g.is_bytes(tensor_info_name) && store_.take(1)) fed.push_back(node_of(g.text()));
                return true;
            });
        });
        if (std::string_view why = path_escape(filename, true); ok && !why.empty())
            out_.add(verdict::dangerous, "file",
                     "SavedModel asset " + quoted(filename) + " " + std::string(why) +
                         ": the loader hands the graph a path outside the model's assets folder",
                     "tensorflow", "asset_file_def", def.offset);
        return ok;
    }

    bool graph_fields(std::span<const std::byte> bytes, uint64_t offset, std::vector<tf_node>& nodes) {
        return for_each_field(bytes, offset, [&](const field& f) {
            if (f.is_bytes(graph_node)) return read_node(f, nodes, store_);
            if (f.is_bytes(graph_library))
                return for_each_field(f.bytes, f.offset, [&](const field& g) {
                    return !g.is_bytes(library_function) || function(g);
                });
            return true;
        });
    }

    bool function(const field& def) {
        std::string_view name;
        std::vector<tf_node> nodes;
        bool ok = for_each_field(def.bytes, def.offset, [&](const field& f) {
            if (f.is_bytes(function_node_def)) return read_node(f, nodes, store_);
            if (f.is_bytes(function_signature))
                return for_each_field(f.bytes, f.offset, [&](const field& g) {
                    if (g.is_bytes(op_def_name)) name = g.text();
                    return true;
                });
            return true;
        });
        if (ok) check_nodes(nodes, name, {}, out_);
        return ok;
    }

    graph_findings& out_;
    node_store store_;
};

}  // namespace

void scan_tf_graph(scan_state& state, std::span<const std::byte> bytes, const std::string& member) {
    // Which message a .pb holds is the loader's choice, not the file's (tf.saved_model.load reads a
    // SavedModel, GraphDef.ParseFromString a frozen graph), so the buffer is read both ways.
    graph_findings as_saved_model(member), as_graph(member);
    if (tf_walk(as_saved_model).saved_model(bytes)) as_saved_model.commit(state);
    if (tf_walk(as_graph).graph_def(bytes)) as_graph.commit(state);
}

}  // namespace stkit::detail
