// stkit/scan/paths.hpp — scanning what a user names: each file, and every regular file under each
// folder (recursively, sorted per argument), on `jobs` threads. `stkit scan PATH...` and the Python
// package's stkit.scan() both call this, so they give the same reports in the same order.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "stkit/scan/scan.hpp"

namespace stkit {

// Called from the scanning threads after each file: (files done, files in all).
using scan_paths_progress = std::function<void(std::size_t done, std::size_t total)>;

// One report per file, in argument order: paths that do not exist first (each an `error` report with
// io_open_failed, its path as the name), then the files found, in order. Never fails as a whole: a
// file that cannot be read is an `error` report of its own. `jobs` is clamped to [1, files].
[[nodiscard]] std::vector<file_report> scan_paths(const std::vector<std::string>& paths,
                                                  const scan_options& options, unsigned jobs,
                                                  const scan_paths_progress& progress = {});

}  // namespace stkit
