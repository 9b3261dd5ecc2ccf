// The audit's rules: LFS pointers, shards, repository status, safetensors counterparts, the
// converter bot's fingerprints, CSV quoting.
#include <gtest/gtest.h>

#include <set>

#include "audit/internal.hpp"
#include "stkit/audit/report.hpp"

namespace stkit {
namespace {

const std::string oid(64, 'a');

TEST(AuditLfs, ParsesThePointerOfTheSpec) {
    auto p = parse_lfs_pointer("version https://git-lfs.github.com/spec/v1\noid sha256:" + oid + "\nsize 12345\n");
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->oid_sha256, oid);
    EXPECT_EQ(p->size, 12345u);
    // Extra keys are allowed when sorted.
    EXPECT_TRUE(parse_lfs_pointer("version https://git-lfs.github.com/spec/v1\next-0-foo sha256:x\noid sha256:" +
                                  oid + "\nsize 1\n"));
}

TEST(AuditLfs, RejectsAnythingElse) {
    const std::string head = "version https://git-lfs.github.com/spec/v1\n";
    EXPECT_FALSE(parse_lfs_pointer(head + "oid sha256:" + oid + "\nsize 12"));        // no final LF
    EXPECT_FALSE(parse_lfs_pointer(head + "size 12\noid sha256:" + oid + "\n"));      // unsorted
    EXPECT_FALSE(parse_lfs_pointer(head + "oid sha256:" + oid + "\n"));               // no size
    EXPECT_FALSE(parse_lfs_pointer(head + "oid sha256:" + oid.substr(1) + "\nsize 1\n"));  // short oid
    EXPECT_FALSE(parse_lfs_pointer(head + "oid sha256:" + std::string(64, 'A') + "\nsize 1\n"));  // upper case
    EXPECT_FALSE(parse_lfs_pointer(head + "oid md5:" + oid + "\nsize 1\n"));
    EXPECT_FALSE(parse_lfs_pointer(head + "oid sha256:" + oid + "\nsize -1\n"));
    EXPECT_FALSE(parse_lfs_pointer(head + "oid sha256:" + oid + "\nsize 012\n"));
    EXPECT_FALSE(parse_lfs_pointer(head + "oid sha256:" + oid + "\nsize 99999999999999999999999\n"));
    EXPECT_FALSE(parse_lfs_pointer("version 1\noid sha256:" + oid + "\nsize 1\n"));
    EXPECT_FALSE(parse_lfs_pointer(head + "oid sha256:" + oid + "\nsize 1\n" + std::string(1024, 'x') + " y\n"));
}

TEST(AuditShard, ParsesKOfN) {
    auto s = parse_audit_shard("2/5");
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->index, 2u);
    EXPECT_EQ(s->count, 5u);
    for (const char* bad : {"0/3", "4/3", "1/0", "a/b", "3", "1/3/", "-1/3", "", "1/2000000", " 1/3"}) {
        auto r = parse_audit_shard(bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_EQ(r.error().code, error_code::audit_invalid_shard) << bad;
    }
}

TEST(AuditShard, EveryRepositoryFallsInExactlyOneShard) {
    std::set<uint32_t> used;
    for (int i = 0; i < 200; ++i) {
        std::string repo = "org/model-" + std::to_string(i);
        int owners = 0;
        for (uint32_t k = 1; k <= 4; ++k)
            if (audit_shard_contains({k, 4}, repo)) {
                ++owners;
                used.insert(k);
            }
        EXPECT_EQ(owners, 1) << repo;
        EXPECT_TRUE(audit_shard_contains({1, 1}, repo));
    }
    EXPECT_EQ(used.size(), 4u);  // the hash spreads 200 names over all shards
}

audit_file file(std::string path, file_format format) {
    audit_file f;
    f.path = std::move(path);
    detail::audit_set_format(f, format);
    return f;
}

TEST(AuditStatus, FollowsTheFormats) {
    EXPECT_EQ(audit_status({}), repo_status::no_model);
    EXPECT_EQ(audit_status({file("a.safetensors", file_format::safetensors), file("b.gguf", file_format::gguf)}),
              repo_status::safe);
    EXPECT_EQ(audit_status({file("a.safetensors", file_format::safetensors), file("b.bin", file_format::torch_zip)}),
              repo_status::mixed);
    EXPECT_EQ(audit_status({file("a.pkl", file_format::pickle), file("b.bin", file_format::torch_legacy)}),
              repo_status::unsafe);
}

TEST(AuditStatus, ConditionalFormatsFollowTheVerdict) {
    auto with = [](file_format format, std::string verdict) {
        audit_file f = file("x", format);
        detail::audit_set_verdict(f, format, std::move(verdict));
        return f.unsafe;
    };
    EXPECT_TRUE(with(file_format::pickle, "safe"));        // pickle runs code by design
    EXPECT_TRUE(with(file_format::torch_zip, "unknown"));
    EXPECT_FALSE(with(file_format::numpy_npy, "safe"));
    EXPECT_TRUE(with(file_format::numpy_npy, "dangerous"));  // object array
    EXPECT_TRUE(with(file_format::hdf5, "error"));           // fail closed
    EXPECT_FALSE(with(file_format::hdf5, "unknown"));        // LFS pointer: content not seen
    EXPECT_FALSE(with(file_format::safetensors, "error"));   // its loader cannot act on a broken file
    EXPECT_TRUE(with(file_format::safetensors, "dangerous"));  // but a safetensors file that is also a pickle
    EXPECT_TRUE(with(file_format::unknown, "suspicious"));
}

TEST(AuditCovered, TransformersShardsDiffusersAndPlainNames) {
    auto st = [](std::string p) { return file(std::move(p), file_format::safetensors); };
    auto pt = [](std::string p) { return file(std::move(p), file_format::torch_zip); };
    EXPECT_TRUE(audit_unsafe_covered({pt("pytorch_model.bin"), st("model.safetensors")}));
    EXPECT_FALSE(audit_unsafe_covered({pt("pytorch_model.bin"), st("pytorch_model.safetensors")}));
    EXPECT_TRUE(audit_unsafe_covered({pt("pytorch_model-00001-of-00002.bin"), pt("pytorch_model-00002-of-00002.bin"),
                                      st("model-00001-of-00002.safetensors"), st("model-00002-of-00002.safetensors")}));
    EXPECT_FALSE(audit_unsafe_covered({pt("pytorch_model-00001-of-00002.bin"), pt("pytorch_model-00002-of-00002.bin"),
                                       st("model-00001-of-00002.safetensors")}));
    EXPECT_TRUE(audit_unsafe_covered({pt("unet/diffusion_pytorch_model.bin"), st("unet/diffusion_pytorch_model.safetensors")}));
    EXPECT_FALSE(audit_unsafe_covered({pt("unet/diffusion_pytorch_model.bin"), st("diffusion_pytorch_model.safetensors")}));
    EXPECT_TRUE(audit_unsafe_covered({pt("sd.ckpt"), st("sd.safetensors"), pt("lora.pt"), st("lora.safetensors")}));
    EXPECT_TRUE(audit_unsafe_covered({pt("training_args.bin"), pt("optimizer.pt"), pt("rng_state_0.pth")}));
    EXPECT_FALSE(audit_unsafe_covered({file("model.pkl", file_format::pickle)}));
    EXPECT_TRUE(audit_unsafe_covered({}));
}

TEST(AuditConverter, TitleTrailerOrExactAccount) {
    auto by = [](std::string_view message, std::string_view name, std::string_view email) {
        return detail::audit_commit_adopter(message, name, email);
    };
    constexpr auto bot = audit_adopter::converter_bot, dev = audit_adopter::developer, tool = audit_adopter::stkit;
    // The pull-request title anywhere in the message (a merge commit quoting it counts too).
    EXPECT_EQ(by("Adding `safetensors` variant of this model (#3)", "Jo", "jo@x"), bot);
    EXPECT_EQ(by("Merge pull request #2\n\nAdding `safetensors` variant of this model", "Jo", "jo@x"), bot);
    EXPECT_EQ(by("Adding safetensors variant of this model", "Jo", "jo@x"), dev);  // no backquotes
    // Co-authored-by: the bot's exact name or e-mail (the e-mail in any case), nothing looser.
    EXPECT_EQ(by("Upload\n\nCo-authored-by: Safetensors convertbot <SFconvertbot@users.noreply.huggingface.co>\n",
                 "Jo", "jo@x"), bot);
    EXPECT_EQ(by("Upload\n\nco-authored-by: SFconvertbot <other@x>", "Jo", "jo@x"), bot);
    EXPECT_EQ(by("Upload\n\nco-authored-by: SF <sfconvertbot@users.noreply.huggingface.co>", "Jo", "jo@x"), bot);
    EXPECT_EQ(by("Upload\n\nco-authored-by: SF <sfconvertbot@hf.co>", "Jo", "jo@x"), dev);
    EXPECT_EQ(by("Upload\n\nCo-authored-by: SFconvertbot2 <x@y>", "Jo", "jo@x"), dev);
    EXPECT_EQ(by("Upload\n\nCo-authored-by: Ann <ann@x>", "Jo", "jo@x"), dev);
    // The author: exact name or e-mail.
    EXPECT_EQ(by("Upload", "SFconvertbot", "bot@x"), bot);
    EXPECT_EQ(by("Upload", "Someone", "SFconvertbot@users.noreply.huggingface.co"), bot);
    EXPECT_EQ(by("Upload", "sfconvertbot-fan", "fan@x"), dev);
    EXPECT_EQ(by("Upload safetensors", "Jo", "jo@x"), dev);
    // stkit convert --commit: the bot's title and the trailer; the trailer wins, even over the bot's account.
    EXPECT_EQ(by("Adding `safetensors` variant of this model\n\nConverted-by: stkit 0.4.0\n", "Jo", "jo@x"), tool);
    EXPECT_EQ(by("Convert\n\nconverted-by: stkit\n", "SFconvertbot", "x@y"), tool);
    EXPECT_EQ(by("Adding `safetensors` variant of this model\n\nConverted-by: other-tool 1.0\n", "Jo", "jo@x"), bot);
    EXPECT_EQ(by("Convert\n\nConverted-by: stkitten 1.0\n", "Jo", "jo@x"), dev);
    EXPECT_EQ(audit_adopter_name(tool), "stkit");
    EXPECT_EQ(audit_adopter_name(bot), "converter-bot");
}

TEST(AuditClassify, LfsPointersByNameOnly) {
    std::string text = "version https://git-lfs.github.com/spec/v1\noid sha256:" + oid + "\nsize 7\n";
    std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(text.data()), text.size());
    auto f = detail::audit_classify(bytes, "dir/pytorch_model.bin");
    ASSERT_TRUE(f.has_value());
    EXPECT_TRUE(f->lfs_pointer);
    EXPECT_EQ(f->verdict, "unknown");
    EXPECT_EQ(f->sha256, oid);
    EXPECT_EQ(f->bytes, 7u);
    EXPECT_EQ(f->family, format_family::torch_save);
    EXPECT_TRUE(f->unsafe);
    EXPECT_FALSE(detail::audit_classify(bytes, "tokenizer.json").has_value());
}

TEST(AuditCsv, QuotesOnlyWhenNeeded) {
    EXPECT_EQ(csv_field("plain"), "plain");
    EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
    EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
    EXPECT_EQ(csv_field(""), "");
}

TEST(AuditTime, IsoUtc) {
    EXPECT_EQ(detail::audit_iso_time(0), "1970-01-01T00:00:00Z");
    EXPECT_EQ(detail::audit_iso_time(1626307200), "2021-07-15T00:00:00Z");
    EXPECT_EQ(detail::audit_iso_day(1626307199), "2021-07-14");
}

}  // namespace
}  // namespace stkit
