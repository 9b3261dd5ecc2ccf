// stkit/convert/commit.hpp — a conversion as a git commit a maintainer can review
// (`stkit convert FOLDER --commit [--branch NAME] [--pr-body FILE]`).
//
// Two steps around convert_folder:
//   commit_check       before anything is written: the folder is in a git working tree whose HEAD
//                      is a commit, the tree is clean (no staged or modified tracked files and no
//                      untracked ones, so that what is converted is exactly what HEAD holds), the
//                      branch name is valid and free, a git identity is configured, and the folder
//                      holds no *.safetensors file yet. A detached HEAD is allowed: the branch starts
//                      from its commit.
//   commit_conversion  after convert_folder succeeded: one commit, whose parent is HEAD and whose
//                      tree is HEAD's tree plus the written files (safetensors files and the rewritten
//                      index), on the new branch. It is built without the index or the working tree
//                      (blobs, git_tree_create_updated over HEAD's tree, git_commit_create, then the
//                      branch ref), so HEAD, the current branch and the index are never touched.
//                      Then the written files are removed from the working tree: it is left exactly
//                      as it was, and `git switch BRANCH` brings the files back (leaving them would
//                      make that switch refuse to overwrite untracked files).
// Paths whose `filter` attribute is `lfs` (the Hub's .gitattributes) are committed as Git LFS
// pointers, their content stored as the LFS object (.git/lfs/objects/..) that `git lfs push` uploads.
//
// The commit message: the subject `Adding \`safetensors\` variant of this model` (the Hub
// converter's), a body listing each source → output (tensors, bytes), the aliases dropped, how the
// files were verified, the SHA-256 of each file and of each tensor's bytes (what a reviewer can
// recompute from the pickle with torch), and the trailer `Converted-by: stkit VERSION`. The pull
// request body is the same in Markdown, with loading snippets, the size comparison and the snippet
// that recomputes the tensor digests.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "stkit/convert/convert.hpp"
#include "stkit/error.hpp"

namespace stkit::convert {

inline constexpr std::string_view commit_subject = "Adding `safetensors` variant of this model";
inline constexpr std::string_view commit_trailer_key = "Converted-by";

struct commit_options {
    std::string branch = "safetensors";  // created; never an existing one
    std::string tool_version = "unknown";  // the trailer says "Converted-by: stkit <tool_version>"
};

// Where the commit will go, as commit_check found it.
struct commit_target {
    std::filesystem::path workdir;  // the working tree's root
    std::filesystem::path folder;   // the converted folder, relative to workdir ("" for the root)
    std::string head_ref;           // "refs/heads/main", or "" when HEAD is detached
    std::string head_commit;        // hex id of HEAD's commit: the new commit's parent
    std::string branch;             // the branch to create
};

// Errors (error.file is the folder): cv_git_not_worktree (no repository, or a bare one),
// cv_git_no_head (HEAD has no commit yet), cv_git_dirty (detail lists the first paths),
// invalid_argument (not a valid branch name), cv_git_branch_exists, cv_git_no_identity,
// cv_git_has_safetensors, cv_git_failed (libgit2's message in the detail).
[[nodiscard]] result<commit_target> commit_check(const std::filesystem::path& folder,
                                                 const commit_options& options = {});

struct tensor_digest {
    std::string name;
    std::string sha256;  // lower-case hex of the tensor's bytes as stored (row-major, little-endian)
};

// One file of the commit. Paths are relative to the working tree's root, with '/'.
struct committed_file {
    std::string path;            // "model.safetensors"
    std::string source;          // "pytorch_model.bin"
    uint64_t tensors = 0;        // 0 for the index
    uint64_t tensor_bytes = 0;
    uint64_t file_bytes = 0;
    uint64_t source_bytes = 0;   // the pickle (or index) it was converted from
    std::string sha256;          // lower-case hex of the whole file: its Git LFS oid
    bool lfs = false;            // committed as an LFS pointer
    std::vector<tensor_digest> tensor_digests;  // sorted by name; empty for the index
};

struct conversion_commit {
    std::string branch;
    std::string commit;          // hex id of the new commit
    std::string parent;          // hex id of its parent (HEAD's commit)
    std::string message;         // the commit message, as committed
    std::string pull_request;    // the same as Markdown (commit_pull_request_body)
    std::vector<committed_file> files;
};

// Commits what `report` (convert_folder's, verified) wrote on a new branch, as described above.
// Errors: cv_git_branch_exists (made since the check), cv_git_failed (HEAD moved since the check,
// or libgit2 failed), invalid_argument (nothing written, not verified, or an output outside the
// folder), io_* (reading an output, storing an LFS object). On an error no branch exists and the
// written files are left where they are.
[[nodiscard]] result<conversion_commit> commit_conversion(const commit_target& target,
                                                          const convert_report& report,
                                                          const commit_options& options = {});

// The texts alone, from the files' facts (for tests and for a caller that commits otherwise).
[[nodiscard]] std::string commit_message(const convert_report& report,
                                         const std::vector<committed_file>& files,
                                         const commit_options& options);
[[nodiscard]] std::string commit_pull_request_body(const convert_report& report,
                                                   const std::vector<committed_file>& files,
                                                   const commit_options& options);

}  // namespace stkit::convert
