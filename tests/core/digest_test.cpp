#include "stkit/digest.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace stkit {
namespace {

std::span<const std::byte> bytes_of(std::string_view text) {
    return std::as_bytes(std::span<const char>(text.data(), text.size()));
}

TEST(sha256, matches_known_vectors) {
    EXPECT_EQ(to_hex(*sha256_of({})),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(to_hex(*sha256_of(bytes_of("abc"))),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(sha256, incremental_equals_one_shot_and_file) {
    std::string text(3'000'000, 'q');
    sha256 hasher;
    hasher.update(bytes_of(std::string_view(text).substr(0, 1000)));
    hasher.update(bytes_of(std::string_view(text).substr(1000)));
    auto incremental = hasher.finish();
    auto path = std::filesystem::temp_directory_path() / "stkit_digest_test.bin";
    std::ofstream(path, std::ios::binary) << text;
    auto from_file = sha256_of_file(path);
    std::filesystem::remove(path);
    ASSERT_TRUE(from_file.ok());
    EXPECT_EQ(*incremental, *sha256_of(bytes_of(text)));
    EXPECT_EQ(*from_file, *incremental);
    EXPECT_EQ(sha256_of_file("/nonexistent/stkit").error().code, error_code::io_open_failed);
}

}  // namespace
}  // namespace stkit
