// stkit/audit/audit.hpp — how far a collection of model repositories has moved to safe formats.
//
// An audit walks a folder tree, finds the repositories in it, classifies every model file of each
// by content (stkit/scan/detect.hpp) and by safety verdict (stkit/scan/scan.hpp), and optionally
// walks each repository's git history (every commit reachable from HEAD, libgit2) to find when
// safetensors was adopted and by whom. docs/audit.md describes every output field and rule; in short:
//
//   repository   the shallowest folder on a path that is a git repository (holds `.git`) or that
//                directly holds a model file (a plain snapshot, e.g. a Hub cache snapshots/<rev>/).
//                Everything below it belongs to it; `.git` folders are never entered; a Hub cache
//                `blobs/` folder (sibling of `snapshots/`) is skipped, its files are reached through
//                the snapshot symlinks. Repositories are listed in byte order of their relative path.
//   model file   a file whose content is a model serialization format, or a Git LFS pointer whose
//                name has a model extension (classified by name, content unavailable).
//   status       safe / mixed / unsafe / no-model, from the formats (code-carrying or not).
//   shard K/N    repository R belongs to shard K when fnv1a64(relative path of R) % N == K - 1.
//
// Nothing here prints; audit_run reports progress through a callback.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stkit/error.hpp"

namespace stkit {

// ---- Git LFS pointers (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md) ----

struct lfs_pointer {
    std::string oid_sha256;  // 64 lower-case hex digits
    uint64_t size = 0;
};
// Pointer files are at most this long (the LFS spec's limit).
inline constexpr std::size_t lfs_pointer_max_bytes = 1024;
// Parses pointer text: a `version https://git-lfs...` first line, then sorted `key value` lines
// including `oid sha256:<64 hex>` and `size <decimal>`. Returns nullopt for anything else.
[[nodiscard]] std::optional<lfs_pointer> parse_lfs_pointer(std::string_view text) noexcept;

// ---- Format families and per-file records ----

// The families of the study's monthly shares, in output order.
enum class format_family : uint8_t {
    safetensors, torch_save, pickle, joblib, numpy, hdf5, onnx, gguf, other
};
inline constexpr std::size_t format_family_count = 9;
// "safetensors", "torch.save", "pickle", "joblib", "numpy", "hdf5", "onnx", "gguf", "other".
[[nodiscard]] std::string_view format_family_name(format_family family) noexcept;

struct audit_file {
    std::string path;            // relative to the repository, '/'-separated
    std::string format;          // file_format_name() of the detected (or, for LFS, guessed) format
    std::string verdict;         // verdict_name() of the scan, or "unknown" when lfs_pointer
    uint64_t bytes = 0;          // file size; for an LFS pointer, the size it points to
    std::string sha256;          // hex; for an LFS pointer its oid; empty if it could not be read
    bool lfs_pointer = false;
    format_family family = format_family::other;
    bool unsafe = false;         // loading runs code by design (pickle, torch.save, joblib...), or
                                 // the format can carry code and the scan did not find it safe
};

// ---- History ----

// Who adopted safetensors in a commit (docs/audit.md, "by_converter" and "stkit conversions"):
// a `Converted-by: stkit <version>` trailer makes it `stkit` (even under the bot's title); else the
// Hub conversion bot's title, author or Co-authored-by trailer makes it `converter_bot`.
enum class audit_adopter : uint8_t { developer, converter_bot, stkit };
inline constexpr std::size_t audit_adopter_count = 3;
// "developer", "converter-bot", "stkit".
[[nodiscard]] std::string_view audit_adopter_name(audit_adopter adopter) noexcept;

struct audit_commit_ref {
    std::string commit;        // 40 hex digits
    std::string date;          // committer date, UTC, "YYYY-MM-DDTHH:MM:SSZ": what every figure uses
    std::string author;        // "Name <email>"
    audit_adopter adopted_by = audit_adopter::developer;
    std::string author_date;   // author date, UTC, same form (recorded, not used by the figures)
    [[nodiscard]] bool by_converter() const noexcept { return adopted_by == audit_adopter::converter_bot; }
};

struct audit_commit_files {    // one commit's model files (only with audit_options::commit_files)
    std::string commit;
    std::string date;          // committer date
    std::vector<std::string> files;  // "path:format"
};

struct audit_history {
    uint64_t commits = 0;                          // commits walked (all reachable, or first-parent)
    std::optional<std::string> first_model_commit; // earliest commit adding or changing a model file
    std::optional<std::string> first_model_date;   // its committer date
    std::optional<audit_commit_ref> first_safetensors_commit;  // the adoption
    std::optional<int64_t> days_to_safetensors;    // floor((adoption - earliest commit) / 1 day)
    std::optional<int64_t> days_from_first_model;  // floor((adoption - first model commit) / 1 day)
    bool unsafe_removed_after = false;  // an unsafe model file of the adoption's tree is gone at HEAD
    uint64_t converter_commits = 0;     // commits adding a safetensors file, by the converter bot
    uint64_t developer_commits = 0;     // ... by anyone else
    uint64_t stkit_commits = 0;         // ... by `stkit convert --commit`
    std::vector<audit_commit_files> commit_files;
};

enum class repo_status : uint8_t { safe, mixed, unsafe, no_model };
// "safe", "mixed", "unsafe", "no-model".
[[nodiscard]] std::string_view repo_status_name(repo_status status) noexcept;

struct audit_repo {
    std::string repo;              // relative to the audited root, '/'-separated ("." for the root)
    bool git = false;
    repo_status status = repo_status::no_model;
    bool unsafe_covered = true;    // every unsafe weights file has a safetensors counterpart
    std::optional<std::string> created;  // "YYYY-MM-DD": earliest commit (committer date), or oldest model file mtime
    std::vector<audit_file> files;       // model files, sorted by path
    std::optional<audit_history> history;
    std::optional<std::string> failure;  // error text when the repository could not be audited
};

// ---- Options, discovery, sharding ----

struct audit_shard {
    uint32_t index = 1;  // K, 1-based
    uint32_t count = 1;  // N
};
// Parses "K/N" with 1 <= K <= N <= 1,000,000. Errors: audit_invalid_shard.
[[nodiscard]] result<audit_shard> parse_audit_shard(std::string_view text);
// True when the repository with this relative path belongs to `shard`.
[[nodiscard]] bool audit_shard_contains(const audit_shard& shard, std::string_view repo) noexcept;

struct audit_options {
    bool history = false;
    // Walk only the first-parent chain from HEAD (the behaviour before every reachable commit was).
    bool first_parent = false;
    bool commit_files = false;  // keep per-commit model-file lists (history.commit_files)
    unsigned jobs = 1;
    std::optional<audit_shard> shard;
    // Blobs larger than this are not loaded during history walks; they are classified by name.
    uint64_t max_history_blob_bytes = uint64_t{64} << 20;
    // Repositories finished ahead of the one being written wait in memory; at most this many.
    std::size_t max_pending_repos = 64;
};

// Lists the repositories under `root` (see the rules above), sorted. Errors: io_open_failed when
// `root` is not a readable folder.
[[nodiscard]] result<std::vector<std::string>> discover_repositories(const std::filesystem::path& root);

// Audits one repository (`repo` relative to `root`). Never fails: problems (an unreadable git
// history: audit_git_failed) are recorded in `failure` and what could be found is kept.
[[nodiscard]] audit_repo audit_repository(const std::filesystem::path& root, const std::string& repo,
                                          const audit_options& options);

// Whether every unsafe weights file among `files` has a safetensors counterpart; the rules are in
// docs/audit.md (pytorch_model[-k-of-n].bin -> model[-k-of-n].safetensors, X.bin|pt|pth|ckpt ->
// X.safetensors, in the same folder; training_args.bin, optimizer.pt and similar are not weights).
[[nodiscard]] bool audit_unsafe_covered(const std::vector<audit_file>& files);
[[nodiscard]] repo_status audit_status(const std::vector<audit_file>& files);

// Runs the audit: discovers, filters by shard, audits with options.jobs threads and hands each
// result to `sink` in repository order (so outputs are deterministic whatever the thread count).
// `progress(done, total)` is called from the calling thread. Errors: those of discovery, and the
// first error a sink returns (which stops the run).
using audit_sink = std::function<result<void>(const audit_repo&)>;
using audit_progress = std::function<void(std::size_t done, std::size_t total)>;
[[nodiscard]] result<std::size_t> audit_run(const std::filesystem::path& root,
                                            const audit_options& options, const audit_sink& sink,
                                            const audit_progress& progress = {});

}  // namespace stkit
