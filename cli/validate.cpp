// `stkit validate FILE... [--json]`: checks each safetensors file (or sharded index) against every
// rule of the format and prints its first error with its byte offset. Exit 0 when all are valid, 1
// when any is invalid, 2 when any cannot be opened.
#include <string>
#include <vector>

#include <fmt/core.h>

#include "command.hpp"
#include "format_output.hpp"
#include "stkit/format/report.hpp"
#include "stkit/format/safetensors.hpp"

namespace stkit::cli {
namespace {

struct validate_options {
    std::vector<std::string> paths;
    bool json = false;
};

result<void> validate_one(const std::string& path) {
    if (is_shard_index_path(path)) {
        auto model = sharded_model::open(path);
        if (!model.ok()) return std::move(model).error();
        return {};
    }
    auto file = safetensors_file::open(path);
    if (!file.ok()) return std::move(file).error();
    return {};
}

int run_validate(const validate_options& options) {
    int status = exit_ok;
    for (const std::string& path : options.paths) {
        auto checked = validate_one(path);
        if (!checked.ok()) {
            error failure = checked.error();
            if (failure.file.empty()) failure.file = path;
            status = std::max(status, is_io_error(failure) ? exit_error : exit_findings);
            if (options.json) {
                nlohmann::ordered_json line;
                line["file"] = path;
                line["valid"] = false;
                line["error"] = error_to_json(failure);
                fmt::print("{}\n", dump_json(line));
            } else {
                fmt::print("{}\n", printable(failure.to_string()));
            }
            continue;
        }
        if (options.json) {
            nlohmann::ordered_json line;
            line["file"] = path;
            line["valid"] = true;
            line["error"] = nullptr;
            fmt::print("{}\n", dump_json(line));
        } else {
            fmt::print("{}: ok\n", printable(path));
        }
    }
    return status;
}

command_registration validate_command("validate", 11, [](CLI::App& app) -> command_runner {
    auto options = std::make_shared<validate_options>();
    auto* command = app.add_subcommand("validate", "Check safetensors files against every rule of the format");
    command->add_option("FILE", options->paths, "safetensors files or model.safetensors.index.json")->required();
    command->add_flag("--json", options->json, "print one JSON object per file, one per line");
    return [options] { return run_validate(*options); };
});

}  // namespace
}  // namespace stkit::cli
