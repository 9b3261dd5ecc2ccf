#include "stkit/file.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace stkit {
namespace {

namespace fs = std::filesystem;

class file_test : public ::testing::Test {
protected:
    void SetUp() override {
        directory_ = fs::temp_directory_path() /
                     ("stkit_file_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(directory_);
        fs::create_directories(directory_);
    }
    void TearDown() override { fs::remove_all(directory_); }
    std::size_t entries() const {
        return static_cast<std::size_t>(std::distance(fs::directory_iterator(directory_), fs::directory_iterator()));
    }
    fs::path directory_;
};

TEST_F(file_test, maps_files_and_empty_files) {
    std::ofstream(directory_ / "a.bin", std::ios::binary) << "hello";
    std::ofstream(directory_ / "empty.bin", std::ios::binary);
    auto mapped = mapped_file::open(directory_ / "a.bin");
    ASSERT_TRUE(mapped.ok()) << mapped.error().to_string();
    ASSERT_EQ(mapped->size(), 5u);
    EXPECT_EQ(static_cast<char>(mapped->bytes()[4]), 'o');
    auto empty = mapped_file::open(directory_ / "empty.bin");
    ASSERT_TRUE(empty.ok());
    EXPECT_TRUE(empty->bytes().empty());
    auto missing = mapped_file::open(directory_ / "missing.bin");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, error_code::io_open_failed);
    EXPECT_NE(missing.error().file.find("missing.bin"), std::string::npos);
    auto folder = mapped_file::open(directory_);
    EXPECT_EQ(folder.error().code, error_code::io_open_failed);
}

TEST_F(file_test, output_appears_only_on_commit) {
    fs::path destination = directory_ / "out.bin";
    {
        auto out = output_file::create(destination, false);
        ASSERT_TRUE(out.ok());
        ASSERT_TRUE(out->write("partial").ok());
        EXPECT_FALSE(fs::exists(destination));
    }  // destroyed without commit
    EXPECT_FALSE(fs::exists(destination));
    EXPECT_EQ(entries(), 0u) << "temporary file left behind";

    auto out = output_file::create(destination, false);
    ASSERT_TRUE(out.ok());
    std::string big(3 << 20, 'z');  // larger than the buffer
    ASSERT_TRUE(out->write("head").ok());
    ASSERT_TRUE(out->write(big).ok());
    ASSERT_TRUE(out->finish().ok());
    EXPECT_EQ(fs::file_size(out->temp_path()), big.size() + 4);
    ASSERT_TRUE(out->commit().ok());
    EXPECT_EQ(fs::file_size(destination), big.size() + 4);
    EXPECT_EQ(entries(), 1u);
}

TEST_F(file_test, never_overwrites_without_permission) {
    fs::path destination = directory_ / "keep.bin";
    std::ofstream(destination) << "original";
    auto refused = output_file::create(destination, false);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, error_code::output_exists);

    // A file that appears while we write is not replaced either.
    fs::path racing = directory_ / "race.bin";
    auto out = output_file::create(racing, false);
    ASSERT_TRUE(out.ok());
    ASSERT_TRUE(out->write("new").ok());
    std::ofstream(racing) << "someone else";
    auto committed = out->commit();
    ASSERT_FALSE(committed.ok());
    EXPECT_EQ(committed.error().code, error_code::output_exists);
    EXPECT_EQ(*read_small_file(racing), "someone else");

    auto forced = output_file::create(destination, true);
    ASSERT_TRUE(forced.ok());
    ASSERT_TRUE(forced->write("replaced").ok());
    ASSERT_TRUE(forced->commit().ok());
    EXPECT_EQ(*read_small_file(destination), "replaced");
}

TEST_F(file_test, a_killed_writer_leaves_no_file_behind) {
    fs::path destination = directory_ / "killed.bin";
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        auto out = output_file::create(destination, false);
        if (!out.ok()) ::_exit(3);
        std::string chunk(1 << 20, 'k');
        for (int i = 0; i < 8; ++i)
            if (!out->write(chunk).ok()) ::_exit(4);
        if (!out->finish().ok()) ::_exit(5);
        char signal_byte = 1;
        if (::write(ready[1], &signal_byte, 1) != 1) ::_exit(6);
        ::pause();  // killed here, after the data is on disk but before commit
        ::_exit(0);
    }
    ::close(ready[1]);
    char got = 0;
    ASSERT_EQ(::read(ready[0], &got, 1), 1);
    ::close(ready[0]);
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_FALSE(fs::exists(destination));
    // O_TMPFILE leaves nothing at all; a named fallback would leave only a hidden temporary.
    for (const auto& entry : fs::directory_iterator(directory_))
        EXPECT_EQ(entry.path().filename().string().rfind(".killed.bin.stkit-tmp-", 0), 0u)
            << entry.path();
}

TEST_F(file_test, read_small_file_respects_its_limit) {
    std::ofstream(directory_ / "f.txt") << "0123456789";
    EXPECT_EQ(*read_small_file(directory_ / "f.txt"), "0123456789");
    auto limited = read_small_file(directory_ / "f.txt", 9);
    ASSERT_FALSE(limited.ok());
    EXPECT_EQ(limited.error().code, error_code::allocation_limit);
}

TEST_F(file_test, copy_on_write_pages_are_writable_and_private) {
    std::ofstream(directory_ / "a.bin", std::ios::binary) << "hello";
    auto read_only = mapped_file::open(directory_ / "a.bin");
    ASSERT_TRUE(read_only.ok());
    EXPECT_EQ(read_only->mode(), map_mode::read_only);
    EXPECT_TRUE(read_only->writable_bytes().empty());
    auto cow = mapped_file::open(directory_ / "a.bin", map_mode::copy_on_write);
    ASSERT_TRUE(cow.ok()) << cow.error().to_string();
    mapped_file moved = std::move(*cow);
    ASSERT_EQ(moved.writable_bytes().size(), 5u);
    moved.writable_bytes()[0] = std::byte{'J'};
    EXPECT_EQ(static_cast<char>(moved.bytes()[0]), 'J');
    // Neither the file nor another mapping of it sees the write.
    EXPECT_EQ(static_cast<char>(read_only->bytes()[0]), 'h');
    std::ifstream in(directory_ / "a.bin", std::ios::binary);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "hello");
}

}  // namespace
}  // namespace stkit
