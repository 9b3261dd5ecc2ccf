// Helpers for the containers tests: a scratch folder per test, fixtures written by Debian's python3
// (numpy, torch, zipfile, ...) at test time, and file bytes.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <unistd.h>
#include <vector>

namespace stkit::test {

namespace fs = std::filesystem;

inline std::vector<std::byte> read_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> bytes(chars.size());
    std::transform(chars.begin(), chars.end(), bytes.begin(), [](char c) { return std::byte(c); });
    return bytes;
}

inline void write_bytes(const fs::path& path, std::span<const std::byte> bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<std::byte> to_bytes(std::string_view text) {
    // Not memcpy: an empty view's data() may be null, which memcpy does not allow even for 0 bytes.
    std::vector<std::byte> bytes(text.size());
    std::transform(text.begin(), text.end(), bytes.begin(), [](char c) { return std::byte(c); });
    return bytes;
}

// The bytes of a string literal that holds NULs of its own, sized by the compiler (less the
// terminating NUL), so no hand-counted length can be wrong.
template <std::size_t N>
std::string literal(const char (&text)[N]) {
    return std::string(text, N - 1);
}

inline std::string to_text(std::span<const std::byte> bytes) {
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// A test fixture with a fresh folder, removed afterwards, and a way to run Python in it.
class scratch_test : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        directory_ = fs::temp_directory_path() / ("stkit_containers_" + std::to_string(::getpid()) +
                                                  "_" + info->test_suite_name() + "_" + info->name());
        fs::remove_all(directory_);
        fs::create_directories(directory_);
    }
    void TearDown() override { fs::remove_all(directory_); }

    // Runs `script` with Debian's python3 (torch, numpy) in the scratch folder; true on exit 0.
    [[nodiscard]] bool python(const std::string& script) const {
        fs::path file = directory_ / "fixture.py";
        std::ofstream(file) << script;
        std::string command = "cd '" + directory_.string() + "' && " STKIT_PYTHON " fixture.py";
        return std::system(command.c_str()) == 0;
    }
    [[nodiscard]] bool shell(const std::string& command) const {
        std::string line = "cd '" + directory_.string() + "' && " + command;
        return std::system(line.c_str()) == 0;
    }
    [[nodiscard]] std::vector<std::byte> bytes(const std::string& name) const {
        return read_bytes(directory_ / name);
    }

    fs::path directory_;
};

}  // namespace stkit::test
