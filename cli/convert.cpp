// `stkit convert INPUT [-o OUTPUT] [--force] [--no-verify] [--json]`: PyTorch / NumPy checkpoints to
// safetensors without running their pickle. Exit 0 converted, 1 refused as unsafe, 2 malformed
// input, I/O error or usage error.
#include <filesystem>
#include <string>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "command.hpp"
#include "progress.hpp"
#include "stkit/convert/convert.hpp"
#include "stkit/convert/report.hpp"

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
};

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

int run_convert(const convert_arguments& arguments) {
    convert::convert_options options;
    options.overwrite = arguments.force;
    options.verify = !arguments.no_verify;
    options.jobs = arguments.jobs;
    progress_line progress("", progress_line::unit::bytes, arguments.quiet);
    if (progress.enabled()) options.progress = [&](uint64_t done, uint64_t total) { progress.update(done, total); };
    std::error_code ignored;
    if (!arguments.output.empty() && fs::is_directory(arguments.input, ignored)) {
        fmt::print(stderr, "stkit convert: a folder is converted in place; -o is for files\n");
        return exit_error;
    }
    auto done = convert::convert_path(arguments.input, arguments.output, options);
    progress.finish();
    if (!done.ok()) {
        const error& failure = done.error();
        bool unsafe = convert::is_unsafe_refusal(failure.code);
        fmt::print(stderr, "stkit convert: {}{} [{}]\n", unsafe ? "refused as unsafe: " : "",
                   failure.to_string(), error_code_name(failure.code));
        if (unsafe)
            fmt::print(stderr, "stkit convert: nothing in the file was run, and no output was written\n");
        if (arguments.json) fmt::print("{}\n", convert::convert_error_json(failure));
        return unsafe ? exit_findings : exit_error;
    }
    if (arguments.json) fmt::print("{}\n", convert::convert_report_json(*done));
    else print_report(*done);
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
    return [arguments] { return run_convert(*arguments); };
});

}  // namespace
}  // namespace stkit::cli
