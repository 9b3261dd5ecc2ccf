// The conversion commit with libgit2 (see stkit/convert/commit.hpp): checks before converting, then
// blobs, a tree made from HEAD's with the new files upserted, a commit and a branch ref. The index,
// HEAD and the current branch are never written.
#include "stkit/convert/commit.hpp"

#include <git2.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <system_error>

#include "stkit/digest.hpp"
#include "stkit/format/safetensors.hpp"

namespace stkit::convert {
namespace {

namespace fs = std::filesystem;

template <class T, void (*Free)(T*)>
struct git_free {
    void operator()(T* p) const noexcept { Free(p); }
};
using repository_handle = std::unique_ptr<git_repository, git_free<git_repository, git_repository_free>>;
using commit_handle = std::unique_ptr<git_commit, git_free<git_commit, git_commit_free>>;
using tree_handle = std::unique_ptr<git_tree, git_free<git_tree, git_tree_free>>;
using signature_handle = std::unique_ptr<git_signature, git_free<git_signature, git_signature_free>>;
using status_handle = std::unique_ptr<git_status_list, git_free<git_status_list, git_status_list_free>>;
using reference_handle = std::unique_ptr<git_reference, git_free<git_reference, git_reference_free>>;

void start_libgit2() {
    // Never shut down: the audit may use libgit2 on other threads of the same process.
    static std::once_flag once;
    std::call_once(once, [] { git_libgit2_init(); });
}

error git_error_of(error_code code, std::string what, const fs::path& where) {
    const git_error* last = git_error_last();
    if (last && last->message) what += std::string(": ") + last->message;
    return make_error(code, std::move(what)).in_file(where.string());
}

std::string oid_hex(const git_oid& oid) {
    char hex[GIT_OID_HEXSZ + 1] = {};
    git_oid_tostr(hex, sizeof hex, &oid);
    return hex;
}

result<repository_handle> open_repository(const fs::path& folder, unsigned flags) {
    start_libgit2();
    git_repository* raw = nullptr;
    if (git_repository_open_ext(&raw, folder.c_str(), flags, nullptr) != 0)
        return git_error_of(error_code::cv_git_not_worktree, "no git repository here or above", folder);
    repository_handle repo(raw);
    if (git_repository_is_bare(raw) || git_repository_workdir(raw) == nullptr)
        return make_error(error_code::cv_git_not_worktree, "the repository is bare").in_file(folder.string());
    return repo;
}

result<git_oid> head_commit(git_repository* repo, const fs::path& folder) {
    if (git_repository_head_unborn(repo) == 1)
        return make_error(error_code::cv_git_no_head, "the current branch has no commit yet").in_file(folder.string());
    git_oid head{};
    if (git_reference_name_to_id(&head, repo, "HEAD") != 0)
        return git_error_of(error_code::cv_git_failed, "resolving HEAD", folder);
    return head;
}

std::string_view status_word(unsigned status) {
    constexpr unsigned staged = GIT_STATUS_INDEX_NEW | GIT_STATUS_INDEX_MODIFIED | GIT_STATUS_INDEX_DELETED |
                                GIT_STATUS_INDEX_RENAMED | GIT_STATUS_INDEX_TYPECHANGE;
    if (status & GIT_STATUS_CONFLICTED) return "conflicted";
    if (status & GIT_STATUS_WT_NEW) return "untracked";
    if (status & staged) return "staged";
    if (status & GIT_STATUS_WT_DELETED) return "deleted";
    return "modified";
}

// Modified or staged tracked files, and untracked ones (ignored files do not count): the new branch
// starts from HEAD, so what is converted must be what HEAD holds.
result<void> require_clean(git_repository* repo, const fs::path& folder) {
    git_status_options options = GIT_STATUS_OPTIONS_INIT;
    options.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
    options.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
                    GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
    git_status_list* raw = nullptr;
    if (git_status_list_new(&raw, repo, &options) != 0)
        return git_error_of(error_code::cv_git_failed, "reading the status", folder);
    status_handle status(raw);
    std::size_t count = git_status_list_entrycount(raw);
    if (count == 0) return {};
    std::string listed;
    constexpr std::size_t shown = 5;
    for (std::size_t i = 0; i < std::min(count, shown); ++i) {
        const git_status_entry* entry = git_status_byindex(raw, i);
        const git_diff_delta* delta = entry->head_to_index ? entry->head_to_index : entry->index_to_workdir;
        const char* path = delta ? delta->new_file.path : "?";
        listed += std::string(i ? ", " : "") + path + " (" + std::string(status_word(entry->status)) + ")";
    }
    if (count > shown) listed += " and " + std::to_string(count - shown) + " more";
    return make_error(error_code::cv_git_dirty,
                      listed + "; commit, stash or remove them first (git stash --include-untracked)")
        .in_file(folder.string());
}

// Safetensors already in the folder (tracked, or ignored: the tree is clean) mean there is no
// variant to add, and a conversion over them would replace or delete files HEAD holds.
result<void> require_no_safetensors(const fs::path& folder) {
    std::error_code failure;
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(folder, failure)) {
        std::string name = entry.path().filename().string();
        if (name.ends_with(".safetensors") || name.ends_with(".safetensors.index.json")) found.push_back(name);
    }
    if (failure)
        return make_error(error_code::io_read_failed, "listing the folder: " + failure.message())
            .in_file(folder.string());
    if (found.empty()) return {};
    std::sort(found.begin(), found.end());
    std::string listed;
    for (const std::string& name : found) listed += (listed.empty() ? "" : ", ") + name;
    return make_error(error_code::cv_git_has_safetensors, listed).in_file(folder.string());
}

result<signature_handle> default_signature(git_repository* repo, const fs::path& folder) {
    git_signature* raw = nullptr;
    if (git_signature_default(&raw, repo) != 0)
        return make_error(error_code::cv_git_no_identity,
                          "set one with: git config user.name \"Your Name\" && "
                          "git config user.email you@example.com")
            .in_file(folder.string());
    return signature_handle(raw);
}

result<bool> branch_exists(git_repository* repo, const std::string& branch, const fs::path& folder) {
    git_reference* raw = nullptr;
    int found = git_branch_lookup(&raw, repo, branch.c_str(), GIT_BRANCH_LOCAL);
    reference_handle ref(raw);
    if (found == 0) return true;
    if (found == GIT_ENOTFOUND) return false;
    return git_error_of(error_code::cv_git_failed, "looking up branch " + branch, folder);
}

// `path` relative to the working tree's root, with '/': the path inside git's trees. Empty when
// the path is outside the working tree.
std::string tree_path(const fs::path& path, const fs::path& workdir) {
    std::error_code ignored;
    fs::path relative = fs::weakly_canonical(path, ignored).lexically_relative(workdir);
    if (relative.empty() || *relative.begin() == "..") return {};
    return relative == "." ? std::string() : relative.generic_string();
}

// Git LFS's layout (git-lfs/docs/spec.md): the pointer is committed in place of the content, and
// the content lives at <common git dir>/lfs/objects/<oid[0:2]>/<oid[2:4]>/<oid>.
std::string lfs_pointer(const std::string& sha256, uint64_t size) {
    return "version https://git-lfs.github.com/spec/v1\noid sha256:" + sha256 + "\nsize " +
           std::to_string(size) + "\n";
}

bool lfs_tracked(git_repository* repo, const std::string& path) {
    const char* value = nullptr;
    if (git_attr_get(&value, repo, GIT_ATTR_CHECK_FILE_THEN_INDEX, path.c_str(), "filter") != 0) return false;
    return git_attr_value(value) == GIT_ATTR_VALUE_STRING && std::string_view(value) == "lfs";
}

// A hard link (the working tree's copy is removed after the commit, so this is a move) or, across
// file systems, a copy written beside the object and renamed into place.
result<void> store_lfs_object(git_repository* repo, const fs::path& file, const std::string& sha256) {
    fs::path objects = fs::path(git_repository_commondir(repo)) / "lfs" / "objects";
    fs::path object = objects / sha256.substr(0, 2) / sha256.substr(2, 2) / sha256;
    std::error_code failure;
    if (fs::exists(object, failure)) return {};
    fs::create_directories(object.parent_path(), failure);
    if (failure)
        return make_error(error_code::io_write_failed, failure.message()).in_file(object.parent_path().string());
    fs::create_hard_link(file, object, failure);
    if (!failure) return {};
    fs::path partial = object.string() + ".partial";
    fs::copy_file(file, partial, fs::copy_options::overwrite_existing, failure);
    if (!failure) fs::rename(partial, object, failure);
    if (failure) {
        std::error_code ignored;
        fs::remove(partial, ignored);
        return make_error(error_code::io_write_failed, "storing the LFS object: " + failure.message())
            .in_file(object.string());
    }
    return {};
}

// The SHA-256 of each tensor's stored bytes, read back through the validating reader.
result<void> digest_tensors(const fs::path& path, std::vector<tensor_digest>& digests) {
    STKIT_TRY(auto file, safetensors_file::open(path));
    for (const tensor_view& tensor : file.tensors()) {
        STKIT_TRY(auto digest, sha256_of(tensor.data));
        digests.push_back({std::string(tensor.name), to_hex(digest)});
    }
    std::sort(digests.begin(), digests.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return {};
}

// The facts of each written file the texts and the tree need.
result<std::vector<committed_file>> describe_outputs(const commit_target& target, const convert_report& report,
                                                     git_repository* repo) {
    std::vector<committed_file> files;
    for (const written_file& written : report.outputs) {
        committed_file file;
        file.path = tree_path(written.path, target.workdir);
        file.source = tree_path(written.source, target.workdir);
        fs::path folder = target.folder;
        if (file.path.empty() || fs::path(file.path).parent_path() != folder)
            return make_error(error_code::invalid_argument, "output is not in the converted folder")
                .in_file(written.path.string());
        file.tensors = written.tensors;
        file.tensor_bytes = written.tensor_bytes;
        std::error_code failure;
        file.file_bytes = fs::file_size(written.path, failure);
        if (!failure) file.source_bytes = fs::file_size(written.source, failure);
        if (failure) return make_error(error_code::io_open_failed, failure.message()).in_file(written.path.string());
        STKIT_TRY(auto digest, sha256_of_file(written.path));
        file.sha256 = to_hex(digest);
        if (file.tensors > 0) STKIT_TRY_VOID(digest_tensors(written.path, file.tensor_digests));
        file.lfs = lfs_tracked(repo, file.path);
        files.push_back(std::move(file));
    }
    return files;
}

}  // namespace

result<commit_target> commit_check(const fs::path& folder, const commit_options& options) {
    STKIT_TRY(auto repo, open_repository(folder, 0));
    commit_target target;
    std::error_code ignored;
    target.workdir = fs::weakly_canonical(git_repository_workdir(repo.get()), ignored);
    if (target.workdir.filename().empty()) target.workdir = target.workdir.parent_path();  // trailing '/'
    std::string inside = tree_path(folder, target.workdir);
    if (inside.empty() && fs::weakly_canonical(folder, ignored) != target.workdir)
        return make_error(error_code::cv_git_not_worktree, "the folder is outside the working tree")
            .in_file(folder.string());
    target.folder = inside;
    STKIT_TRY(git_oid head, head_commit(repo.get(), folder));
    target.head_commit = oid_hex(head);
    if (git_repository_head_detached(repo.get()) != 1) {
        git_reference* raw = nullptr;
        if (git_repository_head(&raw, repo.get()) != 0)
            return git_error_of(error_code::cv_git_failed, "reading HEAD", folder);
        reference_handle ref(raw);
        target.head_ref = git_reference_name(raw);
    }
    int valid = 0;
    if (git_branch_name_is_valid(&valid, options.branch.c_str()) != 0 || !valid)
        return make_error(error_code::invalid_argument, "not a valid branch name", no_offset, options.branch)
            .in_file(folder.string());
    STKIT_TRY(bool exists, branch_exists(repo.get(), options.branch, folder));
    if (exists)
        return make_error(error_code::cv_git_branch_exists, "choose another with --branch", no_offset, options.branch)
            .in_file(folder.string());
    target.branch = options.branch;
    STKIT_TRY(auto signature, default_signature(repo.get(), folder));
    STKIT_TRY_VOID(require_clean(repo.get(), folder));
    STKIT_TRY_VOID(require_no_safetensors(folder));
    return target;
}

result<conversion_commit> commit_conversion(const commit_target& target, const convert_report& report,
                                            const commit_options& options) {
    const fs::path& where = target.workdir;
    if (report.outputs.empty()) return make_error(error_code::invalid_argument, "nothing was converted").in_file(where.string());
    if (!report.verified)
        return make_error(error_code::invalid_argument, "the conversion was not verified").in_file(where.string());
    STKIT_TRY(auto repo, open_repository(where, GIT_REPOSITORY_OPEN_NO_SEARCH));
    git_repository* raw_repo = repo.get();
    STKIT_TRY(git_oid head, head_commit(raw_repo, where));
    if (oid_hex(head) != target.head_commit)
        return make_error(error_code::cv_git_failed, "HEAD moved during the conversion (was " + target.head_commit + ")")
            .in_file(where.string());
    STKIT_TRY(auto files, describe_outputs(target, report, raw_repo));

    std::vector<git_tree_update> updates(files.size());
    for (std::size_t i = 0; i < files.size(); ++i) {
        const committed_file& file = files[i];
        fs::path on_disk = target.workdir / file.path;
        git_tree_update& update = updates[i];
        update.action = GIT_TREE_UPDATE_UPSERT;
        update.filemode = GIT_FILEMODE_BLOB;
        update.path = file.path.c_str();
        int stored = 0;
        if (file.lfs) {
            STKIT_TRY_VOID(store_lfs_object(raw_repo, on_disk, file.sha256));
            std::string pointer = lfs_pointer(file.sha256, file.file_bytes);
            stored = git_blob_create_from_buffer(&update.id, raw_repo, pointer.data(), pointer.size());
        } else {
            stored = git_blob_create_from_disk(&update.id, raw_repo, on_disk.c_str());
        }
        if (stored != 0) return git_error_of(error_code::cv_git_failed, "storing " + file.path, where);
    }

    git_commit* raw_parent = nullptr;
    if (git_commit_lookup(&raw_parent, raw_repo, &head) != 0)
        return git_error_of(error_code::cv_git_failed, "reading HEAD's commit", where);
    commit_handle parent(raw_parent);
    git_tree* raw_base = nullptr;
    if (git_commit_tree(&raw_base, raw_parent) != 0) return git_error_of(error_code::cv_git_failed, "reading HEAD's tree", where);
    tree_handle base(raw_base);
    git_oid tree_id{};
    if (git_tree_create_updated(&tree_id, raw_repo, raw_base, updates.size(), updates.data()) != 0)
        return git_error_of(error_code::cv_git_failed, "building the tree", where);
    git_tree* raw_tree = nullptr;
    if (git_tree_lookup(&raw_tree, raw_repo, &tree_id) != 0) return git_error_of(error_code::cv_git_failed, "reading the new tree", where);
    tree_handle tree(raw_tree);

    conversion_commit made;
    made.message = commit_message(report, files, options);
    made.pull_request = commit_pull_request_body(report, files, options);
    STKIT_TRY(auto signature, default_signature(raw_repo, where));
    git_oid commit_id{};
    const git_commit* parents[] = {raw_parent};
    if (git_commit_create(&commit_id, raw_repo, nullptr, signature.get(), signature.get(), nullptr,
                          made.message.c_str(), raw_tree, 1, parents) != 0)
        return git_error_of(error_code::cv_git_failed, "creating the commit", where);
    git_commit* raw_commit = nullptr;
    if (git_commit_lookup(&raw_commit, raw_repo, &commit_id) != 0)
        return git_error_of(error_code::cv_git_failed, "reading the new commit", where);
    commit_handle commit(raw_commit);
    git_reference* raw_branch = nullptr;
    int created = git_branch_create(&raw_branch, raw_repo, target.branch.c_str(), raw_commit, 0);
    reference_handle branch(raw_branch);
    if (created == GIT_EEXISTS)
        return make_error(error_code::cv_git_branch_exists, "created during the conversion", no_offset, target.branch)
            .in_file(where.string());
    if (created != 0) return git_error_of(error_code::cv_git_failed, "creating branch " + target.branch, where);

    // The files now live on the branch (and, for LFS, in the object store): the working tree goes
    // back to what it was. A file that cannot be removed stays, untracked; the commit is made.
    for (const committed_file& file : files) {
        std::error_code ignored;
        fs::remove(target.workdir / file.path, ignored);
    }
    made.branch = target.branch;
    made.commit = oid_hex(commit_id);
    made.parent = target.head_commit;
    made.files = std::move(files);
    return made;
}

}  // namespace stkit::convert
