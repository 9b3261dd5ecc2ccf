// Finding repositories under a root and auditing the files of one repository.
#include <algorithm>
#include <sys/stat.h>
#include <system_error>

#include "audit/internal.hpp"
#include "stkit/audit/audit.hpp"
#include "stkit/digest.hpp"
#include "stkit/file.hpp"
#include "stkit/scan/scan.hpp"

namespace stkit {
namespace {

namespace fs = std::filesystem;

std::string relative_name(const fs::path& base, const fs::path& path) {
    std::string rel = path.lexically_relative(base).generic_string();
    return rel.empty() ? "." : rel;
}

// The entries of a folder in byte order of their names; errors leave the list short, never throw.
std::vector<fs::directory_entry> sorted_entries(const fs::path& folder) {
    std::vector<fs::directory_entry> entries;
    std::error_code ec;
    fs::directory_iterator it(folder, ec), end;
    for (; !ec && it != end; it.increment(ec)) entries.push_back(*it);
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
        return a.path().filename().native() < b.path().filename().native();
    });
    return entries;
}

bool is_real_directory(const fs::directory_entry& entry) {
    std::error_code ec;
    return entry.is_directory(ec) && !entry.is_symlink(ec);
}

bool is_file(const fs::directory_entry& entry) {
    std::error_code ec;
    return entry.is_regular_file(ec);  // follows symlinks: Hub snapshots link into blobs/
}

// Files up to this size are read into memory with one read (cheaper than a map plus a second read
// for the digest: most files of a model repository are small); larger ones are mapped for the scan
// and digested with bounded reads. The detection and the scan may drop pages of the map they have
// read through, so a multi-GB file never becomes resident whole (docs/audit.md, "Memory per task").
constexpr std::size_t read_whole_limit = std::size_t{1} << 20;

struct file_content {
    std::string buffer;
    mapped_file mapped;
    bool buffered = false;

    [[nodiscard]] std::span<const std::byte> bytes() const {
        if (!buffered) return mapped.bytes();
        return {reinterpret_cast<const std::byte*>(buffer.data()), buffer.size()};
    }
};

std::optional<file_content> load(const fs::path& path) {
    file_content content;
    if (auto text = read_small_file(path, read_whole_limit); text.ok()) {
        content.buffer = std::move(*text);
        content.buffered = true;
        return content;
    } else if (text.error().code != error_code::allocation_limit) {
        return std::nullopt;
    }
    auto mapped = mapped_file::open(path);
    if (!mapped.ok()) return std::nullopt;
    content.mapped = std::move(*mapped);
    return content;
}

// Classifies one file on disk; nullopt if it is not a model file or cannot be read.
std::optional<audit_file> classify_path(const fs::path& path, std::string_view relative) {
    auto content = load(path);
    if (!content) return std::nullopt;
    return detail::audit_classify(content->bytes(), relative,
                                  content->buffered ? std::span<const std::byte>{} : content->bytes());
}

bool holds_model_file(const std::vector<fs::directory_entry>& entries) {
    for (const auto& entry : entries)
        if (is_file(entry) && classify_path(entry.path(), entry.path().filename().string())) return true;
    return false;
}

bool is_hub_blobs_folder(const fs::path& folder) {
    std::error_code ec;
    return folder.filename() == "blobs" && fs::is_directory(folder.parent_path() / "snapshots", ec);
}

void discover(const fs::path& root, const fs::path& folder, std::vector<std::string>& out) {
    std::error_code ec;
    auto entries = sorted_entries(folder);
    if (fs::exists(folder / ".git", ec) || holds_model_file(entries)) {
        out.push_back(relative_name(root, folder));
        return;
    }
    for (const auto& entry : entries)
        if (is_real_directory(entry) && entry.path().filename() != ".git" && !is_hub_blobs_folder(entry.path()))
            discover(root, entry.path(), out);
}

// Every file of a repository below `folder`, in path order, never entering .git.
void collect_files(const fs::path& repo_root, const fs::path& folder, std::vector<fs::path>& out) {
    for (const auto& entry : sorted_entries(folder)) {
        if (entry.path().filename() == ".git") continue;
        if (is_real_directory(entry)) collect_files(repo_root, entry.path(), out);
        else if (is_file(entry)) out.push_back(entry.path());
    }
}

audit_file audit_one_file(const fs::path& path, std::string relative, bool& is_model,
                          int64_t& mtime) {
    is_model = false;
    audit_file file;
    auto content = load(path);
    if (!content) return file;
    // A map of our own: its pages may be dropped once read through.
    std::span<const std::byte> releasable = content->buffered ? std::span<const std::byte>{} : content->bytes();
    auto classified = detail::audit_classify(content->bytes(), relative, releasable);
    if (!classified) return file;
    is_model = true;
    file = std::move(*classified);
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0) mtime = static_cast<int64_t>(info.st_mtime);
    if (file.lfs_pointer) return file;
    file_report report = scan_bytes(content->bytes(), relative, {}, releasable);
    detail::audit_set_verdict(file, report.format.format, std::string(verdict_name(report.overall)));
    if (content->buffered) {
        if (auto digest = sha256_of(content->bytes()); digest.ok()) file.sha256 = to_hex(*digest);
        return file;
    }
    content.reset();  // release the map: the digest streams the file with bounded reads
    if (auto digest = sha256_of_file(path); digest.ok()) file.sha256 = to_hex(*digest);
    return file;
}

}  // namespace

result<std::vector<std::string>> discover_repositories(const std::filesystem::path& root) {
    std::error_code ec;
    if (!fs::is_directory(root, ec))
        return make_error(error_code::io_open_failed, "not a folder").in_file(root.string());
    std::vector<std::string> repos;
    discover(root, root, repos);
    // Walk order equals byte order of paths except where a name sorts below '/'; sort to be sure.
    std::sort(repos.begin(), repos.end());
    return repos;
}

audit_repo audit_repository(const std::filesystem::path& root, const std::string& repo,
                            const audit_options& options) {
    audit_repo out;
    out.repo = repo;
    fs::path folder = repo == "." ? root : root / repo;
    std::error_code ec;
    out.git = fs::exists(folder / ".git", ec);

    std::vector<fs::path> paths;
    collect_files(folder, folder, paths);
    std::optional<int64_t> oldest_mtime;
    for (const fs::path& path : paths) {
        bool is_model = false;
        int64_t mtime = 0;
        audit_file file = audit_one_file(path, relative_name(folder, path), is_model, mtime);
        if (!is_model) continue;
        if (!oldest_mtime || mtime < *oldest_mtime) oldest_mtime = mtime;
        out.files.push_back(std::move(file));
    }
    std::sort(out.files.begin(), out.files.end(),
              [](const audit_file& a, const audit_file& b) { return a.path < b.path; });
    out.status = audit_status(out.files);
    out.unsafe_covered = audit_unsafe_covered(out.files);

    if (out.git) {
        auto facts = detail::audit_git_walk(folder.string(), options);
        if (!facts.ok()) {
            out.failure = facts.error().to_string();
            if (options.history) out.history = audit_history{};
        } else {
            if (facts->first_commit_time) out.created = detail::audit_iso_day(*facts->first_commit_time);
            out.history = std::move(facts->history);
        }
    } else if (oldest_mtime) {
        out.created = detail::audit_iso_day(*oldest_mtime);
    }
    return out;
}

}  // namespace stkit
