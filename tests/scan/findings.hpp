// Helpers for the scan tests: counting a report's findings and printing it when a check fails.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "stkit/scan/report.hpp"
#include "stkit/scan/scan.hpp"

namespace stkit::test {

// Findings of `category` (and of `name`, when given).
inline std::size_t count_findings(const file_report& r, std::string_view category, std::string_view name = {}) {
    std::size_t n = 0;
    for (const finding& f : r.findings) n += f.category == category && (name.empty() || f.name == name);
    return n;
}

inline std::string dump(const file_report& r) { return scan_report_text({r}, true); }

}  // namespace stkit::test
