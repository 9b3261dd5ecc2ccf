// `stkit audit PATH`: how far a collection of model repositories has moved to safe formats,
// `stkit audit merge OUT IN...`: one document from shard outputs, and `stkit audit report IN`: the
// HTML page and CSV tables of any audit document (docs/audit.md).
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
    bool history = false, first_parent = false, commit_files = false, force = false, quiet = false;
    std::string json, csv, html, shard;
    unsigned jobs = 1;
    std::string merge_out;
    std::vector<std::string> merge_in;
    std::string report_in;
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
    auto bot = static_cast<std::size_t>(audit_adopter::converter_bot);
    auto dev = static_cast<std::size_t>(audit_adopter::developer);
    auto tool = static_cast<std::size_t>(audit_adopter::stkit);
    if (history)
        fmt::print("{} commits; safetensors adopted by the converter bot in {} repositories ({} commits), "
                   "by developers in {} ({} commits), by stkit convert in {} ({} commits)\n",
                   s.commits, s.adopted[bot], s.adopting_commits[bot], s.adopted[dev], s.adopting_commits[dev],
                   s.adopted[tool], s.adopting_commits[tool]);
    if (s.errors) fmt::print("{} repositories could not be fully audited (see warnings)\n", s.errors);
}

int run_audit(const audit_args& args) {
    audit_options options;
    options.history = args.history || args.commit_files || args.first_parent;
    options.first_parent = args.first_parent;
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

// Reads audit documents (each named in its errors).
result<std::vector<audit_document>> read_documents(const std::vector<std::string>& paths) {
    std::vector<audit_document> documents;
    for (const std::string& path : paths) {
        auto text = read_small_file(path);
        if (!text.ok()) return stkit::error(text.error()).in_file(path);
        auto document = audit_json_parse(*text);
        if (!document.ok()) return stkit::error(document.error()).in_file(path);
        documents.push_back(std::move(*document));
    }
    return documents;
}

int run_merge(const audit_args& args) {
    auto inputs = read_documents(args.merge_in);
    if (!inputs.ok()) return fail(inputs.error());
    auto merged = audit_merge(std::move(*inputs));
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

int run_report(const audit_args& args) {
    if (args.html.empty() && args.csv.empty()) {
        fmt::print(stderr, "stkit audit report: give --html FILE and/or --csv DIR\n");
        return exit_error;
    }
    auto documents = read_documents({args.report_in});
    if (!documents.ok()) return fail(documents.error());
    const audit_document& document = documents->front();
    audit_summary_builder summary;
    audit_html_writer html;
    std::optional<audit_csv_writer> csv;
    if (!args.csv.empty()) {
        auto writer = audit_csv_writer::create(args.csv, args.force);
        if (!writer.ok()) return fail(writer.error());
        csv.emplace(std::move(*writer));
    }
    for (const audit_repo& repo : document.repos) {
        summary.add(repo);
        html.add(repo);
        if (csv)
            if (auto done = csv->add(repo); !done.ok()) return fail(done.error());
    }
    audit_summary totals = summary.finish();
    if (csv)
        if (auto done = csv->finish(totals); !done.ok()) return fail(done.error());
    if (!args.html.empty())
        if (auto done = html.write(args.html, args.force, totals); !done.ok()) return fail(done.error());
    print_summary(totals, document.info.history);
    return exit_ok;
}

command_registration audit_command("audit", 60, [](CLI::App& app) -> command_runner {
    auto args = std::make_shared<audit_args>();
    CLI::App* audit = app.add_subcommand("audit", "Audit model repositories: formats, safety, safetensors adoption");
    audit->require_subcommand(0, 1);
    audit->add_option("PATH", args->path, "Folder holding repositories (git or plain snapshots)");
    audit->add_flag("--history", args->history, "Walk each git repository's history: every commit reachable from HEAD");
    audit->add_flag("--first-parent", args->first_parent, "Walk only the first-parent chain from HEAD (implies --history)");
    audit->add_flag("--commit-files", args->commit_files, "With --history, list the model files of every commit in JSON");
    audit->add_option("--json", args->json, "Write the JSON document here");
    audit->add_option("--csv", args->csv, "Write repos.csv, files.csv, summary.csv and one table per report chart here");
    audit->add_option("--html", args->html, "Write a self-contained HTML report here");
    audit->add_option("--jobs,-j", args->jobs, "Repositories audited in parallel")->check(CLI::Range(1u, 256u));
    audit->add_option("--shard", args->shard, "Audit only shard K of N (K/N, 1-based)");
    audit->add_flag("--force", args->force, "Overwrite existing output files");
    audit->add_flag("-q,--quiet", args->quiet, "No progress line on a terminal");
    CLI::App* merge = audit->add_subcommand("merge", "Merge shard JSON documents into one");
    merge->add_option("OUT", args->merge_out, "Merged JSON document")->required();
    merge->add_option("IN", args->merge_in, "Shard JSON documents")->required();
    merge->add_flag("--force", args->force, "Overwrite an existing output file");
    CLI::App* report = audit->add_subcommand("report", "Write the HTML report and CSV tables of an audit JSON document");
    report->add_option("IN", args->report_in, "Audit JSON document (a run's or a merge's)")->required();
    report->add_option("--html", args->html, "Write the self-contained HTML report here");
    report->add_option("--csv", args->csv, "Write the CSV tables here");
    report->add_flag("--force", args->force, "Overwrite existing output files");
    return [args, merge, report]() -> int {
        if (merge->parsed()) return run_merge(*args);
        if (report->parsed()) return run_report(*args);
        if (args->path.empty()) {
            fmt::print(stderr, "stkit audit: PATH is required\n");
            return exit_error;
        }
        return run_audit(*args);
    };
});

}  // namespace
}  // namespace stkit::cli
