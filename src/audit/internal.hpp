// Internal pieces shared by the audit sources.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stkit/audit/audit.hpp"
#include "stkit/audit/report.hpp"
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
// caller, except for LFS pointers where they are complete. `releasable`: as for detect_format.
[[nodiscard]] std::optional<audit_file> audit_classify(std::span<const std::byte> bytes,
                                                       std::string_view path,
                                                       std::span<const std::byte> releasable = {});

// "YYYY-MM-DDTHH:MM:SSZ" and "YYYY-MM-DD" for seconds since the epoch (UTC).
[[nodiscard]] std::string audit_iso_time(int64_t seconds);
[[nodiscard]] std::string audit_iso_day(int64_t seconds);

// Who made a commit that adds safetensors: a `Converted-by: stkit` trailer, else the converter
// bot's fingerprints (title, author, Co-authored-by trailer), else a developer (docs/audit.md).
[[nodiscard]] audit_adopter audit_commit_adopter(std::string_view message, std::string_view author_name,
                                                 std::string_view author_email) noexcept;

// The JSON and CSV keys of adopter counts, in output order: "converter" (the bot; the key predates
// stkit conversions), "developer", "stkit".
struct audit_adopter_key {
    std::string_view key;
    audit_adopter adopter;
};
inline constexpr std::array<audit_adopter_key, audit_adopter_count> audit_adopter_keys = {{
    {"converter", audit_adopter::converter_bot}, {"developer", audit_adopter::developer}, {"stkit", audit_adopter::stkit}}};

// ---- The report's figures (figures.cpp), computed once so each chart and its CSV twin agree ----

struct audit_quartiles {
    uint64_t count = 0;
    int64_t q1 = 0, median = 0, q3 = 0;  // nearest rank: the smallest d with ceil(p * count) values <= d
};

struct audit_figures {
    // (a) adoptions per month of the committer date, every month from the first to the last.
    std::vector<audit_adoption_row> adoptions;
    // (b) adoptions (all adopters) per year and month, every year from the first to the last.
    int first_year = 0;
    std::vector<std::array<uint64_t, 12>> heatmap;
    // (c) format use by creation month (as in the summary) and by creation year ("unknown" last).
    std::vector<audit_month_row> share_by_month, share_by_year;
    // (d) days from first model commit to adoption: bins [days, days + bin_days), per adopter,
    // and quartiles per adopter (indexed by audit_adopter) and of all adoptions (last).
    int64_t bin_days = 1;
    std::vector<audit_days_row> days_bins;
    std::array<audit_quartiles, audit_adopter_count + 1> days_quartiles{};
    // (e) repositories per status.
    std::array<uint64_t, 4> status{};
};
[[nodiscard]] audit_figures audit_figures_of(const audit_summary& summary);

// History of one git repository (history.cpp). Errors: audit_git_failed.
struct audit_git_facts {
    std::optional<int64_t> first_commit_time;
    std::optional<audit_history> history;  // only when options.history
};
[[nodiscard]] result<audit_git_facts> audit_git_walk(const std::string& repo_path,
                                                     const audit_options& options);

}  // namespace stkit::detail
