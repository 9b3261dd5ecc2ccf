// The audit JSON reader and merge: a document round-trips exactly; every malformed or inconsistent
// input is refused with audit_merge_invalid naming where.
#include <gtest/gtest.h>

#include "audit/internal.hpp"
#include "stkit/audit/report.hpp"

namespace stkit {
namespace {

audit_repo sample_repo(std::string name, bool with_history) {
    audit_repo repo;
    repo.repo = std::move(name);
    repo.git = with_history;
    repo.created = "2022-03-01";
    audit_file st;
    st.path = "model.safetensors";
    detail::audit_set_format(st, file_format::safetensors);
    st.verdict = "safe";
    st.bytes = 80;
    st.sha256 = std::string(64, 'c');
    audit_file pt;
    pt.path = "sub dir/pytorch_model.bin";
    detail::audit_set_format(pt, file_format::torch_zip);
    pt.verdict = "unknown";
    pt.bytes = 1u << 30;
    pt.sha256 = std::string(64, 'd');
    pt.lfs_pointer = true;
    repo.files = {st, pt};
    repo.status = audit_status(repo.files);
    repo.unsafe_covered = audit_unsafe_covered(repo.files);
    if (with_history) {
        audit_history h;
        h.commits = 3;
        h.first_model_commit = std::string(40, '1');
        h.first_model_date = "2022-03-01T00:00:00Z";
        h.first_safetensors_commit = audit_commit_ref{std::string(40, '2'), "2022-03-11T10:00:00Z", "A \"B\" <a@b>",
                                                      audit_adopter::stkit, "2022-03-10T23:00:00Z"};
        h.days_to_safetensors = -2;
        h.days_from_first_model = 10;
        h.stkit_commits = 2;
        h.unsafe_removed_after = true;
        h.converter_commits = 1;
        h.developer_commits = 4;
        h.commit_files = {{std::string(40, '2'), "2022-03-11T10:00:00Z", {"model.safetensors:safetensors"}}};
        repo.history = h;
    }
    return repo;
}

std::string document_text(const std::vector<audit_repo>& repos, bool history, std::string shard = "null") {
    std::string text = "{\"audit\": {\"format\":\"stkit-audit\",\"version\":1,\"history\":" +
                       std::string(history ? "true" : "false") + ",\"shard\":" + shard + "},\n\"repos\": [";
    audit_summary_builder summary;
    for (std::size_t i = 0; i < repos.size(); ++i) {
        text += (i ? ",\n" : "\n") + audit_repo_to_json(repos[i]);
        summary.add(repos[i]);
    }
    return text + "\n],\n\"summary\": " + audit_summary_to_json(summary.finish()) + "}\n";
}

TEST(AuditJson, RoundTripsExactly) {
    std::vector<audit_repo> repos = {sample_repo("a", true), sample_repo("b/c", false)};
    repos[1].failure = "audit_git_failed: broken";
    auto parsed = audit_json_parse(document_text(repos, true));
    ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
    ASSERT_EQ(parsed->repos.size(), 2u);
    for (std::size_t i = 0; i < repos.size(); ++i)
        EXPECT_EQ(audit_repo_to_json(parsed->repos[i]), audit_repo_to_json(repos[i]));
    EXPECT_TRUE(parsed->info.history);
    EXPECT_FALSE(parsed->info.shard.has_value());
}

void expect_invalid(const std::string& text, const std::string& where) {
    auto parsed = audit_json_parse(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.error().code, error_code::audit_merge_invalid);
    EXPECT_NE(parsed.error().name.find(where), std::string::npos) << parsed.error().name;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
    auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
}

TEST(AuditJson, ReadsDocumentsWrittenBeforeStkitConversions) {
    // The fields added with the full-history walk are optional on input; the bot flag decides.
    std::string text = document_text({sample_repo("a", true)}, true);
    for (const char* field : {",\"first_model_date\":\"2022-03-01T00:00:00Z\"", ",\"adopted_by\":\"stkit\"",
                              ",\"author_date\":\"2022-03-10T23:00:00Z\"", ",\"days_from_first_model\":10", ",\"stkit\":2",
                              ",\"converter\":\"stkit\""})
        text = replaced(text, field, "");
    text = replaced(text, "\"by_converter\":false", "\"by_converter\":true");
    auto parsed = audit_json_parse(text);
    ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
    const audit_history& h = *parsed->repos[0].history;
    EXPECT_EQ(h.first_safetensors_commit->adopted_by, audit_adopter::converter_bot);
    EXPECT_FALSE(h.days_from_first_model.has_value());
    EXPECT_EQ(h.stkit_commits, 0u);
}

TEST(AuditJson, RefusesMalformedDocuments) {
    std::string good = document_text({sample_repo("a", true)}, true);
    expect_invalid(good.substr(0, good.size() / 2), "$");
    expect_invalid("[]", "$");
    expect_invalid(replaced(good, "\"stkit-audit\"", "\"other\""), "$.audit");
    expect_invalid(replaced(good, "\"version\":1", "\"version\":2"), "$.audit");
    expect_invalid(replaced(good, "\"shard\":null", "\"shard\":\"0/2\""), "$.audit.shard");
    expect_invalid(replaced(good, "\"bytes\":80", "\"bytes\":-80"), "$.repos[a].files[].bytes");
    expect_invalid(replaced(good, "\"format\":\"safetensors\"", "\"format\":\"bogus\""), "$.repos[a].files[].format");
    expect_invalid(replaced(good, "\"status\":\"mixed\"", "\"status\":\"safe\""), "$.repos[a].status");
    expect_invalid(replaced(good, "\"commits\":3", "\"commits\":\"3\""), "$.repos[a].history.commits");
    expect_invalid(replaced(good, "\"by_converter\":false", "\"by_converter\":1"), "first_safetensors_commit.by_converter");
    expect_invalid(replaced(good, "\"adopted_by\":\"stkit\"", "\"adopted_by\":\"robot\""), "first_safetensors_commit.adopted_by");
    // by_converter is kept for readers of the bot-only field; it must agree with adopted_by.
    expect_invalid(replaced(good, "\"by_converter\":false", "\"by_converter\":true"), "first_safetensors_commit.adopted_by");
    // converter names the tool of adopted_by (null for a developer); a document that disagrees is refused.
    expect_invalid(replaced(good, "\"converter\":\"stkit\"", "\"converter\":\"converter-bot\""),
                   "first_safetensors_commit.converter");
    expect_invalid(replaced(good, "\"converter\":\"stkit\"", "\"converter\":null"), "first_safetensors_commit.converter");
    expect_invalid(replaced(good, "\"days_from_first_model\":10", "\"days_from_first_model\":\"10\""), "days_from_first_model");
    expect_invalid(replaced(good, "\"repo\":\"a\"", "\"repository\":\"a\""), "$.repos.repo");
    expect_invalid(replaced(good, "\"lfs_pointer\":true", "\"lfs_pointer\":null"), "lfs_pointer");
    expect_invalid(std::string(100000, '[') + std::string(100000, ']'), "$");  // depth limit, no crash
}

TEST(AuditMerge, ChecksShardsAndRecombines) {
    // Put each repository in its shard of 2 and merge the two halves.
    std::vector<audit_repo> shard1, shard2;
    for (int i = 0; i < 20; ++i) {
        audit_repo repo = sample_repo("r" + std::to_string(i), true);
        (audit_shard_contains({1, 2}, repo.repo) ? shard1 : shard2).push_back(repo);
    }
    ASSERT_FALSE(shard1.empty());
    ASSERT_FALSE(shard2.empty());
    auto one = audit_json_parse(document_text(shard1, true, "\"1/2\""));
    auto two = audit_json_parse(document_text(shard2, true, "\"2/2\""));
    ASSERT_TRUE(one.ok() && two.ok());
    auto merged = audit_merge({*two, *one});
    ASSERT_TRUE(merged.ok()) << merged.error().to_string();
    EXPECT_TRUE(merged->missing_shards.empty());
    ASSERT_EQ(merged->merged.repos.size(), 20u);
    EXPECT_TRUE(std::is_sorted(merged->merged.repos.begin(), merged->merged.repos.end(),
                               [](const audit_repo& a, const audit_repo& b) { return a.repo < b.repo; }));
    EXPECT_FALSE(merged->merged.info.shard.has_value());

    auto partial = audit_merge({*one});
    ASSERT_TRUE(partial.ok());
    EXPECT_EQ(partial->missing_shards, std::vector<uint32_t>{2});

    auto refused = [](result<audit_merge_result> r, std::string_view why) {
        ASSERT_FALSE(r.ok()) << why;
        EXPECT_EQ(r.error().code, error_code::audit_merge_invalid);
        EXPECT_NE(r.error().detail.find(why), std::string::npos) << r.error().detail;
    };
    refused(audit_merge({*one, *one}), "given twice");
    refused(audit_merge({}), "nothing to merge");
    auto wrong_count = audit_json_parse(document_text(shard2, true, "\"2/3\""));
    ASSERT_TRUE(wrong_count.ok());
    refused(audit_merge({*one, *wrong_count}), "shard count differs");
    auto no_history = audit_json_parse(document_text(shard2, false, "\"2/2\""));
    ASSERT_TRUE(no_history.ok());
    refused(audit_merge({*one, *no_history}), "history setting differs");
    auto misplaced = audit_json_parse(document_text(shard1, true, "\"2/2\""));
    ASSERT_TRUE(misplaced.ok());
    refused(audit_merge({*misplaced}), "does not belong to its shard");
    auto unsharded = audit_json_parse(document_text({sample_repo("x", true)}, true));
    ASSERT_TRUE(unsharded.ok());
    refused(audit_merge({*unsharded, *unsharded}), "given twice");
}

}  // namespace
}  // namespace stkit
