// The audit driver over small trees made here: repository order whatever the thread count and with
// the pending window set to 1, the history blob limit set to 1 (classification by name), and a
// broken .git reported as audit_git_failed without stopping the run.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "stkit/audit/audit.hpp"

namespace stkit {
namespace {

namespace fs = std::filesystem;

std::string safetensors_bytes() {
    std::string header = R"({"w":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})";
    header.append((8 - header.size() % 8) % 8, ' ');
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
    return out + header + "ab";
}

void write(const fs::path& path, const std::string& data) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << data;
}

class AuditRun : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = fs::temp_directory_path() / ("stkit-audit-run-" + std::to_string(::getpid()));
        fs::remove_all(root_);
        fs::create_directories(root_);
    }
    void TearDown() override { fs::remove_all(root_); }
    fs::path root_;
};

TEST_F(AuditRun, OrderIsTheSameForEveryJobCountAndWindow) {
    for (int i = 0; i < 12; ++i)
        write(root_ / ("group" + std::to_string(i % 3)) / ("repo" + std::to_string(i)) / "model.safetensors",
              safetensors_bytes());
    write(root_ / "not-a-repo" / "notes.txt", "text");
    std::vector<std::string> expected;
    {
        audit_options options;
        auto ran = audit_run(root_, options, [&](const audit_repo& r) -> result<void> {
            expected.push_back(r.repo);
            return {};
        });
        ASSERT_TRUE(ran.ok());
        EXPECT_EQ(*ran, 12u);
    }
    ASSERT_EQ(expected.size(), 12u);
    EXPECT_TRUE(std::is_sorted(expected.begin(), expected.end()));
    EXPECT_EQ(expected.front(), "group0/repo0");
    for (unsigned jobs : {2u, 3u}) {
        audit_options options;
        options.jobs = jobs;
        options.max_pending_repos = 1;
        std::vector<std::string> got;
        std::size_t last_done = 0;
        auto ran = audit_run(
            root_, options,
            [&](const audit_repo& r) -> result<void> {
                got.push_back(r.repo);
                EXPECT_EQ(r.status, repo_status::safe);
                return {};
            },
            [&](std::size_t done, std::size_t total) {
                EXPECT_EQ(total, 12u);
                EXPECT_GE(done, last_done);
                last_done = done;
            });
        ASSERT_TRUE(ran.ok());
        EXPECT_EQ(got, expected) << jobs;
        EXPECT_EQ(last_done, 12u);
    }
}

TEST_F(AuditRun, SinkErrorStopsTheRun) {
    for (int i = 0; i < 5; ++i) write(root_ / ("r" + std::to_string(i)) / "m.safetensors", safetensors_bytes());
    audit_options options;
    options.jobs = 2;
    int calls = 0;
    auto ran = audit_run(root_, options, [&](const audit_repo&) -> result<void> {
        ++calls;
        return make_error(error_code::io_write_failed, "disk full");
    });
    ASSERT_FALSE(ran.ok());
    EXPECT_EQ(ran.error().code, error_code::io_write_failed);
    EXPECT_EQ(calls, 1);
}

TEST_F(AuditRun, MissingRootIsAnError) {
    auto ran = audit_run(root_ / "absent", {}, [](const audit_repo&) -> result<void> { return {}; });
    ASSERT_FALSE(ran.ok());
    EXPECT_EQ(ran.error().code, error_code::io_open_failed);
}

TEST_F(AuditRun, BrokenGitIsReportedNotFatal) {
    write(root_ / "broken" / ".git", "gitdir: /nonexistent/place\n");
    write(root_ / "broken" / "model.safetensors", safetensors_bytes());
    audit_options options;
    options.history = true;
    audit_repo repo = audit_repository(root_, "broken", options);
    ASSERT_TRUE(repo.failure.has_value());
    EXPECT_NE(repo.failure->find(error_message(error_code::audit_git_failed)), std::string::npos) << *repo.failure;
    EXPECT_EQ(repo.status, repo_status::safe);  // the working tree is still audited
    ASSERT_EQ(repo.files.size(), 1u);
}

TEST_F(AuditRun, HistoryBlobLimitOfOneClassifiesByName) {
    fs::path repo = root_ / "r";
    write(repo / "model.safetensors", "just text, not safetensors\n");
    std::string git = "cd '" + repo.string() +
                      "' && git init -q && git add -A && GIT_AUTHOR_NAME=A GIT_AUTHOR_EMAIL=a@b "
                      "GIT_COMMITTER_NAME=A GIT_COMMITTER_EMAIL=a@b GIT_AUTHOR_DATE='2022-01-01T00:00:00+00:00' "
                      "GIT_COMMITTER_DATE='2022-01-01T00:00:00+00:00' git -c commit.gpgsign=false commit -q -m x";
    ASSERT_EQ(std::system(git.c_str()), 0);
    audit_options options;
    options.history = true;
    audit_repo by_content = audit_repository(root_, "r", options);
    ASSERT_TRUE(by_content.history.has_value());
    EXPECT_FALSE(by_content.history->first_safetensors_commit.has_value());
    EXPECT_FALSE(by_content.history->first_model_commit.has_value());
    EXPECT_EQ(by_content.created, "2022-01-01");

    options.max_history_blob_bytes = 1;
    audit_repo by_name = audit_repository(root_, "r", options);
    ASSERT_TRUE(by_name.history.has_value());
    ASSERT_TRUE(by_name.history->first_safetensors_commit.has_value());
    EXPECT_EQ(by_name.history->first_safetensors_commit->date, "2022-01-01T00:00:00Z");
    EXPECT_EQ(by_name.history->days_to_safetensors, 0);
    EXPECT_TRUE(by_name.files.empty());  // on disk the content is looked at: not a model file
}

}  // namespace
}  // namespace stkit
