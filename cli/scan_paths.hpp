// cli/scan_paths.hpp — scanning what `stkit scan PATH...` names: each file, and every regular file
// under each folder (recursively, sorted per argument), on `jobs` threads; a path that does not
// exist becomes an `error` report. Not a command: it registers nothing. The Python package's
// stkit.scan() compiles this file too, so both give the same reports in the same order.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "stkit/scan/scan.hpp"

namespace stkit::cli {

// Called from the scanning threads after each file: (files done, files in all).
using scan_paths_progress = std::function<void(std::size_t done, std::size_t total)>;

// Reports in argument order: missing paths first, then the files found, in order.
[[nodiscard]] std::vector<file_report> scan_paths(const std::vector<std::string>& paths,
                                                  const scan_options& options, unsigned jobs,
                                                  const scan_paths_progress& progress = {});

}  // namespace stkit::cli
