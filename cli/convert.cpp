// `stkit convert INPUT [-o OUTPUT] [--force] [--no-verify] [--json]`: PyTorch / NumPy checkpoints to
// safetensors without running their pickle. With `--commit [--branch NAME] [--pr-body FILE]` a
// folder's conversion is also committed on a new branch (stkit/convert/commit.hpp). Exit 0
// converted, 1 refused as unsafe, 2 malformed input, I/O error, usage error or a git refusal.
#include <filesystem>
#include <optional>
#include <string>

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "progress.hpp"
#include "stkit/convert/commit.hpp"
#include "stkit/convert/convert.hpp"
#include "stkit/convert/report.hpp"
#include "stkit/file.hpp"

namespace stkit::cli {
namespace {

namespace fs = std::filesystem;

struct convert_arguments {
    std::string input;
    std::string output;
    bool force = false;
    bool no_verify = false;
    bool json = false;
    unsigned jobs = 1;
    bool quiet = false;
    bool commit = false;
    std::string branch = "safetensors";
    std::string pr_body;
};

int print_failure(const error& failure, bool json) {
    bool unsafe = convert::is_unsafe_refusal(failure.code);
    fmt::print(stderr, "stkit convert: {}{} [{}]\n", unsafe ? "refused as unsafe: " : "", failure.to_string(),
               error_code_name(failure.code));
    if (unsafe) fmt::print(stderr, "stkit convert: nothing in the file was run, and no output was written\n");
    if (json) fmt::print("{}\n", convert::convert_error_json(failure));
    return unsafe ? exit_findings : exit_error;
}

int usage_error(std::string_view message) {
    fmt::print(stderr, "stkit convert: {}\n", message);
    return exit_error;
}

void print_report(const convert::convert_report& report) {
    for (const auto& file : report.outputs) {
        if (file.tensors == 0) {
            fmt::print("wrote {}\n", file.path.string());
            continue;
        }
        fmt::print("{} -> {}: {} tensors, {} bytes\n", file.source.string(), file.path.string(),
                   file.tensors, file.tensor_bytes);
    }
    fmt::print("source format: {}{}\n", report.source_format,
               report.unwrapped.empty() ? "" : ", unwrapped '" + report.unwrapped + "'");
    if (!report.model_classes.empty())
        fmt::print("model classes: {}\n", fmt::join(report.model_classes, ", "));
    for (const auto& alias : report.aliases)
        fmt::print("alias dropped: {} (same data as {})\n", alias.alias, alias.kept);
    for (const auto& entry : report.non_tensors)
        fmt::print("not a tensor, not converted: {} ({}): {}\n", entry.name, entry.kind, entry.value);
    fmt::print("{}\n", report.verified ? "verified: every tensor matches the source bit for bit"
                                       : "not verified (--no-verify)");
}

void print_commit(const convert::conversion_commit& made, const convert::commit_target& target) {
    fmt::print("committed {} on new branch '{}' (parent {}); HEAD is still {}\n", made.commit.substr(0, 12),
               made.branch, made.parent.substr(0, 12),
               target.head_ref.empty() ? "detached at " + made.parent.substr(0, 12) : target.head_ref);
    for (const auto& file : made.files)
        fmt::print("  {}{}\n", file.path, file.lfs ? " (Git LFS pointer; object stored in .git/lfs/objects)" : "");
    fmt::print("the converted files were removed from the working tree: `git switch {}` brings them back\n",
               made.branch);
}

// The commit's facts beside the conversion report, for --json.
std::string commit_json(const convert::convert_report& report, const convert::conversion_commit& made) {
    nlohmann::json document = nlohmann::json::parse(convert::convert_report_json(report));
    nlohmann::json files = nlohmann::json::array();
    for (const auto& file : made.files)
        files.push_back({{"path", file.path}, {"source", file.source}, {"sha256", file.sha256}, {"lfs", file.lfs}});
    document["commit"] = {{"branch", made.branch}, {"commit", made.commit}, {"parent", made.parent},
                          {"message", made.message}, {"files", files}};
    return document.dump(2);
}

int run_convert(const convert_arguments& arguments) {
    convert::convert_options options;
    options.overwrite = arguments.force;
    options.verify = !arguments.no_verify;
    options.jobs = arguments.jobs;
    std::error_code ignored;
    const bool folder = fs::is_directory(arguments.input, ignored);
    if (!arguments.output.empty() && folder) return usage_error("a folder is converted in place; -o is for files");

    // --commit: every refusal comes before anything is written (the PR body's file is an unnamed
    // temporary until the commit is made).
    convert::commit_options commit_options;
    commit_options.branch = arguments.branch;
    commit_options.tool_version = STKIT_VERSION;
    std::optional<convert::commit_target> target;
    std::optional<output_file> pr_body;
    if (arguments.commit) {
        if (!folder) return usage_error("--commit converts a folder in a git working tree, not a file");
        if (arguments.no_verify) return usage_error("--commit needs the verification; drop --no-verify");
        auto checked = convert::commit_check(arguments.input, commit_options);
        if (!checked.ok()) return print_failure(checked.error(), arguments.json);
        target = std::move(*checked);
        if (!arguments.pr_body.empty()) {
            auto created = output_file::create(arguments.pr_body, arguments.force);
            if (!created.ok()) return print_failure(std::move(created).error().in_file(arguments.pr_body), arguments.json);
            pr_body = std::move(*created);
        }
    }

    progress_line progress("", progress_line::unit::bytes, arguments.quiet);
    if (progress.enabled()) options.progress = [&](uint64_t done, uint64_t total) { progress.update(done, total); };
    auto done = convert::convert_path(arguments.input, arguments.output, options);
    progress.finish();
    if (!done.ok()) return print_failure(done.error(), arguments.json);
    if (!target) {
        if (arguments.json) fmt::print("{}\n", convert::convert_report_json(*done));
        else print_report(*done);
        return exit_ok;
    }

    auto made = convert::commit_conversion(*target, *done, commit_options);
    if (!made.ok()) {
        int code = print_failure(made.error(), arguments.json);
        fmt::print(stderr, "stkit convert: no branch was made; the converted files are left in the working tree\n");
        return code;
    }
    if (pr_body) {
        auto written = pr_body->write(made->pull_request);
        if (written.ok()) written = pr_body->commit();
        if (!written.ok()) {
            int code = print_failure(std::move(written).error().in_file(arguments.pr_body), arguments.json);
            fmt::print(stderr, "stkit convert: the commit {} on branch '{}' is made; only the PR body is missing\n",
                       made->commit, made->branch);
            return code;
        }
    }
    if (arguments.json) {
        fmt::print("{}\n", commit_json(*done, *made));
        return exit_ok;
    }
    print_report(*done);
    print_commit(*made, *target);
    if (pr_body) fmt::print("wrote the pull request body to {}\n", arguments.pr_body);
    return exit_ok;
}

command_registration convert_command("convert", 30, [](CLI::App& app) -> command_runner {
    auto arguments = std::make_shared<convert_arguments>();
    CLI::App* command = app.add_subcommand(
        "convert",
        "Convert a PyTorch (.bin .pt .pth .ckpt) or NumPy (.npy .npz) checkpoint, or a transformers "
        "folder, to safetensors without running any of its pickle");
    command->add_option("input", arguments->input, "checkpoint file or transformers folder")
        ->required();
    command->add_option("-o,--output", arguments->output,
                        "output file (default: beside the input, .safetensors; "
                        "pytorch_model.bin -> model.safetensors)");
    command->add_flag("--force", arguments->force, "replace existing outputs");
    command->add_flag("--no-verify", arguments->no_verify,
                      "skip re-reading the output and comparing it with the source");
    command->add_flag("--json", arguments->json, "print the report as JSON");
    command->add_option("-j,--jobs", arguments->jobs, "shards of a folder converted at once (default 1)")
        ->check(CLI::Range(1u, 64u));
    command->add_flag("-q,--quiet", arguments->quiet, "no progress line on a terminal");
    CLI::Option* commit = command->add_flag(
        "--commit", arguments->commit,
        "commit the new files on a new branch of the folder's git repository (HEAD, the index and the "
        "current branch untouched; the files are removed from the working tree once committed)");
    command->add_option("--branch", arguments->branch, "the branch --commit creates (default: safetensors)")
        ->needs(commit);
    command->add_option("--pr-body", arguments->pr_body,
                        "with --commit, write the commit's content as a Markdown pull request body to this file")
        ->needs(commit);
    return [arguments] { return run_convert(*arguments); };
});

}  // namespace
}  // namespace stkit::cli
