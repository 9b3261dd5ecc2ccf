// stkit/scan/report.hpp — scan reports as documents: human text, JSON, SARIF 2.1.0.
//
// The library builds the text; printing is the caller's (cli/scan.cpp). Names from hostile files may
// be invalid UTF-8: JSON and SARIF replace invalid sequences, text output escapes control bytes.
//
// JSON: {"files": [{"path", "format", "detail", "verdict", "error"?, "findings": [{"severity",
//        "category", "module", "name", "message", "location": {"member", "pickle_index",
//        "offset"}}]}], "summary": {"safe": n, "suspicious": n, "dangerous": n, "error": n}}
//       (pickle_index and offset are null when unknown).
// SARIF: one run, tool.driver {name "stkit", rules: one per finding category, id "stkit/<category>"},
//        one result per finding at or above `suspicious` (and per file error), level error for
//        dangerous/error, warning for suspicious; locations carry the file URI and, when known, the
//        byte offset (region.byteOffset) and archive member (logicalLocations).
#pragma once

#include <string>
#include <vector>

#include "stkit/scan/scan.hpp"

namespace stkit {

[[nodiscard]] std::string scan_report_text(const std::vector<file_report>& reports, bool verbose);
[[nodiscard]] std::string scan_report_json(const std::vector<file_report>& reports);
[[nodiscard]] std::string scan_report_sarif(const std::vector<file_report>& reports, std::string_view version);

}  // namespace stkit
