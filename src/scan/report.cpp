// Scan reports as text, JSON and SARIF 2.1.0 (stkit/scan/report.hpp).
#include "stkit/scan/report.hpp"

#include <map>

#include <nlohmann/json.hpp>

namespace stkit {
namespace {

using json = nlohmann::ordered_json;

std::string dump(const json& document) {
    return document.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

json location_of(const finding& f) {
    json location = {{"member", f.member}, {"pickle_index", nullptr}, {"offset", nullptr}};
    if (f.pickle_index >= 0) location["pickle_index"] = f.pickle_index;
    if (f.offset != no_offset) location["offset"] = f.offset;
    return location;
}

// Printable text: control bytes and DEL escaped, so a hostile name cannot drive the terminal.
std::string printable(std::string_view text) {
    std::string out;
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 15];
        } else {
            out += c;
        }
    }
    return out;
}

std::string sarif_level(verdict severity) {
    if (severity >= verdict::dangerous) return "error";
    if (severity == verdict::suspicious) return "warning";
    return "note";
}

}  // namespace

std::string scan_report_text(const std::vector<file_report>& reports, bool verbose) {
    std::string out;
    std::map<verdict, int> counts;
    for (const file_report& r : reports) {
        ++counts[r.overall];
        out += printable(r.path) + ": " + std::string(verdict_name(r.overall)) + " (" +
               std::string(file_format_name(r.format.format)) +
               (r.format.detail.empty() ? "" : ": " + printable(r.format.detail)) + ")\n";
        if (r.failure) out += "  error: " + printable(r.failure->to_string()) + "\n";
        for (const finding& f : r.findings) {
            if (f.severity == verdict::safe && !verbose) continue;
            out += "  [" + std::string(verdict_name(f.severity)) + "] " + f.category + ": " + printable(f.message);
            std::string where;
            if (!f.member.empty()) where += "member " + printable(f.member);
            if (f.pickle_index >= 0) where += (where.empty() ? "" : ", ") + std::string("pickle ") + std::to_string(f.pickle_index);
            if (f.offset != no_offset) where += (where.empty() ? "" : ", ") + std::string("byte ") + std::to_string(f.offset);
            if (!where.empty()) out += " (" + where + ")";
            out += "\n";
        }
    }
    out += std::to_string(reports.size()) + " files: " + std::to_string(counts[verdict::safe]) + " safe, " +
           std::to_string(counts[verdict::suspicious]) + " suspicious, " + std::to_string(counts[verdict::dangerous]) +
           " dangerous, " + std::to_string(counts[verdict::error]) + " errors\n";
    return out;
}

std::string scan_report_json(const std::vector<file_report>& reports) {
    json files = json::array();
    std::map<std::string, int> summary{{"safe", 0}, {"suspicious", 0}, {"dangerous", 0}, {"error", 0}};
    for (const file_report& r : reports) {
        ++summary[std::string(verdict_name(r.overall))];
        json findings = json::array();
        for (const finding& f : r.findings) {
            findings.push_back({{"severity", verdict_name(f.severity)},
                                {"category", f.category},
                                {"module", f.module},
                                {"name", f.name},
                                {"message", f.message},
                                {"location", location_of(f)}});
        }
        json file = {{"path", r.path},
                     {"format", file_format_name(r.format.format)},
                     {"detail", r.format.detail},
                     {"verdict", verdict_name(r.overall)}};
        if (r.failure) file["error"] = {{"code", error_code_name(r.failure->code)}, {"message", r.failure->to_string()}};
        file["findings"] = std::move(findings);
        files.push_back(std::move(file));
    }
    json document = {{"files", std::move(files)},
                     {"summary", {{"safe", summary["safe"]}, {"suspicious", summary["suspicious"]},
                                  {"dangerous", summary["dangerous"]}, {"error", summary["error"]}}}};
    return dump(document);
}

std::string scan_report_sarif(const std::vector<file_report>& reports, std::string_view version) {
    std::map<std::string, int> rule_index;
    json rules = json::array();
    auto rule_for = [&](const std::string& category) {
        auto [it, added] = rule_index.emplace(category, static_cast<int>(rules.size()));
        if (added)
            rules.push_back({{"id", "stkit/" + category},
                             {"name", category},
                             {"shortDescription", {{"text", "stkit scan finding: " + category}}}});
        return it->second;
    };
    json results = json::array();
    auto add_result = [&](const std::string& path, const std::string& category, verdict severity,
                          const std::string& message, const std::string& member, uint64_t offset) {
        json physical = {{"artifactLocation", {{"uri", path}}}};
        if (offset != no_offset) physical["region"] = {{"byteOffset", offset}};
        json location = {{"physicalLocation", std::move(physical)}};
        if (!member.empty()) location["logicalLocations"] = json::array({{{"fullyQualifiedName", member}, {"kind", "member"}}});
        int index = rule_for(category);
        results.push_back({{"ruleId", "stkit/" + category},
                           {"ruleIndex", index},
                           {"level", sarif_level(severity)},
                           {"message", {{"text", message}}},
                           {"locations", json::array({std::move(location)})}});
    };
    for (const file_report& r : reports) {
        if (r.failure)
            add_result(r.path, "read-error", verdict::error, r.failure->to_string(), {}, r.failure->offset);
        for (const finding& f : r.findings) {
            if (f.severity == verdict::safe) continue;
            std::string text = f.message;
            if (!f.module.empty()) text += " [" + f.module + "." + f.name + "]";
            add_result(r.path, f.category, f.severity, text, f.member, f.offset);
        }
    }
    json driver = {{"name", "stkit"},
                   {"version", version},
                   {"rules", std::move(rules)}};
    json document = {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
                     {"version", "2.1.0"},
                     {"runs", json::array({{{"tool", {{"driver", std::move(driver)}}}, {"results", std::move(results)}}})}};
    return dump(document);
}

}  // namespace stkit
