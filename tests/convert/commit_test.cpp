// The conversion commit's texts from hand-made facts: the cases the script test's real checkpoints
// do not reach (one tensor, an unwrapped Lightning checkpoint, values that are not tensors, a
// safetensors file larger than its pickle, byte counts in the millions).
#include "stkit/convert/commit.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

namespace stkit::convert {
namespace {

convert_report lightning_report() {
    convert_report report;
    report.source_format = "torch zip";
    report.unwrapped = "state_dict";
    report.non_tensors = {{"epoch", "int", "3"}};
    report.verified = true;
    return report;
}

std::vector<committed_file> one_file(uint64_t source_bytes, uint64_t file_bytes) {
    committed_file file;
    file.path = "model.safetensors";
    file.source = "model.ckpt";
    file.tensors = 1;
    file.tensor_bytes = 1234567;
    file.file_bytes = file_bytes;
    file.source_bytes = source_bytes;
    file.sha256 = std::string(64, 'a');
    file.tensor_digests = {{"w", std::string(64, 'b')}};
    return {file};
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

TEST(commit_message, subject_body_and_trailer) {
    commit_options options;
    options.tool_version = "9.8.7";
    std::string message = commit_message(lightning_report(), one_file(2000000, 1234700), options);
    auto lines = lines_of(message);
    ASSERT_GE(lines.size(), 4u);
    EXPECT_EQ(lines[0], "Adding `safetensors` variant of this model");
    EXPECT_EQ(lines[1], "");
    EXPECT_EQ(lines.back(), "Converted-by: stkit 9.8.7");
    EXPECT_EQ(lines[lines.size() - 2], "");
    EXPECT_NE(message.find("- model.ckpt → model.safetensors: 1 tensor, 1,234,567 bytes\n"), std::string::npos);
    EXPECT_NE(message.find("Source: torch zip, its `state_dict` entry."), std::string::npos);
    EXPECT_NE(message.find("Not tensors, not converted:\n- epoch (int): 3\n"), std::string::npos);
    EXPECT_NE(message.find("Aliases: none"), std::string::npos);
    EXPECT_NE(message.find("  - w: " + std::string(64, 'b') + "\n"), std::string::npos);
    std::string flat = message;  // the prose is wrapped
    std::replace(flat.begin(), flat.end(), '\n', ' ');
    EXPECT_NE(flat.find("both sides): 1 of 1 tensor identical."), std::string::npos) << message;
    for (const std::string& line : lines) {
        // Prose is wrapped for `git log`; list items (paths, digests) are left whole.
        std::size_t columns = 0;
        for (char c : line) columns += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
        if (line.find("- ") != 0 && line.find("  - ") != 0) {
            EXPECT_LE(columns, 72u) << line;
        }
    }
}

TEST(commit_pull_request_body, size_comparison_both_ways) {
    commit_options options;
    std::string smaller = commit_pull_request_body(lightning_report(), one_file(2000000, 1234700), options);
    EXPECT_NE(smaller.find("| PyTorch pickle (1 file) | 2,000,000 |\n| safetensors (1 file) | 1,234,700 |\n"
                           "| Difference | -765,300 bytes (-38.3 %) |\n"),
              std::string::npos)
        << smaller;
    std::string larger = commit_pull_request_body(lightning_report(), one_file(1000, 1500), options);
    EXPECT_NE(larger.find("| Difference | +500 bytes (+50.0 %) |\n"), std::string::npos) << larger;
    // The digest snippet reads the entry that was converted.
    EXPECT_NE(smaller.find("weights_only=True)[\"state_dict\"]\n"), std::string::npos) << smaller;
    EXPECT_NE(smaller.find("for path in [\"model.ckpt\"]:"), std::string::npos) << smaller;
    EXPECT_NE(smaller.find("Converted-by: stkit unknown\n"), std::string::npos);
}

}  // namespace
}  // namespace stkit::convert
