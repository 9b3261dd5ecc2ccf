// Git history of one repository with libgit2: every commit reachable from HEAD (or, on request,
// the first-parent chain), parents before children, each commit's tree diffed against its first
// parent's so that a commit costs what it changed, not the size of its tree. Each blob is
// classified once (cached by object id). docs/audit.md defines what is found here.
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
using revwalk_ptr = git_ptr<git_revwalk, git_revwalk_free>;

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

    result<audit_history> walk(const std::vector<git_oid>& commits, int64_t first_time, const git_oid& head);

private:
    result<blob_class> classify_blob(const git_oid& oid);
    result<std::optional<model_entry>> classify(std::string_view path, const git_oid& oid, uint32_t mode);
    // The model files of a whole tree, by path.
    result<std::map<std::string, model_entry>> model_files(git_tree* tree);
    result<bool> unsafe_removed(const git_oid& adoption, const git_oid& head);

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

result<std::optional<model_entry>> history_walker::classify(std::string_view path, const git_oid& oid,
                                                            uint32_t mode) {
    if (mode != GIT_FILEMODE_BLOB && mode != GIT_FILEMODE_BLOB_EXECUTABLE) return std::optional<model_entry>{};
    STKIT_TRY(blob_class found, classify_blob(oid));
    file_format format = found.format;
    if (found.lfs || found.by_name) {
        auto guessed = audit_format_from_name(path);
        if (!guessed) return std::optional<model_entry>{};
        format = *guessed;
    } else if (!audit_is_model_format(format)) {
        return std::optional<model_entry>{};
    }
    return std::optional<model_entry>(model_entry{format, audit_format_runs_code(format),
                                                  audit_family_of(format) == format_family::safetensors});
}

int64_t floor_days(int64_t seconds) { return seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400); }

result<commit_ptr> lookup_commit(git_repository* repo, const git_oid& oid, const std::string& path) {
    git_commit* raw_commit = nullptr;
    if (git_commit_lookup(&raw_commit, repo, &oid) != 0) return git_failure(path, "reading a commit");
    return commit_ptr(raw_commit);
}

result<tree_ptr> tree_of(git_commit* commit, const std::string& path) {
    git_tree* raw_tree = nullptr;
    if (git_commit_tree(&raw_tree, commit) != 0) return git_failure(path, "reading a tree");
    return tree_ptr(raw_tree);
}

result<tree_ptr> tree_of(git_repository* repo, const git_oid& oid, const std::string& path) {
    STKIT_TRY(commit_ptr commit, lookup_commit(repo, oid, path));
    return tree_of(commit.get(), path);
}

result<std::map<std::string, model_entry>> history_walker::model_files(git_tree* tree) {
    struct state {
        history_walker* self;
        std::map<std::string, model_entry> found;
        std::optional<error> failure;
    } walk_state{this, {}, {}};
    auto visit = [](const char* root, const git_tree_entry* entry, void* payload) -> int {
        auto* st = static_cast<state*>(payload);
        if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB) return 0;
        std::string path = std::string(root) + git_tree_entry_name(entry);
        auto entry_class = st->self->classify(path, *git_tree_entry_id(entry), git_tree_entry_filemode(entry));
        if (!entry_class.ok()) {
            st->failure = std::move(entry_class).error();
            return -1;
        }
        if (*entry_class) st->found.emplace(std::move(path), **entry_class);
        return 0;
    };
    if (git_tree_walk(tree, GIT_TREEWALK_PRE, visit, &walk_state) != 0) {
        if (walk_state.failure) return std::move(*walk_state.failure);
        return git_failure(path_, "walking a tree");
    }
    return std::move(walk_state.found);
}

result<bool> history_walker::unsafe_removed(const git_oid& adoption, const git_oid& head) {
    STKIT_TRY(tree_ptr at_adoption, tree_of(repo_, adoption, path_));
    STKIT_TRY(tree_ptr at_head, tree_of(repo_, head, path_));
    STKIT_TRY(auto before, model_files(at_adoption.get()));
    STKIT_TRY(auto now, model_files(at_head.get()));
    for (const auto& [path, entry] : before) {
        if (!entry.unsafe) continue;
        auto still = now.find(path);
        if (still == now.end() || !still->second.unsafe) return true;
    }
    return false;
}

result<tree_ptr> parent_tree(git_commit* commit, unsigned index, const std::string& repo_path) {
    git_commit* raw_parent = nullptr;
    if (git_commit_parent(&raw_parent, commit, index) != 0) return git_failure(repo_path, "reading a parent");
    commit_ptr parent(raw_parent);
    return tree_of(raw_parent, repo_path);
}

// Is `path` absent from the tree of every parent after the first (the first was diffed already)?
result<bool> absent_from_other_parents(git_commit* commit, const char* path, const std::string& repo_path) {
    for (unsigned i = 1; i < git_commit_parentcount(commit); ++i) {
        STKIT_TRY(tree_ptr tree, parent_tree(commit, i, repo_path));
        git_tree_entry* raw_entry = nullptr;
        int rc = git_tree_entry_bypath(&raw_entry, tree.get(), path);
        if (rc == 0) {
            git_tree_entry_free(raw_entry);
            return false;
        }
        if (rc != GIT_ENOTFOUND) return git_failure(repo_path, "looking up a path");
    }
    return true;
}

std::string signature_text(const git_signature* who) {
    std::string name = who && who->name ? who->name : "", email = who && who->email ? who->email : "";
    return name + " <" + email + ">";
}

result<audit_history> history_walker::walk(const std::vector<git_oid>& commits, int64_t first_time,
                                           const git_oid& head) {
    audit_history history;
    history.commits = commits.size();
    git_diff_options diff_options = GIT_DIFF_OPTIONS_INIT;
    diff_options.flags = GIT_DIFF_SKIP_BINARY_CHECK | GIT_DIFF_IGNORE_SUBMODULES;
    // Earliest by committer time; `commits` is in topological order, so a strict `<` keeps the
    // topologically first of equal times.
    std::optional<int64_t> model_time, adoption_time;
    std::optional<git_oid> adoption_oid;

    for (const git_oid& oid : commits) {
        STKIT_TRY(commit_ptr commit, lookup_commit(repo_, oid, path_));
        git_commit* raw_commit = commit.get();
        STKIT_TRY(tree_ptr tree, tree_of(raw_commit, path_));
        git_tree* raw_tree = tree.get();
        tree_ptr first_parent_tree;
        if (git_commit_parentcount(raw_commit) > 0) {
            STKIT_TRY(first_parent_tree, parent_tree(raw_commit, 0, path_));
        }
        git_diff* raw_diff = nullptr;
        if (git_diff_tree_to_tree(&raw_diff, repo_, first_parent_tree.get(), raw_tree, &diff_options) != 0)
            return git_failure(path_, "diffing trees");
        diff_ptr diff(raw_diff);

        bool changes_model = false, adds_safetensors = false;
        std::size_t deltas = git_diff_num_deltas(raw_diff);
        for (std::size_t i = 0; i < deltas; ++i) {
            const git_diff_delta* delta = git_diff_get_delta(raw_diff, i);
            if (delta->status == GIT_DELTA_DELETED) continue;
            STKIT_TRY(auto entry, classify(delta->new_file.path, delta->new_file.id, delta->new_file.mode));
            if (!entry) continue;
            changes_model = true;
            // With --first-parent only the first parent counts, as the walk did before full history.
            if (entry->safetensors && delta->status == GIT_DELTA_ADDED && !adds_safetensors) {
                if (options_.first_parent) {
                    adds_safetensors = true;
                } else {
                    STKIT_TRY(adds_safetensors, absent_from_other_parents(raw_commit, delta->new_file.path, path_));
                }
            }
        }

        int64_t when = static_cast<int64_t>(git_commit_time(raw_commit));
        char hex[GIT_OID_HEXSZ + 1];
        git_oid_tostr(hex, sizeof hex, &oid);
        if (changes_model && (!model_time || when < *model_time)) {
            model_time = when;
            history.first_model_commit = std::string(hex);
        }
        if (adds_safetensors) {
            const git_signature* author = git_commit_author(raw_commit);
            const char* message = git_commit_message(raw_commit);
            audit_adopter by = audit_commit_adopter(message ? message : "", author && author->name ? author->name : "",
                                                    author && author->email ? author->email : "");
            switch (by) {
                case audit_adopter::converter_bot: ++history.converter_commits; break;
                case audit_adopter::stkit: ++history.stkit_commits; break;
                case audit_adopter::developer: ++history.developer_commits; break;
            }
            if (!adoption_time || when < *adoption_time) {
                adoption_time = when;
                adoption_oid = oid;
                history.first_safetensors_commit = audit_commit_ref{
                    hex, audit_iso_time(when), signature_text(author), by,
                    audit_iso_time(author ? static_cast<int64_t>(author->when.time) : 0)};
            }
        }
        if (options_.commit_files) {
            audit_commit_files row{hex, audit_iso_time(when), {}};
            STKIT_TRY(auto present, model_files(raw_tree));
            for (const auto& [path, entry] : present)
                row.files.push_back(path + ":" + std::string(file_format_name(entry.format)));
            history.commit_files.push_back(std::move(row));
        }
    }
    if (model_time) history.first_model_date = audit_iso_time(*model_time);
    if (adoption_time) {
        history.days_to_safetensors = floor_days(*adoption_time - first_time);
        history.days_from_first_model = floor_days(*adoption_time - *model_time);
        STKIT_TRY(history.unsafe_removed_after, unsafe_removed(*adoption_oid, head));
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

    // Parents before children (topological, then committer time among the unordered), the way
    // `git log --topo-order --reverse` lists them.
    git_revwalk* raw_walk = nullptr;
    if (git_revwalk_new(&raw_walk, raw_repo) != 0) return git_failure(repo_path, "starting a history walk");
    revwalk_ptr walk(raw_walk);
    if (git_revwalk_sorting(raw_walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME | GIT_SORT_REVERSE) != 0 ||
        (options.first_parent && git_revwalk_simplify_first_parent(raw_walk) != 0) ||
        git_revwalk_push(raw_walk, &head) != 0)
        return git_failure(repo_path, "starting a history walk");
    std::vector<git_oid> commits;
    std::optional<int64_t> first_time;
    git_oid oid{};
    while ((rc = git_revwalk_next(&oid, raw_walk)) == 0) {
        commits.push_back(oid);
        STKIT_TRY(commit_ptr commit, lookup_commit(raw_repo, oid, repo_path));
        int64_t when = static_cast<int64_t>(git_commit_time(commit.get()));
        if (!first_time || when < *first_time) first_time = when;
    }
    if (rc != GIT_ITEROVER) return git_failure(repo_path, "walking the history");
    facts.first_commit_time = first_time;
    if (!options.history) return facts;

    git_odb* raw_odb = nullptr;
    if (git_repository_odb(&raw_odb, raw_repo) != 0) return git_failure(repo_path, "opening the object database");
    odb_ptr odb(raw_odb);
    history_walker walker(raw_repo, raw_odb, repo_path, options);
    STKIT_TRY(facts.history, walker.walk(commits, first_time.value_or(0), head));
    return facts;
}

}  // namespace stkit::detail
