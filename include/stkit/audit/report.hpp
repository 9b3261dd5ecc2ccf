// stkit/audit/report.hpp — aggregates of an audit and its outputs: JSON, CSV tables, an HTML page.
//
// The JSON document (docs/audit.md lists every field):
//   {"audit": {"format": "stkit-audit", "version": 1, "history": bool, "shard": "K/N" | null},
//    "repos": [ {"repo", "status", "unsafe_covered", "git", "created", "files": [{"path", "format",
//               "verdict", "bytes", "sha256", "lfs_pointer"}], "history": {...} | null,
//               "error": string | null} ... ],
//    "summary": {...}}
// Repositories are written as they complete (audit_json_writer), so memory does not grow with the
// number of files; the summary is computed from small per-repository facts (audit_summary_builder)
// and written last. Shard documents read back with audit_json_parse merge into the document the
// unsharded run would have written.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "stkit/audit/audit.hpp"
#include "stkit/error.hpp"
#include "stkit/file.hpp"

namespace stkit {

struct audit_month_row {
    std::string month;                                   // "YYYY-MM" or "unknown"
    uint64_t repositories = 0;                           // repositories with model files
    std::array<uint64_t, format_family_count> families{};  // of those, how many use each family
};

// Counts per adopter, indexed by audit_adopter (developer, converter_bot, stkit).
using audit_adopter_counts = std::array<uint64_t, audit_adopter_count>;

struct audit_adoption_row {
    std::string month;  // month of the adoption commit's committer date
    audit_adopter_counts adopters{};
};

struct audit_days_row {
    int64_t days = 0;   // history.days_from_first_model
    audit_adopter_counts adopters{};
};

struct audit_summary {
    uint64_t repositories = 0;
    uint64_t model_files = 0;
    uint64_t lfs_pointers = 0;
    uint64_t errors = 0;                                 // repositories with `error` set
    std::array<uint64_t, 4> status{};                    // indexed by repo_status
    uint64_t unsafe_covered = 0;  // repositories with unsafe weights, all of them covered
    std::array<uint64_t, format_family_count> families{};  // repositories using each family
    uint64_t commits = 0;
    audit_adopter_counts adopted{};                      // repositories, by who adopted safetensors
    audit_adopter_counts adopting_commits{};             // commits adding safetensors files, by whom
    std::vector<audit_month_row> by_creation_month;      // sorted, "unknown" last
    std::vector<audit_adoption_row> adoptions_by_month;  // sorted, months with adoptions only
    std::vector<audit_days_row> adoption_days;           // sorted by days, days with adoptions only
};

// Accumulates the summary one repository at a time, keeping only counters.
class audit_summary_builder {
public:
    void add(const audit_repo& repo);
    [[nodiscard]] audit_summary finish() const;

private:
    audit_summary totals_;
    std::map<std::string, audit_month_row> months_;
    std::map<std::string, audit_adoption_row> adoptions_;
    std::map<int64_t, audit_adopter_counts> days_;
};

// ---- JSON ----

struct audit_document_info {
    bool history = false;
    std::optional<audit_shard> shard;
};

// Streams the document to `destination` (output_file: nothing appears under that name before
// finish()). Errors: those of output_file.
class audit_json_writer {
public:
    [[nodiscard]] static result<audit_json_writer> create(const std::filesystem::path& destination,
                                                          bool overwrite, audit_document_info info);
    [[nodiscard]] result<void> add(const audit_repo& repo);
    [[nodiscard]] result<void> finish(const audit_summary& summary);

private:
    output_file out_;
    bool first_ = true;
};

// One repository as the JSON text written in "repos" (no trailing newline).
[[nodiscard]] std::string audit_repo_to_json(const audit_repo& repo);
[[nodiscard]] std::string audit_summary_to_json(const audit_summary& summary);

struct audit_document {
    audit_document_info info;
    std::vector<audit_repo> repos;
};
// Reads an audit JSON document back. Errors: audit_merge_invalid (with the JSON path of the
// offending value in `name`).
[[nodiscard]] result<audit_document> audit_json_parse(std::string_view text);

// Merges shard documents: every input must have the same "history" setting and shard count, no
// two the same shard, no repository twice. Repositories come out sorted and the summary is
// recomputed. `missing_shards` lists the shard indexes no input covered. Errors: audit_merge_invalid.
struct audit_merge_result {
    audit_document merged;
    std::vector<uint32_t> missing_shards;
};
[[nodiscard]] result<audit_merge_result> audit_merge(std::vector<audit_document> inputs);
// Writes a whole document (used by merge). Errors: those of output_file.
[[nodiscard]] result<void> audit_write_json(const std::filesystem::path& destination, bool overwrite,
                                            const audit_document& document);

// ---- CSV (RFC 4180 quoting) ----

// repos.csv and files.csv are streamed; summary.csv, monthly.csv and adoptions.csv are written by
// finish(). The folder is created if missing. Errors: io_open_failed, those of output_file.
class audit_csv_writer {
public:
    [[nodiscard]] static result<audit_csv_writer> create(const std::filesystem::path& folder,
                                                         bool overwrite);
    [[nodiscard]] result<void> add(const audit_repo& repo);
    [[nodiscard]] result<void> finish(const audit_summary& summary);

private:
    std::filesystem::path folder_;
    bool overwrite_ = false;
    output_file repos_;
    output_file files_;
};
// One CSV field, quoted when it holds a comma, quote, CR or LF.
[[nodiscard]] std::string csv_field(std::string_view value);

// ---- HTML ----

// Collects what the page needs beyond the summary: the most telling repositories (at most
// `max_rows`: unsafe first, then mixed with uncovered unsafe weights, mixed, safe, no-model; more
// model files first; then by path), so memory and page size stay bounded whatever the audit's size.
class audit_html_writer {
public:
    explicit audit_html_writer(std::size_t max_rows = 200) : max_rows_(max_rows) {}
    void add(const audit_repo& repo);
    // Renders the self-contained page (inline SVG and CSS, no scripts, no network): the charts of
    // docs/audit.md ("The report"), each drawn from audit_summary alone, and the table. An adoption
    // chart with no adoption to draw is replaced by a note (class "empty") saying why.
    [[nodiscard]] std::string render(const audit_summary& summary) const;
    [[nodiscard]] result<void> write(const std::filesystem::path& destination, bool overwrite,
                                     const audit_summary& summary) const;

    struct row {
        std::string repo, status, created, adoption;
        std::size_t files = 0;
        int rank = 0;  // 0 is the most telling
    };

private:
    void trim();
    std::size_t max_rows_;
    std::size_t total_ = 0;
    bool history_read_ = false;  // a repository came with its history: an audit with --history
    std::vector<row> rows_;
};

}  // namespace stkit
