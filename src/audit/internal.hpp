// Internal pieces shared by the audit sources.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "stkit/audit/audit.hpp"
#include "stkit/scan/detect.hpp"

namespace stkit::detail {

// Is `format` one that audit counts as a model file (weights or a model serialization)?
[[nodiscard]] bool audit_is_model_format(file_format format) noexcept;
// The format a model file with this name most likely has, for content we cannot see (LFS pointers,
// blobs over the history limit). nullopt when the extension is not a model extension.
[[nodiscard]] std::optional<file_format> audit_format_from_name(std::string_view path) noexcept;
[[nodiscard]] format_family audit_family_of(file_format format) noexcept;
// Does loading this format run code by design (pickle-based formats, TorchScript)? Formats that can
// carry code only in some variants (npy object arrays, Keras Lambda layers) are not, by themselves.
[[nodiscard]] bool audit_format_runs_code(file_format format) noexcept;
// Fills format, family and unsafe of `file` from `format` (unsafe: audit_format_runs_code).
void audit_set_format(audit_file& file, file_format format);
// Sets the verdict; a format that can carry code is also unsafe when the scan did not find the
// file safe (suspicious, dangerous, error). "unknown" (content not present) changes nothing.
void audit_set_verdict(audit_file& file, file_format format, std::string verdict);

// Classifies file content as the audit sees it: an LFS pointer (by name), a model format (by
// content) or nothing. `path` is the repository-relative path. verdict/sha256 are left for the
// caller, except for LFS pointers where they are complete.
[[nodiscard]] std::optional<audit_file> audit_classify(std::span<const std::byte> bytes,
                                                       std::string_view path);

// "YYYY-MM-DDTHH:MM:SSZ" and "YYYY-MM-DD" for seconds since the epoch (UTC).
[[nodiscard]] std::string audit_iso_time(int64_t seconds);
[[nodiscard]] std::string audit_iso_day(int64_t seconds);

// The converter bot's fingerprints in a commit (docs/audit.md).
[[nodiscard]] bool audit_is_converter_commit(std::string_view message, std::string_view author_name,
                                             std::string_view author_email) noexcept;

// History of one git repository (history.cpp). Errors: audit_git_failed.
struct audit_git_facts {
    std::optional<int64_t> first_commit_time;
    std::optional<audit_history> history;  // only when options.history
};
[[nodiscard]] result<audit_git_facts> audit_git_walk(const std::string& repo_path,
                                                     const audit_options& options);

}  // namespace stkit::detail
