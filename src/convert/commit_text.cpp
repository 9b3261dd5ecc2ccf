// The conversion commit's message and its pull request body (Markdown): the same facts twice, so a
// maintainer reads in the PR what `git show` says. See stkit/convert/commit.hpp.
#include <fmt/format.h>

#include <filesystem>
#include <string>
#include <vector>

#include "stkit/convert/commit.hpp"

namespace stkit::convert {
namespace {

// 1234567 → "1,234,567": byte counts a reviewer compares by eye.
std::string grouped(uint64_t value) {
    std::string digits = std::to_string(value);
    for (std::size_t at = digits.size(); at > 3; at -= 3) digits.insert(at - 3, ",");
    return digits;
}

std::string plural(uint64_t count, std::string_view one, std::string_view many) {
    return grouped(count) + " " + std::string(count == 1 ? one : many);
}

// Greedy word wrap at 72 columns (git's convention for message bodies), counting UTF-8 code
// points; a word longer than a line stays whole.
std::string wrapped(std::string_view paragraph) {
    constexpr std::size_t width = 72;
    std::string out;
    std::size_t column = 0;
    auto columns = [](std::string_view word) {
        std::size_t n = 0;
        for (char c : word) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
        return n;
    };
    while (!paragraph.empty()) {
        std::size_t end = paragraph.find(' ');
        std::string_view word = paragraph.substr(0, end);
        paragraph = end == std::string_view::npos ? std::string_view() : paragraph.substr(end + 1);
        if (word.empty()) continue;
        std::size_t length = columns(word);
        if (column > 0 && column + 1 + length > width) {
            out += '\n';
            column = 0;
        } else if (column > 0) {
            out += ' ';
            ++column;
        }
        out += word;
        column += length;
    }
    return out + "\n";
}

std::string file_name(const std::string& path) { return std::filesystem::path(path).filename().string(); }

// What both texts say, worked out once.
struct summary {
    std::vector<const committed_file*> weights;  // safetensors files, in order
    const committed_file* index = nullptr;        // model.safetensors.index.json, when sharded
    uint64_t tensors = 0;
    uint64_t pickle_bytes = 0;
    uint64_t safetensors_bytes = 0;
    std::string origin;  // "transformers folder (torch zip), its `state_dict` entry"
    std::string trailer;
};

summary summarize(const convert_report& report, const std::vector<committed_file>& files,
                  const commit_options& options) {
    summary s;
    for (const committed_file& file : files) {
        if (file.tensors == 0 && file.path.ends_with(".index.json")) {
            s.index = &file;
            continue;
        }
        s.weights.push_back(&file);
        s.tensors += file.tensors;
        s.pickle_bytes += file.source_bytes;
        s.safetensors_bytes += file.file_bytes;
    }
    s.origin = report.source_format;
    if (!report.unwrapped.empty()) s.origin += ", its `" + report.unwrapped + "` entry";
    s.trailer = std::string(commit_trailer_key) + ": stkit " + options.tool_version;
    return s;
}

std::string verification_sentence(const summary& s) {
    return fmt::format(
        "Verified: each file was read back after writing, and every tensor's dtype, shape and bytes "
        "were compared with the source, re-read independently (an XXH3-128 digest of each tensor on "
        "both sides): {} of {} identical.",
        grouped(s.tensors), plural(s.tensors, "tensor", "tensors"));
}

std::string size_change(const summary& s) {
    if (s.pickle_bytes == 0) return "n/a";
    double change = (static_cast<double>(s.safetensors_bytes) - static_cast<double>(s.pickle_bytes)) * 100.0 /
                    static_cast<double>(s.pickle_bytes);
    bool smaller = s.safetensors_bytes < s.pickle_bytes;
    uint64_t difference = smaller ? s.pickle_bytes - s.safetensors_bytes : s.safetensors_bytes - s.pickle_bytes;
    return fmt::format("{}{} bytes ({:+.1f} %)", smaller ? "-" : "+", grouped(difference), change);
}

// Every tensor's SHA-256, folded away, with the torch snippet that recomputes them from the pickle
// (a dropped alias prints the digest of the tensor it shares its data with).
std::string tensor_digest_details(const convert_report& report, const summary& s) {
    std::string text = fmt::format("\n<details><summary>SHA-256 of each tensor's bytes ({})</summary>\n\n"
                                   "| Tensor | File | SHA-256 |\n|---|---|---|\n",
                                   plural(s.tensors, "tensor", "tensors"));
    std::string sources;
    for (const committed_file* file : s.weights) {
        for (const tensor_digest& tensor : file->tensor_digests)
            text += fmt::format("| `{}` | `{}` | `{}` |\n", tensor.name, file_name(file->path), tensor.sha256);
        sources += (sources.empty() ? "\"" : ", \"") + file_name(file->source) + "\"";
    }
    std::string entry = report.unwrapped.empty() ? "" : "[\"" + report.unwrapped + "\"]";
    text += fmt::format(
        "\nTo recompute them from the original checkpoint:\n\n```python\nimport hashlib\n\nimport torch\n\n"
        "for path in [{}]:\n    state_dict = torch.load(path, map_location=\"cpu\", weights_only=True){}\n"
        "    for name, tensor in sorted(state_dict.items()):\n"
        "        data = tensor.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()\n"
        "        print(name, hashlib.sha256(data).hexdigest())\n```\n\n</details>\n",
        sources, entry);
    return text;
}

}  // namespace

std::string commit_message(const convert_report& report, const std::vector<committed_file>& files,
                           const commit_options& options) {
    summary s = summarize(report, files, options);
    std::string text = std::string(commit_subject) + "\n\n";
    text += wrapped("Converted by stkit without running the checkpoint's pickle: a restricted reader rebuilt "
                    "the tensors, and nothing was imported or called. The original files are kept. Source: " +
                    s.origin + ".");
    text += "\nConverted:\n";
    for (const committed_file* file : s.weights)
        text += fmt::format("- {} → {}: {}, {} bytes\n", file->source, file->path,
                            plural(file->tensors, "tensor", "tensors"), grouped(file->tensor_bytes));
    if (s.index)
        text += fmt::format("- {} → {}: the weight map, naming the new files\n", s.index->source, s.index->path);
    if (report.aliases.empty()) {
        text += "\nAliases: none (no two tensors share their data).\n";
    } else {
        text += "\n" + wrapped(fmt::format("Aliases: {} stored once, each recorded in the file's metadata as "
                                          "\"alias\": \"kept\":",
                                          plural(report.aliases.size(), "tied tensor", "tied tensors")));
        for (const alias_entry& alias : report.aliases)
            text += fmt::format("- {} → same data as {}\n", alias.alias, alias.kept);
    }
    if (!report.non_tensors.empty()) {
        text += "\nNot tensors, not converted:\n";
        for (const non_tensor_entry& entry : report.non_tensors)
            text += fmt::format("- {} ({}): {}\n", entry.name, entry.kind, entry.value);
    }
    text += "\n" + wrapped(verification_sentence(s)) +
            "SHA-256 of each file (its Git LFS object id) and of each tensor's bytes:\n";
    for (const committed_file& file : files) {
        text += fmt::format("- {}: {}\n", file.path, file.sha256);
        for (const tensor_digest& tensor : file.tensor_digests)
            text += fmt::format("  - {}: {}\n", tensor.name, tensor.sha256);
    }
    text += "\n" + s.trailer + "\n";
    return text;
}

std::string commit_pull_request_body(const convert_report& report, const std::vector<committed_file>& files,
                                     const commit_options& options) {
    summary s = summarize(report, files, options);
    std::string text = "# " + std::string(commit_subject) + "\n\n";
    text += fmt::format(
        "This adds the model's weights in [safetensors](https://huggingface.co/docs/safetensors) format, "
        "converted from the PyTorch checkpoint. A safetensors file holds tensors and nothing else: loading it runs no code, "
        "where loading a pickle (`.bin`) runs whatever the file says. It also loads faster (memory-mapped, "
        "zero-copy). The original files are kept; nothing else in the repository changes.\n\n"
        "The conversion ran no pickle: a restricted reader rebuilt the tensors, and nothing was imported "
        "or called.\n\n## What was converted\n\nSource: {}.\n\n| Source | Output | Tensors | Tensor bytes |\n|---|---|---:|---:|\n",
        s.origin);
    for (const committed_file* file : s.weights)
        text += fmt::format("| `{}` | `{}` | {} | {} |\n", file->source, file->path, grouped(file->tensors),
                            grouped(file->tensor_bytes));
    if (s.index) text += fmt::format("| `{}` | `{}` | weight map | |\n", s.index->source, s.index->path);
    text += fmt::format(
        "\n## Size\n\n| Files | Bytes |\n|---|---:|\n| PyTorch pickle ({}) | {} |\n| safetensors ({}) | {} |\n"
        "| Difference | {} |\n",
        plural(s.weights.size(), "file", "files"), grouped(s.pickle_bytes), plural(s.weights.size(), "file", "files"),
        grouped(s.safetensors_bytes), size_change(s));

    text += "\n## Aliases\n\n";
    if (report.aliases.empty()) {
        text += "None: no two tensors share their data.\n";
    } else {
        text += "Tied tensors are stored once (the Hub converter's rule: the first name in sorted order is kept); "
                "each dropped name is recorded in the file's `__metadata__` as `\"alias\": \"kept\"`. "
                "To get every name back after `load_file`: `state_dict[dropped] = state_dict[kept]`.\n\n| Dropped name | Same data as |\n|---|---|\n";
        for (const alias_entry& alias : report.aliases) text += fmt::format("| `{}` | `{}` |\n", alias.alias, alias.kept);
    }
    if (!report.non_tensors.empty()) {
        text += "\nNot tensors, not converted:\n\n";
        for (const non_tensor_entry& entry : report.non_tensors)
            text += fmt::format("- `{}` ({}): {}\n", entry.name, entry.kind, entry.value);
    }
    text += "\n## Verification\n\n" + verification_sentence(s) + "\n\n| File | SHA-256 (Git LFS oid) |\n|---|---|\n";
    for (const committed_file& file : files) text += fmt::format("| `{}` | `{}` |\n", file.path, file.sha256);
    text += tensor_digest_details(report, s);

    text += "\n## Loading\n\n```python\nfrom safetensors.torch import load_file\n\n";
    if (s.index) {
        text += fmt::format(
            "import json\n\nwith open(\"{0}\") as f:\n    shards = sorted(set(json.load(f)[\"weight_map\"].values()))\n"
            "state_dict = {{}}\nfor shard in shards:\n    state_dict.update(load_file(shard))\n```\n",
            file_name(s.index->path));
    } else if (!s.weights.empty()) {
        text += fmt::format("state_dict = load_file(\"{}\")\n```\n", file_name(s.weights.front()->path));
    }
    std::string first = s.weights.empty() ? "model.safetensors" : file_name(s.weights.front()->path);
    text += fmt::format(
        "\nOne tensor at a time, without reading the rest:\n\n```python\nfrom safetensors import safe_open\n\n"
        "with safe_open(\"{0}\", framework=\"pt\") as f:\n    for name in f.keys():\n        tensor = f.get_tensor(name)\n```\n"
        "\nWith stkit's Python package, the same API:\n\n```python\nimport stkit\nfrom stkit.torch import load_file\n\n"
        "state_dict = load_file(\"{0}\")\nwith stkit.safe_open(\"{0}\", framework=\"pt\") as f:\n"
        "    tensor = f.get_tensor(next(iter(f.keys())))\n```\n"
        "\n`transformers` prefers safetensors when both are present: `from_pretrained` loads these files.\n",
        first);
    text += "\n---\n\n" + s.trailer + "\n";
    return text;
}

}  // namespace stkit::convert
