// `stkit inspect FILE|INDEX.json [--json]`: metadata, one row per tensor (name, dtype, shape,
// bytes) and totals by dtype, for a safetensors file or a sharded checkpoint's index.
#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "command.hpp"
#include "format_output.hpp"
#include "stkit/format/report.hpp"
#include "stkit/format/safetensors.hpp"

namespace stkit::cli {
namespace {

struct inspect_options {
    std::string path;
    bool json = false;
};

struct row {
    const tensor_view* tensor;
    const std::string* shard;  // nullptr for a single file
};

std::string shape_text(std::span<const uint64_t> shape) {
    std::string text = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + "]";
}

int print_json(const std::string& document) {
    fmt::print("{}\n", document);
    return exit_ok;
}

int print_table(const metadata_map& metadata, std::string_view index_metadata, const std::vector<row>& rows) {
    if (!metadata.empty()) {
        fmt::print("metadata:\n");
        for (const auto& [key, value] : metadata) fmt::print("  {}: {}\n", printable(key), printable(value));
    }
    if (!index_metadata.empty()) fmt::print("index metadata: {}\n", printable(index_metadata));
    std::size_t name_width = 4;
    for (const row& r : rows) name_width = std::max(name_width, printable(r.tensor->name).size());
    bool sharded = !rows.empty() && rows.front().shard;
    fmt::print("{:<{}}  {:<11}  {:<20}  {:>14}{}\n", "name", name_width, "dtype", "shape", "bytes",
               sharded ? "  shard" : "");
    std::array<std::pair<uint64_t, uint64_t>, dtype_count> totals{};  // (tensors, bytes) by dtype
    uint64_t total = 0;
    for (const row& r : rows) {
        const tensor_view& t = *r.tensor;
        fmt::print("{:<{}}  {:<11}  {:<20}  {:>14}{}\n", printable(t.name), name_width, dtype_name(t.type),
                   shape_text(t.shape), t.byte_size(), r.shard ? "  " + printable(*r.shard) : "");
        auto& slot = totals[static_cast<std::size_t>(t.type)];
        ++slot.first;
        slot.second += t.byte_size();
        total += t.byte_size();
    }
    fmt::print("totals by dtype:\n");
    for (int i = dtype_count - 1; i >= 0; --i) {
        const auto& [count, bytes] = totals[static_cast<std::size_t>(i)];
        if (count) fmt::print("  {:<11}  {:>8} tensors  {:>14} bytes\n", dtype_name(static_cast<dtype>(i)), count, bytes);
    }
    fmt::print("total: {} tensors, {} bytes\n", rows.size(), total);
    return exit_ok;
}

int run_inspect(const inspect_options& options) {
    std::vector<row> rows;
    auto fail = [](const error& failure) {
        std::fprintf(stderr, "stkit inspect: %s\n", printable(failure.to_string()).c_str());
        return exit_error;
    };
    if (is_shard_index_path(options.path)) {
        auto model = sharded_model::open(options.path);
        if (!model.ok()) return fail(model.error());
        if (options.json) return print_json(inspect_json(*model));
        for (const sharded_tensor& t : model->tensors())
            rows.push_back({t.tensor, &model->index().shards[t.shard]});
        return print_table(metadata_map{}, model->index().metadata_json, rows);
    }
    auto file = safetensors_file::open(options.path);
    if (!file.ok()) return fail(file.error());
    if (options.json) return print_json(inspect_json(*file));
    for (const tensor_view& t : file->tensors()) rows.push_back({&t, nullptr});
    return print_table(file->metadata(), {}, rows);
}

command_registration inspect_command("inspect", 10, [](CLI::App& app) -> command_runner {
    auto options = std::make_shared<inspect_options>();
    auto* command = app.add_subcommand("inspect", "Show a safetensors file's metadata and tensors");
    command->add_option("FILE", options->path, "safetensors file or model.safetensors.index.json")->required();
    command->add_flag("--json", options->json, "print one JSON document");
    return [options] { return run_inspect(*options); };
});

}  // namespace
}  // namespace stkit::cli
