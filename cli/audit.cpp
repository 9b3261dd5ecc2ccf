// `stkit audit PATH`: how far a collection of model repositories has moved to safe formats, and
// `stkit audit merge OUT IN...`: one document from shard outputs (docs/audit.md).
#include <fmt/core.h>
#include <unistd.h>

#include <optional>

#include "command.hpp"
#include "progress.hpp"
#include "stkit/audit/report.hpp"

namespace stkit::cli {
namespace {

struct audit_args {
    std::string path;
    bool history = false, commit_files = false, force = false, quiet = false;
    std::string json, csv, html, shard;
    unsigned jobs = 1;
    std::string merge_out;
    std::vector<std::string> merge_in;
};

int fail(const stkit::error& e) {
    fmt::print(stderr, "stkit audit: {}\n", e.to_string());
    return exit_error;
}

void print_summary(const audit_summary& s, bool history) {
    fmt::print("{} repositories: {} safe, {} mixed, {} unsafe, {} without model files\n", s.repositories,
               s.status[0], s.status[1], s.status[2], s.status[3]);
    fmt::print("{} model files ({} LFS pointers, content not present)\n", s.model_files, s.lfs_pointers);
    fmt::print("{} repositories with unsafe files have a safetensors counterpart for every unsafe weights file\n",
               s.unsafe_covered);
    fmt::print("repositories using each format:");
    for (std::size_t i = 0; i < format_family_count; ++i)
        if (s.families[i]) fmt::print(" {} {}", format_family_name(static_cast<format_family>(i)), s.families[i]);
    fmt::print("\n");
    if (history)
        fmt::print("{} commits; safetensors adopted by the converter bot in {} repositories ({} commits), "
                   "by developers in {} ({} commits)\n",
                   s.commits, s.adopted_by_converter, s.converter_commits, s.adopted_by_developer,
                   s.developer_commits);
    if (s.errors) fmt::print("{} repositories could not be fully audited (see warnings)\n", s.errors);
}

int run_audit(const audit_args& args) {
    audit_options options;
    options.history = args.history || args.commit_files;
    options.commit_files = args.commit_files;
    options.jobs = std::max(1u, args.jobs);
    if (!args.shard.empty()) {
        auto shard = parse_audit_shard(args.shard);
        if (!shard.ok()) return fail(shard.error());
        options.shard = *shard;
    }
    std::optional<audit_json_writer> json;
    std::optional<audit_csv_writer> csv;
    std::optional<audit_html_writer> html;
    if (!args.json.empty()) {
        auto writer = audit_json_writer::create(args.json, args.force, {options.history, options.shard});
        if (!writer.ok()) return fail(writer.error());
        json.emplace(std::move(*writer));
    }
    if (!args.csv.empty()) {
        auto writer = audit_csv_writer::create(args.csv, args.force);
        if (!writer.ok()) return fail(writer.error());
        csv.emplace(std::move(*writer));
    }
    if (!args.html.empty()) html.emplace();

    audit_summary_builder summary;
    progress_line bar("repositories", progress_line::unit::items, args.quiet);
    auto sink = [&](const audit_repo& repo) -> result<void> {
        if (repo.failure) fmt::print(stderr, "stkit audit: warning: {}: {}\n", repo.repo, *repo.failure);
        summary.add(repo);
        if (json) STKIT_TRY_VOID(json->add(repo));
        if (csv) STKIT_TRY_VOID(csv->add(repo));
        if (html) html->add(repo);
        return {};
    };
    auto ran = audit_run(args.path, options, sink, [&](std::size_t done, std::size_t total) { bar.update(done, total); });
    bar.finish();
    if (!ran.ok()) return fail(ran.error());
    audit_summary totals = summary.finish();
    if (json)
        if (auto done = json->finish(totals); !done.ok()) return fail(done.error());
    if (csv)
        if (auto done = csv->finish(totals); !done.ok()) return fail(done.error());
    if (html)
        if (auto done = html->write(args.html, args.force, totals); !done.ok()) return fail(done.error());
    print_summary(totals, options.history);
    return exit_ok;
}

int run_merge(const audit_args& args) {
    std::vector<audit_document> inputs;
    for (const std::string& path : args.merge_in) {
        auto text = read_small_file(path);
        if (!text.ok()) return fail(stkit::error(text.error()).in_file(path));
        auto document = audit_json_parse(*text);
        if (!document.ok()) return fail(stkit::error(document.error()).in_file(path));
        inputs.push_back(std::move(*document));
    }
    auto merged = audit_merge(std::move(inputs));
    if (!merged.ok()) return fail(merged.error());
    for (uint32_t k : merged->missing_shards)
        fmt::print(stderr, "stkit audit merge: warning: shard {} is missing\n", k);
    if (auto written = audit_write_json(args.merge_out, args.force, merged->merged); !written.ok())
        return fail(written.error());
    audit_summary_builder summary;
    for (const audit_repo& repo : merged->merged.repos) summary.add(repo);
    print_summary(summary.finish(), merged->merged.info.history);
    return exit_ok;
}

command_registration audit_command("audit", 60, [](CLI::App& app) -> command_runner {
    auto args = std::make_shared<audit_args>();
    CLI::App* audit = app.add_subcommand("audit", "Audit model repositories: formats, safety, safetensors adoption");
    audit->require_subcommand(0, 1);
    audit->add_option("PATH", args->path, "Folder holding repositories (git or plain snapshots)");
    audit->add_flag("--history", args->history, "Walk each git repository's first-parent history");
    audit->add_flag("--commit-files", args->commit_files, "With --history, list the model files of every commit in JSON");
    audit->add_option("--json", args->json, "Write the JSON document here");
    audit->add_option("--csv", args->csv, "Write repos.csv, files.csv, summary.csv, monthly.csv, adoptions.csv here");
    audit->add_option("--html", args->html, "Write a self-contained HTML report here");
    audit->add_option("--jobs,-j", args->jobs, "Repositories audited in parallel")->check(CLI::Range(1u, 256u));
    audit->add_option("--shard", args->shard, "Audit only shard K of N (K/N, 1-based)");
    audit->add_flag("--force", args->force, "Overwrite existing output files");
    audit->add_flag("-q,--quiet", args->quiet, "No progress line on a terminal");
    CLI::App* merge = audit->add_subcommand("merge", "Merge shard JSON documents into one");
    merge->add_option("OUT", args->merge_out, "Merged JSON document")->required();
    merge->add_option("IN", args->merge_in, "Shard JSON documents")->required();
    merge->add_flag("--force", args->force, "Overwrite an existing output file");
    return [args, merge]() -> int {
        if (merge->parsed()) return run_merge(*args);
        if (args->path.empty()) {
            fmt::print(stderr, "stkit audit: PATH is required\n");
            return exit_error;
        }
        return run_audit(*args);
    };
});

}  // namespace
}  // namespace stkit::cli
