// ONNX models (ModelProto, .onnx): external data that escapes the model's folder, and operators of
// custom domains.
//
// An ONNX graph holds no code, but a tensor may keep its bytes in an external file named by a
// "location" the loader joins to the model's folder (onnx.load, ONNX Runtime, OpenVINO), so
// "../../etc/passwd" or "/home/user/.ssh/id_rsa" reads a file the model does not own into a tensor.
// Operators outside the built-in domains run only from a custom-op library the user registers:
// native code the model does not carry, which the scan cannot see. The walk reads the protobuf
// leniently, as a loader's parser does, through every place a tensor or a node can sit: the graph,
// its subgraphs (If/Loop/Scan bodies in node attributes), training graphs and local functions.
#include <algorithm>
#include <unordered_set>

#include "scan/graph.hpp"
#include "scan/protobuf.hpp"

namespace stkit::detail {
namespace {

using namespace protobuf;

// Field numbers: onnx/onnx.proto3.
constexpr uint32_t model_ir_version = 1, model_graph = 7, model_opset_import = 8;  // ModelProto
constexpr uint32_t model_training_info = 20, model_functions = 25;
constexpr uint32_t opset_domain = 1;  // OperatorSetIdProto
constexpr uint32_t graph_node = 1, graph_initializer = 5, graph_sparse_initializer = 15;  // GraphProto
constexpr uint32_t node_name = 3, node_op_type = 4, node_attribute = 5, node_domain = 7;  // NodeProto
constexpr uint32_t attribute_t = 5, attribute_g = 6, attribute_tensors = 10;  // AttributeProto
constexpr uint32_t attribute_graphs = 11, attribute_sparse_tensor = 22, attribute_sparse_tensors = 23;
constexpr uint32_t tensor_name = 8, tensor_external_data = 13;  // TensorProto
constexpr uint32_t entry_key = 1, entry_value = 2;              // StringStringEntryProto
constexpr uint32_t sparse_values = 1, sparse_indices = 2;       // SparseTensorProto
constexpr uint32_t training_initialization = 1, training_algorithm = 2;  // TrainingInfoProto
constexpr uint32_t function_name = 1, function_node = 7, function_opset_import = 9;  // FunctionProto
constexpr uint32_t function_domain = 10, function_attribute_proto = 11;

// The standard domains and ONNX Runtime's built-in ones: their operators are the runtime's own.
constexpr std::string_view builtin_domains[] = {
    "", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training", "com.microsoft",
    "com.microsoft.nchwc", "com.microsoft.experimental", "com.ms.internal.nhwc",
};

// ONNX Runtime reads a tensor whose location is this marker from the memory address in its offset.
constexpr std::string_view ort_memory_marker = "*/_ORT_MEM_ADDR_/*";

// Subgraphs nested deeper than this are not walked and the model is reported as not fully scanned.
// libprotobuf's limit of 100 nested messages stops parsers at about 33 (graph, node, attribute).
constexpr unsigned max_graph_nesting = 32;

// Why an external data location is not a plain path inside the model's folder; empty when it is.
std::string_view location_problem(std::string_view location) {
    if (location == ort_memory_marker)
        return "is ONNX Runtime's marker for reading its offset as a memory address";
    if (location.empty()) return "is empty";
    if (std::string_view why = path_escape(location, true); !why.empty()) return why;
    if (location.find(':') != std::string_view::npos) return "names a drive, a stream or a URL";
    auto control = [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; };
    if (std::any_of(location.begin(), location.end(), control)) return "holds control characters";
    if (location.find_first_of("*?") != std::string_view::npos) return "holds wildcards";
    return {};
}

// A node's (or an opset import's, with no op) use of a domain outside the built-in ones.
struct domain_use {
    std::string_view domain, op_type, node;
    uint64_t offset;
};

class onnx_walk {
public:
    explicit onnx_walk(graph_findings& out) : out_(out) {}

    // False when the bytes are not valid protobuf where a parser reads them.
    bool model(std::span<const std::byte> bytes) {
        return for_each_field(bytes, 0, [&](const field& f) {
            if (f.number == model_ir_version && f.type == varint) ir_version_ = f.value;
            if (f.is_bytes(model_graph)) {
                has_graph_ = true;
                return graph(f, 0);
            }
            if (f.is_bytes(model_opset_import)) return opset(f);
            if (f.is_bytes(model_training_info))
                return for_each_field(f.bytes, f.offset, [&](const field& g) {
                    bool graph_field = g.is_bytes(training_initialization) || g.is_bytes(training_algorithm);
                    return !graph_field || graph(g, 0);
                });
            if (f.is_bytes(model_functions)) return function(f);
            return true;
        });
    }

    // ONNX Runtime requires both; other protobufs that happen to parse rarely have them.
    [[nodiscard]] bool model_shaped() const { return ir_version_ > 0 && has_graph_; }
    // Parts of the model were not judged: subgraphs nested too deeply, too many domain uses.
    [[nodiscard]] bool too_deep() const { return too_deep_; }
    [[nodiscard]] bool too_many() const { return too_many_; }

    // One finding per custom domain that no local function defines (a node (domain, op) that
    // names a local function calls it; an opset import of a function's domain is for its calls).
    void report_domains() {
        std::sort(functions_.begin(), functions_.end());
        std::unordered_set<std::string_view> reported;
        for (const domain_use& use : uses_) {
            auto at = std::lower_bound(functions_.begin(), functions_.end(),
                                       std::pair(use.domain, use.op_type));
            bool local = at != functions_.end() && at->first == use.domain &&
                         (use.op_type.empty() || at->second == use.op_type);
            if (local || !reported.insert(use.domain).second) continue;
            std::string what = use.op_type.empty()
                                   ? "ONNX model imports operator set " + quoted(use.domain)
                                   : "ONNX node " + quoted(use.node) + " uses operator " + quoted(use.op_type) +
                                         " of domain " + quoted(use.domain);
            out_.add(verdict::suspicious, "custom-operator",
                     what + ": a loader runs it only from a custom-op library the user registers (native code "
                            "outside the model)",
                     std::string(use.domain), std::string(use.op_type), use.offset);
        }
    }

private:
    bool graph(const field& g, unsigned depth) {
        if (depth > max_graph_nesting) {
            too_deep_ = true;
            return true;
        }
        return for_each_field(g.bytes, g.offset, [&](const field& f) {
            if (f.is_bytes(graph_node)) return node(f, depth);
            if (f.is_bytes(graph_initializer)) return tensor(f);
            if (f.is_bytes(graph_sparse_initializer)) return sparse_tensor(f);
            return true;
        });
    }

    bool node(const field& n, unsigned depth) {
        std::string_view name, op_type, domain;
        bool ok = for_each_field(n.bytes, n.offset, [&](const field& f) {
            if (f.is_bytes(node_name)) name = f.text();  // singular fields: the last one wins
            else if (f.is_bytes(node_op_type)) op_type = f.text();
            else if (f.is_bytes(node_domain)) domain = f.text();
            else if (f.is_bytes(node_attribute)) return attribute(f, depth);
            return true;
        });
        use_domain({domain, op_type, name, n.offset});
        return ok;
    }

    bool attribute(const field& a, unsigned depth) {
        return for_each_field(a.bytes, a.offset, [&](const field& f) {
            if (f.is_bytes(attribute_t) || f.is_bytes(attribute_tensors)) return tensor(f);
            if (f.is_bytes(attribute_sparse_tensor) || f.is_bytes(attribute_sparse_tensors))
                return sparse_tensor(f);
            if (f.is_bytes(attribute_g) || f.is_bytes(attribute_graphs)) return graph(f, depth + 1);
            return true;
        });
    }

    bool sparse_tensor(const field& s) {
        return for_each_field(s.bytes, s.offset, [&](const field& f) {
            return !(f.is_bytes(sparse_values) || f.is_bytes(sparse_indices)) || tensor(f);
        });
    }

    // The tensor's name may follow its external data, so the first location with a problem is kept
    // and reported once the tensor is read (every "location" entry counts: loaders differ in which
    // one they take).
    bool tensor(const field& t) {
        std::string_view name, location, problem;
        uint64_t offset = no_offset;
        bool ok = for_each_field(t.bytes, t.offset, [&](const field& f) {
            if (f.is_bytes(tensor_name)) name = f.text();
            if (!f.is_bytes(tensor_external_data)) return true;
            std::string_view key, value;
            bool read = for_each_field(f.bytes, f.offset, [&](const field& e) {
                if (e.is_bytes(entry_key)) key = e.text();
                if (e.is_bytes(entry_value)) value = e.text();
                return true;
            });
            if (key == "location" && problem.empty()) {
                location = value;
                problem = location_problem(value);
                offset = f.offset;
            }
            return read;
        });
        if (!problem.empty())
            out_.add(verdict::dangerous, "file",
                     "ONNX tensor " + quoted(name) + " reads its data from the external file " +
                         quoted(location) + ", which " + std::string(problem) +
                         ": a loader reads a file outside the model",
                     {}, std::string(name), offset);
        return ok;
    }

    bool opset(const field& o) {
        std::string_view domain;
        bool ok = for_each_field(o.bytes, o.offset, [&](const field& f) {
            if (f.is_bytes(opset_domain)) domain = f.text();
            return true;
        });
        use_domain({domain, {}, {}, o.offset});
        return ok;
    }

    bool function(const field& fn) {
        std::string_view name, domain;
        bool ok = for_each_field(fn.bytes, fn.offset, [&](const field& f) {
            if (f.is_bytes(function_name)) name = f.text();
            else if (f.is_bytes(function_domain)) domain = f.text();
            else if (f.is_bytes(function_node)) return node(f, 1);
            else if (f.is_bytes(function_opset_import)) return opset(f);
            else if (f.is_bytes(function_attribute_proto)) return attribute(f, 1);
            return true;
        });
        if (keep()) functions_.emplace_back(domain, name);
        return ok;
    }

    void use_domain(domain_use use) {
        auto builtin = std::find(std::begin(builtin_domains), std::end(builtin_domains), use.domain);
        if (builtin == std::end(builtin_domains) && keep()) uses_.push_back(use);
    }

    // Room for one more kept item (max_graph_items, see graph.hpp).
    bool keep() {
        if (items_left_ == 0) {
            too_many_ = true;
            return false;
        }
        --items_left_;
        return true;
    }

    graph_findings& out_;
    uint64_t ir_version_ = 0;
    bool has_graph_ = false;
    bool too_deep_ = false;
    bool too_many_ = false;
    uint64_t items_left_ = max_graph_items;
    std::vector<domain_use> uses_;
    std::vector<std::pair<std::string_view, std::string_view>> functions_;  // (domain, name)
};

}  // namespace

void scan_onnx(scan_state& state, std::span<const std::byte> bytes, const std::string& member) {
    graph_findings out(member);
    onnx_walk walk(out);
    if (!walk.model(bytes)) return;
    // Domain strings and deep nesting are judged only in a buffer shaped like a model: field 8 of
    // many other protobufs parses as an opset import with a "domain".
    if (walk.model_shaped()) {
        walk.report_domains();
        if (walk.too_deep())
            out.add(verdict::suspicious, "limit",
                    "ONNX subgraphs nested deeper than " + std::to_string(max_graph_nesting) +
                        " levels were not scanned");
        if (walk.too_many())
            out.add(verdict::suspicious, "limit",
                    "ONNX model too large to analyse: operator domains past the scan's limits were not judged");
    }
    out.commit(state);
}

}  // namespace stkit::detail
