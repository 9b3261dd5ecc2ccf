// archive_for_each against tars written by Python's tarfile (plain, gz, bz2, xz), a 7z written by
// p7zip's 7z command, and a lone gzip stream; limits set to 1.
#include "stkit/containers/archive.hpp"

#include <map>

#include "containers/fixtures.hpp"

namespace stkit {
namespace {

using test::to_text;

class archive_python : public test::scratch_test {
protected:
    void SetUp() override {
        scratch_test::SetUp();
        ASSERT_TRUE(python(R"(
import tarfile, gzip, os, io
os.makedirs('tree/sub', exist_ok=True)
open('tree/a.txt', 'w').write('alpha')
open('tree/sub/b.bin', 'wb').write(bytes(range(256)) * 300)
os.symlink('a.txt', 'tree/link')
for mode, name in (('w', 't.tar'), ('w:gz', 't.tar.gz'), ('w:bz2', 't.tar.bz2'), ('w:xz', 't.tar.xz')):
    with tarfile.open(name, mode) as t:
        t.add('tree')
open('lone.gz', 'wb').write(gzip.compress(b'\x80\x02}q\x00.'))
)"));
        ASSERT_TRUE(shell("7z a -bd -bso0 -bsp0 t.7z tree >/dev/null"));
    }

    // Every regular member's bytes by name, or the error.
    result<std::map<std::string, std::string>> walk(const std::string& file,
                                                     const archive_limits& limits = {}) {
        auto data = bytes(file);
        std::map<std::string, std::string> members;
        auto status = archive_for_each(data, limits, [&](const archive_entry_info& info,
                                                         std::span<const std::byte> content) {
            EXPECT_TRUE(info.regular);
            EXPECT_EQ(info.size, content.size());
            members[info.name] = to_text(content);
            return true;
        });
        if (!status.ok()) return std::move(status).error();
        return members;
    }
};

TEST_F(archive_python, tar_in_every_compression_and_7z) {
    std::string b;
    for (int i = 0; i < 300; ++i)
        for (int c = 0; c < 256; ++c) b += static_cast<char>(c);
    for (const char* file : {"t.tar", "t.tar.gz", "t.tar.bz2", "t.tar.xz", "t.7z"}) {
        SCOPED_TRACE(file);
        auto members = walk(file);
        ASSERT_TRUE(members.ok()) << members.error().to_string();
        // Folders and the symbolic link are not visited.
        ASSERT_EQ(members->size(), 2u);
        EXPECT_EQ(members->at("tree/a.txt"), "alpha");
        EXPECT_EQ(members->at("tree/sub/b.bin"), b);
    }
}

TEST_F(archive_python, lone_gzip_stream_is_one_unnamed_member) {
    auto members = walk("lone.gz");
    ASSERT_TRUE(members.ok()) << members.error().to_string();
    ASSERT_EQ(members->size(), 1u);
    EXPECT_EQ(members->begin()->first, "");
    EXPECT_EQ(members->begin()->second, std::string("\x80\x02}q\x00.", 6));
}

TEST_F(archive_python, visit_can_stop_early) {
    auto data = bytes("t.tar");
    int visits = 0;
    auto status = archive_for_each(data, {}, [&](const archive_entry_info&, std::span<const std::byte>) {
        ++visits;
        return false;
    });
    EXPECT_TRUE(status.ok());
    EXPECT_EQ(visits, 1);
}

TEST_F(archive_python, limits_of_one) {
    archive_limits members;
    members.max_members = 1;
    EXPECT_EQ(walk("t.tar.gz", members).error().code, error_code::zip_member_limit);
    archive_limits member_bytes;
    member_bytes.max_member_bytes = 1;
    auto one = walk("t.7z", member_bytes);
    ASSERT_FALSE(one.ok());
    EXPECT_EQ(one.error().code, error_code::decompressed_limit);
    EXPECT_FALSE(one.error().name.empty());
    archive_limits total;
    total.max_total_bytes = 1;
    EXPECT_EQ(walk("t.tar", total).error().code, error_code::decompressed_limit);
    EXPECT_EQ(walk("lone.gz", member_bytes).error().code, error_code::decompressed_limit);
}

TEST_F(archive_python, every_entry_shows_links_folders_and_encryption) {
    ASSERT_TRUE(shell("7z a -bd -bso0 -bsp0 -psecret data_encrypted.7z tree >/dev/null && "
                      "7z a -bd -bso0 -bsp0 -psecret -mhe=on headers_encrypted.7z tree >/dev/null"));
    archive_limits all;
    all.every_entry = true;
    std::map<std::string, archive_entry_info> seen;
    auto status = archive_for_each(bytes("t.tar"), all, [&](const archive_entry_info& info, std::span<const std::byte>) {
        seen[info.name] = info;
        return true;
    });
    ASSERT_TRUE(status.ok()) << status.error().to_string();
    ASSERT_TRUE(seen.count("tree/link"));
    EXPECT_EQ(seen["tree/link"].kind, archive_entry_kind::symlink);
    EXPECT_EQ(seen["tree/link"].link, "a.txt");
    bool folder = false;
    for (const auto& [name, info] : seen) folder = folder || (name.starts_with("tree/sub") && info.kind == archive_entry_kind::directory);
    EXPECT_TRUE(folder);
    EXPECT_EQ(seen["tree/a.txt"].kind, archive_entry_kind::regular);
    // Encrypted data: members are visited, marked, and given no bytes; libarchive cannot step over
    // encrypted data in a solid 7z block, so the walk may end there, as encrypted.
    std::size_t encrypted = 0;
    status = archive_for_each(bytes("data_encrypted.7z"), all, [&](const archive_entry_info& info,
                                                                   std::span<const std::byte> content) {
        if (info.regular) {
            EXPECT_TRUE(info.encrypted) << info.name;
            EXPECT_TRUE(content.empty());
            ++encrypted;
        }
        return true;
    });
    EXPECT_TRUE(status.ok() || status.error().code == error_code::archive_encrypted) << status.error().to_string();
    EXPECT_GE(encrypted, 1u);
    // Encrypted headers: not even the names can be read.
    EXPECT_EQ(walk("headers_encrypted.7z").error().code, error_code::archive_encrypted);
    // Only the layout, no member bytes.
    archive_limits layout;
    layout.headers_only = true;
    status = archive_for_each(bytes("t.tar.gz"), layout, [&](const archive_entry_info&, std::span<const std::byte> content) {
        EXPECT_TRUE(content.empty());
        return true;
    });
    EXPECT_TRUE(status.ok());
}

TEST_F(archive_python, not_an_archive_and_truncated) {
    std::ofstream(directory_ / "plain.bin") << "just some bytes that are no archive";
    EXPECT_EQ(walk("plain.bin").error().code, error_code::tar_invalid);
    auto data = bytes("t.tar.xz");
    data.resize(data.size() / 2);
    test::write_bytes(directory_ / "half.tar.xz", data);
    EXPECT_EQ(walk("half.tar.xz").error().code, error_code::tar_invalid);
    auto seven = bytes("t.7z");
    seven.resize(seven.size() - 20);
    test::write_bytes(directory_ / "half.7z", seven);
    EXPECT_EQ(walk("half.7z").error().code, error_code::tar_invalid);
}

}  // namespace
}  // namespace stkit
