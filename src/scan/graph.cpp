// Findings and path tests shared by the TensorFlow and ONNX graph scans (see graph.hpp).
#include "scan/graph.hpp"

#include <algorithm>

namespace stkit::detail {

void graph_findings::add(verdict severity, std::string_view category, std::string message, std::string module,
                         std::string name, uint64_t offset) {
    if (findings_.size() >= max_graph_findings) {
        ++unlisted_;
        unlisted_severity_ = std::max(unlisted_severity_, severity);
        return;
    }
    finding f;
    f.severity = severity;
    f.category = std::string(category);
    f.message = std::move(message);
    f.module = std::move(module);
    f.name = std::move(name);
    f.member = member_;
    f.offset = offset;
    findings_.push_back(std::move(f));
}

void graph_findings::commit(scan_state& state) {
    for (finding& f : findings_) state.add(std::move(f));
    if (unlisted_ > 0) {
        finding more;
        more.severity = unlisted_severity_;
        more.category = "limit";
        more.message = std::to_string(unlisted_) + " more findings in this graph are not listed";
        more.member = member_;
        state.add(std::move(more));
    }
    findings_.clear();
    unlisted_ = 0;
}

std::string quoted(std::string_view text) {
    if (text.size() <= max_quoted_bytes) return "'" + std::string(text) + "'";
    return "'" + std::string(text.substr(0, max_quoted_bytes)) + "...'";
}

namespace {

bool is_separator(char c) { return c == '/' || c == '\\'; }

// "..", and on Windows "...", ".. " and the like, which it trims to "..".
bool climbs(std::string_view component) {
    std::size_t dots = component.find_first_not_of('.');
    std::string_view rest = dots == std::string_view::npos ? std::string_view() : component.substr(dots);
    std::size_t count = dots == std::string_view::npos ? component.size() : dots;
    return count >= 2 && rest.find_first_not_of(' ') == std::string_view::npos;
}

bool has_scheme(std::string_view path) {
    std::size_t colon = path.find("://");
    if (colon == std::string_view::npos || colon == 0) return false;
    std::string_view scheme = path.substr(0, colon);
    return std::all_of(scheme.begin(), scheme.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
               c == '-' || c == '.';
    });
}

}  // namespace

std::string_view path_escape(std::string_view path, bool at_start) {
    for (std::size_t begin = 0; begin <= path.size();) {
        std::size_t end = begin;
        while (end < path.size() && !is_separator(path[end])) ++end;
        if (climbs(path.substr(begin, end - begin))) return "climbs out of the model's folder with '..'";
        begin = end + 1;
    }
    if (!at_start || path.empty()) return {};
    bool drive = path.size() >= 2 && path[1] == ':' &&
                 ((path[0] >= 'a' && path[0] <= 'z') || (path[0] >= 'A' && path[0] <= 'Z'));
    if (is_separator(path[0]) || drive) return "is an absolute path";
    if (has_scheme(path)) return "is a URL";
    return {};
}

bool is_network_url(std::string_view path) {
    return has_scheme(path) && !path.starts_with("file://");
}

}  // namespace stkit::detail
