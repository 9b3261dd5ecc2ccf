// Helpers for the format tests: hand-made safetensors bytes and scratch folders.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include "stkit/format/safetensors.hpp"

namespace stkit::test {

// u64 LE length + header + data; `declared` overrides the length field.
inline std::vector<std::byte> make_file(std::string_view header, std::string_view data = {},
                                        uint64_t declared = UINT64_MAX) {
    uint64_t length = declared == UINT64_MAX ? header.size() : declared;
    std::vector<std::byte> bytes;
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<std::byte>(length >> (8 * i)));
    for (char c : header) bytes.push_back(static_cast<std::byte>(c));
    for (char c : data) bytes.push_back(static_cast<std::byte>(c));
    return bytes;
}

inline std::string bytes_to_string(std::span<const std::byte> bytes) {
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

inline std::vector<std::byte> to_bytes(std::string_view text) {
    auto begin = reinterpret_cast<const std::byte*>(text.data());
    return std::vector<std::byte>(begin, begin + text.size());
}

inline std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void write_file(const std::filesystem::path& path, std::string_view text) {
    std::ofstream(path, std::ios::binary).write(text.data(), static_cast<std::streamsize>(text.size()));
}

// A fresh folder per test, removed afterwards.
class scratch_test : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        directory_ = std::filesystem::temp_directory_path() /
                     ("stkit_format_" + std::to_string(::getpid()) + "_" + info->test_suite_name() + "_" + info->name());
        std::filesystem::remove_all(directory_);
        std::filesystem::create_directories(directory_);
    }
    void TearDown() override { std::filesystem::remove_all(directory_); }
    std::filesystem::path directory_;
};

}  // namespace stkit::test
