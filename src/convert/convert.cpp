// The conversion driver: plan, write, verify, commit — for one file or a transformers folder.
#include "stkit/convert/convert.hpp"

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <system_error>
#include <thread>
#include <utility>

#include "convert/internal.hpp"
#include "convert/output.hpp"
#include "stkit/file.hpp"

namespace stkit::convert {
namespace {

namespace fs = std::filesystem;

// One input file planned, with its map kept open for the write phase.
struct planned_file {
    fs::path source;
    fs::path destination;
    mapped_file input;
    checkpoint plan;
};

result<planned_file> plan_file(const fs::path& source, const fs::path& destination,
                               const convert_options& options) {
    planned_file planned;
    planned.source = source;
    planned.destination = destination;
    auto input = mapped_file::open(source);
    if (!input.ok()) return std::move(input).error().in_file(source.string());
    planned.input = std::move(*input);
    load_options load = options.load;
    load.release_consumed_pages = true;  // planned.input is our own read-only map
    load.defer_stored_crc = true;        // write_checkpoint checks them while copying
    auto plan = load_checkpoint(planned.input.bytes(), load);
    if (!plan.ok()) return std::move(plan).error().in_file(source.string());
    planned.plan = std::move(*plan);
    return planned;
}

void add_to_report(const planned_file& planned, const detail::written_output& written,
                   convert_report& report) {
    written_file file;
    file.path = planned.destination;
    file.source = planned.source;
    file.tensors = planned.plan.tensors.size();
    file.tensor_bytes = written.tensor_bytes;
    file.file_bytes = written.file_bytes;
    report.outputs.push_back(std::move(file));
    report.tensors_written += planned.plan.tensors.size();
    report.tensor_bytes += written.tensor_bytes;
    report.aliases.insert(report.aliases.end(), planned.plan.aliases.begin(),
                          planned.plan.aliases.end());
    report.non_tensors.insert(report.non_tensors.end(), planned.plan.others.begin(),
                              planned.plan.others.end());
    if (report.unwrapped.empty()) report.unwrapped = planned.plan.unwrapped;
    for (const std::string& type : planned.plan.model_classes)
        if (std::find(report.model_classes.begin(), report.model_classes.end(), type) ==
            report.model_classes.end())
            report.model_classes.push_back(type);
}

// Runs `work` on a thread of its own, or here when no thread can be started (the result is the
// same, only later).
class beside {
public:
    explicit beside(std::function<void()> work) {
        try {
            thread_ = std::thread(std::move(work));
        } catch (const std::system_error&) {
            work();
        }
    }
    beside(const beside&) = delete;
    beside& operator=(const beside&) = delete;
    ~beside() {
        if (thread_.joinable()) thread_.join();
    }

private:
    std::thread thread_;
};

// Writes and verifies one planned file into its writer's temporary file. The source digests are
// computed while the tensors are written, the output's while the file is fsynced: two reads of
// the page cache on the other core, beside a write and a sync.
result<detail::written_output> write_one(planned_file& file, safetensors_writer& writer,
                                         const convert_options& options, detail::progress_counter& progress) {
    file.input.advise_sequential();
    if (!options.verify) {
        STKIT_TRY(auto written, detail::write_checkpoint(file.plan, writer, file.input.bytes(), options.chunk_bytes, progress));
        STKIT_TRY_VOID(writer.finish());
        return written;
    }
    result<std::vector<xxh3_digest>> source = std::vector<xxh3_digest>{};
    result<std::vector<xxh3_digest>> output = std::vector<xxh3_digest>{};
    result<detail::written_output> written = detail::written_output{};
    result<void> synced;
    {
        beside source_pass([&] {
            source = detail::source_digests(file.plan, file.source, file.input.bytes(), options.chunk_bytes);
        });
        written = detail::write_checkpoint(file.plan, writer, file.input.bytes(), options.chunk_bytes, progress);
        if (written.ok()) {
            beside output_pass([&] {
                output = detail::output_digests(file.plan, writer.temp_path(), options.chunk_bytes, progress);
            });
            synced = writer.finish();
        }
    }
    if (!written.ok()) return std::move(written).error();
    STKIT_TRY_VOID(synced);
    if (!source.ok()) return std::move(source).error();
    if (!output.ok()) return std::move(output).error();
    STKIT_TRY_VOID(detail::compare_digests(file.plan, *source, *output));
    return written;
}

// Writes and verifies every planned file into unnamed temporaries (options.jobs at a time), then
// commits them all (and then `extra`, the index); on any failure nothing is committed (or, if a
// commit itself fails, the ones already committed are removed).
result<void> write_all(std::vector<planned_file>& planned, std::vector<output_file>& extra,
                       const convert_options& options, convert_report& report) {
    std::vector<safetensors_writer> writers;
    for (planned_file& file : planned) {
        auto created = safetensors_writer::create(file.destination, options.overwrite);
        if (!created.ok()) return std::move(created).error().in_file(file.destination.string());
        writers.push_back(std::move(*created));
    }
    detail::progress_counter progress;
    progress.report = options.progress;
    for (const planned_file& file : planned)
        for (const source_tensor& tensor : file.plan.tensors) progress.total += tensor.byte_size * (options.verify ? 2 : 1);
    std::vector<result<detail::written_output>> outcomes(planned.size(), detail::written_output{});
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    auto worker = [&] {
        for (std::size_t i = next++; i < planned.size() && !failed; i = next++) {
            outcomes[i] = write_one(planned[i], writers[i], options, progress);
            if (!outcomes[i].ok()) failed = true;
        }
    };
    {
        std::vector<std::unique_ptr<beside>> workers;
        for (unsigned j = 1; j < std::max(1u, options.jobs) && j < planned.size(); ++j)
            workers.push_back(std::make_unique<beside>(worker));
        worker();
    }
    for (std::size_t i = 0; i < planned.size(); ++i) {
        if (!outcomes[i].ok()) return std::move(outcomes[i]).error().in_file(planned[i].destination.string());
        add_to_report(planned[i], *outcomes[i], report);
    }
    std::vector<fs::path> committed;
    auto commit = [&](auto& file) -> result<void> {
        fs::path destination = file.destination();
        auto done = file.commit();
        if (!done.ok()) {
            std::error_code ignored;
            if (!options.overwrite)
                for (const fs::path& path : committed) fs::remove(path, ignored);
            return std::move(done).error().in_file(destination.string());
        }
        committed.push_back(destination);
        return {};
    };
    for (safetensors_writer& writer : writers) STKIT_TRY_VOID(commit(writer));
    for (output_file& file : extra) STKIT_TRY_VOID(commit(file));
    report.verified = options.verify;
    return {};
}

error index_error(std::string detail, std::string name = {}) {
    return make_error(error_code::cv_index_invalid, std::move(detail), no_offset, std::move(name));
}

// "pytorch_model-00001-of-00002.bin" → "model-00001-of-00002.safetensors". Shard names must be
// plain file names in the folder (an index naming "../x" must not make us read or write there).
result<std::string> safetensors_shard_name(const std::string& shard) {
    if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == ".." ||
        !shard.ends_with(".bin"))
        return index_error("shard is not a .bin file in the folder", shard);
    std::string name = shard.substr(0, shard.size() - 4) + ".safetensors";
    if (auto at = name.find("pytorch_model"); at != std::string::npos)
        name.replace(at, std::string_view("pytorch_model").size(), "model");
    return name;
}

result<convert_report> convert_sharded(const fs::path& folder, const fs::path& index_path,
                                       const convert_options& options) {
    auto text = read_small_file(index_path, std::size_t{256} << 20);
    if (!text.ok()) return std::move(text).error().in_file(index_path.string());
    nlohmann::json index = nlohmann::json::parse(*text, nullptr, false);
    auto fail = [&](error failure) { return std::move(failure).in_file(index_path.string()); };
    if (index.is_discarded() || !index.is_object())
        return fail(index_error("not a JSON object"));
    auto weight_map = index.find("weight_map");
    if (weight_map == index.end() || !weight_map->is_object() || weight_map->empty())
        return fail(index_error("no weight_map object"));
    std::map<std::string, std::string> shard_of;  // tensor → input shard
    std::map<std::string, std::string> outputs;   // input shard → output shard
    for (auto& [name, shard] : weight_map->items()) {
        if (!shard.is_string()) return fail(index_error("weight_map value is not a string", name));
        shard_of[name] = shard.get<std::string>();
        auto renamed = safetensors_shard_name(shard.get<std::string>());
        if (!renamed.ok()) return fail(std::move(renamed).error());
        outputs[shard.get<std::string>()] = *renamed;
    }

    std::vector<planned_file> planned;
    for (const auto& [shard, output] : outputs) {
        STKIT_TRY(auto file, plan_file(folder / shard, folder / output, options));
        planned.push_back(std::move(file));
    }
    // Every tensor (or dropped alias) of every shard is where the index says, and nothing the index
    // names is missing.
    std::map<std::string, std::string> found;
    for (const planned_file& file : planned) {
        std::string shard = file.source.filename().string();
        auto place = [&](const std::string& name) -> result<void> {
            auto listed = shard_of.find(name);
            if (listed == shard_of.end() || listed->second != shard)
                return fail(index_error("tensor of " + shard + " is mapped elsewhere or not at all",
                                        name));
            found[name] = shard;
            return {};
        };
        for (const source_tensor& tensor : file.plan.tensors) STKIT_TRY_VOID(place(tensor.name));
        for (const alias_entry& alias : file.plan.aliases) STKIT_TRY_VOID(place(alias.alias));
    }
    for (const auto& [name, shard] : shard_of)
        if (!found.count(name)) return fail(index_error("no tensor in " + shard, name));

    nlohmann::json out_map = nlohmann::json::object();
    uint64_t total = 0;
    bool dropped = false;
    for (const planned_file& file : planned) {
        std::string output = file.destination.filename().string();
        for (const source_tensor& tensor : file.plan.tensors) {
            out_map[tensor.name] = output;
            total += tensor.byte_size;
        }
        dropped = dropped || !file.plan.aliases.empty();
    }
    nlohmann::json out_index = nlohmann::json::object();
    if (auto metadata = index.find("metadata"); metadata != index.end()) {
        out_index["metadata"] = *metadata;
        if (dropped && metadata->is_object() && metadata->contains("total_size"))
            out_index["metadata"]["total_size"] = total;
    }
    out_index["weight_map"] = std::move(out_map);

    const fs::path index_output = folder / "model.safetensors.index.json";
    std::vector<output_file> extra;
    auto created = output_file::create(index_output, options.overwrite);
    if (!created.ok()) return std::move(created).error().in_file(index_output.string());
    auto wrote = created->write(out_index.dump(2) + "\n");
    if (!wrote.ok()) return std::move(wrote).error().in_file(index_output.string());
    uint64_t index_bytes = created->bytes_written();
    extra.push_back(std::move(*created));

    convert_report report;
    report.source_format = "transformers folder (" + std::to_string(planned.size()) + " shards)";
    STKIT_TRY_VOID(write_all(planned, extra, options, report));
    report.outputs.push_back({index_output, index_path, 0, 0, index_bytes});
    return report;
}

}  // namespace

fs::path default_output_path(const fs::path& input) {
    if (input.filename() == "pytorch_model.bin") return input.parent_path() / "model.safetensors";
    fs::path output = input;
    output.replace_extension(".safetensors");
    return output;
}

bool is_unsafe_refusal(error_code code) noexcept {
    switch (code) {
        case error_code::pk_global_refused:
        case error_code::pk_call_refused:
        case error_code::pk_build_refused:
        case error_code::pk_persistent_id_refused:
        case error_code::pk_extension_refused:
        case error_code::npy_object_array:
        case error_code::cv_code_bearing_archive:
        case error_code::cv_ambiguous_archive: return true;
        default: return false;
    }
}

result<convert_report> convert_file(const fs::path& input, const fs::path& output,
                                    const convert_options& options) {
    std::vector<planned_file> planned;
    STKIT_TRY(auto file, plan_file(input, output, options));
    planned.push_back(std::move(file));
    convert_report report;
    report.source_format = std::string(source_format_name(planned.front().plan.format));
    std::vector<output_file> none;
    STKIT_TRY_VOID(write_all(planned, none, options, report));
    return report;
}

result<convert_report> convert_folder(const fs::path& folder, const convert_options& options) {
    std::error_code ignored;
    const fs::path index = folder / "pytorch_model.bin.index.json";
    if (fs::exists(index, ignored)) return convert_sharded(folder, index, options);
    const fs::path single = folder / "pytorch_model.bin";
    if (fs::exists(single, ignored)) {
        STKIT_TRY(auto report, convert_file(single, folder / "model.safetensors", options));
        report.source_format = "transformers folder (" + report.source_format + ")";
        return report;
    }
    return make_error(error_code::cv_unrecognized_input,
                      "folder holds neither pytorch_model.bin nor pytorch_model.bin.index.json")
        .in_file(folder.string());
}

}  // namespace stkit::convert

namespace stkit::convert {

result<convert_report> convert_path(const fs::path& input, const fs::path& output, convert_options options) {
    std::error_code ignored;
    if (fs::is_directory(input, ignored)) {
        if (!output.empty())
            return make_error(error_code::invalid_argument,
                              "a folder is converted in place; an output path is for files")
                .in_file(input.string());
        return convert_folder(input, options);
    }
    options.load.npy_name = input.stem().string();
    return convert_file(input, output.empty() ? default_output_path(input) : output, options);
}

}  // namespace stkit::convert
