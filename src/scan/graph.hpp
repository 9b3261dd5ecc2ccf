// What the TensorFlow and ONNX graph scans (tensorflow.cpp, onnx.cpp) share: findings held back
// until the walk has read the whole buffer, and the test of a path a model names.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "scan/internal.hpp"

namespace stkit::detail {

// Findings listed per graph; past this many the rest are counted in one finding, so a graph of a
// million PyFunc nodes does not make a million-line report.
constexpr std::size_t max_graph_findings = 256;
// What a walk keeps to judge a graph at its end (nodes and their inputs, domain uses, functions),
// counted in items, so that memory does not grow with a hostile graph of a billion tiny nodes. Past
// this many the graph is reported as not fully analysed.
constexpr uint64_t max_graph_items = uint64_t{1} << 20;

// Findings of one walk. A loader refuses a buffer that is not valid protobuf, so nothing it would
// run can be in a buffer the walk could not read to its end: the findings are handed to the scan
// (commit) only when the walk succeeded.
class graph_findings {
public:
    explicit graph_findings(const std::string& member) : member_(member) {}

    void add(verdict severity, std::string_view category, std::string message, std::string module = {},
             std::string name = {}, uint64_t offset = no_offset);
    void commit(scan_state& state);

private:
    const std::string& member_;
    std::vector<finding> findings_;
    std::size_t unlisted_ = 0;
    verdict unlisted_severity_ = verdict::safe;
};

// `text` between quotes for a message, cut at max_quoted_bytes: names and paths come from the file.
constexpr std::size_t max_quoted_bytes = 200;
[[nodiscard]] std::string quoted(std::string_view text);

// Why `path`, named by a model and read or written relative to the model's folder, escapes that
// folder; empty when it does not. A '..' component escapes wherever it is; `at_start` says the text
// begins the path, where an absolute path (/x, \x, C:x, \\server) or a URL (gs://, file://) does.
[[nodiscard]] std::string_view path_escape(std::string_view path, bool at_start);
// Does `path` start with a URL scheme ("gs://", "grpc://")? file:// is a file, the others a network.
[[nodiscard]] bool is_network_url(std::string_view path);

}  // namespace stkit::detail
