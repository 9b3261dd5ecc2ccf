// Git history of one repository with libgit2: the first-parent chain from HEAD, walked oldest
// first, diffing each commit's tree against its parent's so that each commit costs what it changed,
// not the size of its tree. Each blob is classified once (cached by object id).
#include <git2.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>

#include "audit/internal.hpp"

namespace stkit::detail {
namespace {

template <class T, void (*Free)(T*)>
struct git_deleter {
    void operator()(T* p) const noexcept { Free(p); }
};
template <class T, void (*Free)(T*)>
using git_ptr = std::unique_ptr<T, git_deleter<T, Free>>;
using repository_ptr = git_ptr<git_repository, git_repository_free>;
using commit_ptr = git_ptr<git_commit, git_commit_free>;
using tree_ptr = git_ptr<git_tree, git_tree_free>;
using diff_ptr = git_ptr<git_diff, git_diff_free>;
using blob_ptr = git_ptr<git_blob, git_blob_free>;
using odb_ptr = git_ptr<git_odb, git_odb_free>;

void init_libgit2_once() {
    // Never shut down: other threads may still use it, and the process ends soon after.
    static std::once_flag once;
    std::call_once(once, [] { git_libgit2_init(); });
}

error git_failure(const std::string& repo_path, std::string_view what) {
    const git_error* last = git_error_last();
    std::string detail(what);
    if (last && last->message) detail += std::string(": ") + last->message;
    return make_error(error_code::audit_git_failed, std::move(detail), no_offset, repo_path);
}

struct model_entry {
    file_format format = file_format::unknown;
    bool unsafe = false;
    bool safetensors = false;
};

// What a blob's content says, independent of its path.
struct blob_class {
    bool lfs = false;          // an LFS pointer: the path decides
    bool by_name = false;      // over the size limit: the path decides
    file_format format = file_format::unknown;
};

class history_walker {
public:
    history_walker(git_repository* repo, git_odb* odb, const std::string& path, const audit_options& options)
        : repo_(repo), odb_(odb), path_(path), options_(options) {}

    result<audit_history> walk(const std::vector<git_oid>& chain, int64_t first_time);

private:
    result<blob_class> classify_blob(const git_oid& oid);
    result<std::optional<model_entry>> classify(const git_diff_file& file);

    git_repository* repo_;
    git_odb* odb_;
    const std::string& path_;
    const audit_options& options_;
    std::unordered_map<std::string, blob_class> cache_;
};

result<blob_class> history_walker::classify_blob(const git_oid& oid) {
    std::string key(reinterpret_cast<const char*>(oid.id), GIT_OID_RAWSZ);
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
    blob_class found;
    std::size_t size = 0;
    git_object_t type{};
    if (git_odb_read_header(&size, &type, odb_, &oid) != 0) return git_failure(path_, "reading a blob header");
    if (size > options_.max_history_blob_bytes) {
        found.by_name = true;
    } else {
        git_blob* raw = nullptr;
        if (git_blob_lookup(&raw, repo_, &oid) != 0) return git_failure(path_, "reading a blob");
        blob_ptr blob(raw);
        std::span<const std::byte> bytes(static_cast<const std::byte*>(git_blob_rawcontent(raw)),
                                         static_cast<std::size_t>(git_blob_rawsize(raw)));
        std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        if (parse_lfs_pointer(text)) found.lfs = true;
        else found.format = detect_format(bytes).format;
    }
    cache_.emplace(std::move(key), found);
    return found;
}

result<std::optional<model_entry>> history_walker::classify(const git_diff_file& file) {
    if (file.mode != GIT_FILEMODE_BLOB && file.mode != GIT_FILEMODE_BLOB_EXECUTABLE)
        return std::optional<model_entry>{};
    STKIT_TRY(blob_class found, classify_blob(file.id));
    file_format format = found.format;
    if (found.lfs || found.by_name) {
        auto guessed = audit_format_from_name(file.path);
        if (!guessed) return std::optional<model_entry>{};
        format = *guessed;
    } else if (!audit_is_model_format(format)) {
        return std::optional<model_entry>{};
    }
    return std::optional<model_entry>(model_entry{format, audit_format_runs_code(format),
                                                  audit_family_of(format) == format_family::safetensors});
}

int64_t floor_days(int64_t seconds) { return seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400); }

result<audit_history> history_walker::walk(const std::vector<git_oid>& chain, int64_t first_time) {
    audit_history history;
    history.commits = chain.size();
    std::map<std::string, model_entry> present;  // path -> model file, for the current commit
    std::set<std::string> unsafe_at_adoption;
    tree_ptr previous;
    git_diff_options diff_options = GIT_DIFF_OPTIONS_INIT;
    diff_options.flags = GIT_DIFF_SKIP_BINARY_CHECK | GIT_DIFF_IGNORE_SUBMODULES;

    for (const git_oid& oid : chain) {
        git_commit* raw_commit = nullptr;
        if (git_commit_lookup(&raw_commit, repo_, &oid) != 0) return git_failure(path_, "reading a commit");
        commit_ptr commit(raw_commit);
        git_tree* raw_tree = nullptr;
        if (git_commit_tree(&raw_tree, raw_commit) != 0) return git_failure(path_, "reading a tree");
        tree_ptr tree(raw_tree);
        git_diff* raw_diff = nullptr;
        if (git_diff_tree_to_tree(&raw_diff, repo_, previous.get(), raw_tree, &diff_options) != 0)
            return git_failure(path_, "diffing trees");
        diff_ptr diff(raw_diff);

        bool adds_safetensors = false;
        bool had_safetensors = std::any_of(present.begin(), present.end(),
                                           [](const auto& e) { return e.second.safetensors; });
        std::size_t deltas = git_diff_num_deltas(raw_diff);
        for (std::size_t i = 0; i < deltas; ++i) {
            const git_diff_delta* delta = git_diff_get_delta(raw_diff, i);
            if (delta->status == GIT_DELTA_DELETED) {
                std::string path = delta->old_file.path;
                present.erase(path);
                if (unsafe_at_adoption.erase(path)) history.unsafe_removed_after = true;
                continue;
            }
            STKIT_TRY(auto entry, classify(delta->new_file));
            std::string path = delta->new_file.path;
            auto before = present.find(path);
            bool was_safetensors = before != present.end() && before->second.safetensors;
            if (entry) {
                if (entry->safetensors && !was_safetensors) adds_safetensors = true;
                present[path] = *entry;
            } else {
                present.erase(path);
            }
            if ((!entry || !entry->unsafe) && unsafe_at_adoption.erase(path))
                history.unsafe_removed_after = true;
        }

        const git_signature* author = git_commit_author(raw_commit);
        int64_t when = author ? static_cast<int64_t>(author->when.time) : 0;
        char hex[GIT_OID_HEXSZ + 1];
        git_oid_tostr(hex, sizeof hex, &oid);
        if (!history.first_model_commit && !present.empty()) history.first_model_commit = std::string(hex);
        if (adds_safetensors) {
            std::string name = author && author->name ? author->name : "";
            std::string email = author && author->email ? author->email : "";
            const char* message = git_commit_message(raw_commit);
            bool bot = audit_is_converter_commit(message ? message : "", name, email);
            (bot ? history.converter_commits : history.developer_commits) += 1;
            if (!had_safetensors && !history.first_safetensors_commit) {
                history.first_safetensors_commit =
                    audit_commit_ref{hex, audit_iso_time(when), name + " <" + email + ">", bot};
                history.days_to_safetensors = floor_days(when - first_time);
                for (const auto& [path, entry] : present)
                    if (entry.unsafe) unsafe_at_adoption.insert(path);
            }
        }
        if (options_.commit_files) {
            audit_commit_files row{hex, audit_iso_time(when), {}};
            for (const auto& [path, entry] : present)
                row.files.push_back(path + ":" + std::string(file_format_name(entry.format)));
            history.commit_files.push_back(std::move(row));
        }
        previous = std::move(tree);
    }
    return history;
}

}  // namespace

result<audit_git_facts> audit_git_walk(const std::string& repo_path, const audit_options& options) {
    init_libgit2_once();
    git_repository* raw_repo = nullptr;
    if (git_repository_open_ext(&raw_repo, repo_path.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr) != 0)
        return git_failure(repo_path, "opening the repository");
    repository_ptr repo(raw_repo);

    audit_git_facts facts;
    git_oid head{};
    int rc = git_reference_name_to_id(&head, raw_repo, "HEAD");
    if (rc == GIT_ENOTFOUND || rc == GIT_EUNBORNBRANCH) {  // no commits yet
        if (options.history) facts.history = audit_history{};
        return facts;
    }
    if (rc != 0) return git_failure(repo_path, "resolving HEAD");

    // The first-parent chain, newest first, then reversed.
    std::vector<git_oid> chain;
    git_oid current = head;
    int64_t first_time = 0;
    for (;;) {
        git_commit* raw_commit = nullptr;
        if (git_commit_lookup(&raw_commit, raw_repo, &current) != 0)
            return git_failure(repo_path, "reading a commit");
        commit_ptr commit(raw_commit);
        chain.push_back(current);
        if (git_commit_parentcount(raw_commit) == 0) {
            const git_signature* author = git_commit_author(raw_commit);
            first_time = author ? static_cast<int64_t>(author->when.time) : 0;
            break;
        }
        current = *git_commit_parent_id(raw_commit, 0);
    }
    std::reverse(chain.begin(), chain.end());
    facts.first_commit_time = first_time;
    if (!options.history) return facts;

    git_odb* raw_odb = nullptr;
    if (git_repository_odb(&raw_odb, raw_repo) != 0) return git_failure(repo_path, "opening the object database");
    odb_ptr odb(raw_odb);
    history_walker walker(raw_repo, raw_odb, repo_path, options);
    STKIT_TRY(facts.history, walker.walk(chain, first_time));
    return facts;
}

}  // namespace stkit::detail
