// `stkit scan PATH...`: detect every file's format by content and report code-execution payloads.
// Exit 0 when every file is safe, 1 when any is at or above --fail-on, 2 when a file could not be
// read (or on usage errors).
#include <cstdio>
#include <vector>

#include <fmt/core.h>

#include "command.hpp"
#include "progress.hpp"
#include "stkit/scan/paths.hpp"
#include "stkit/scan/report.hpp"
#include "stkit/scan/scan.hpp"

namespace stkit::cli {
namespace {

struct scan_args {
    std::vector<std::string> paths;
    std::string format = "text";
    std::string fail_on = "suspicious";
    unsigned jobs = 1;
    unsigned max_depth = scan_options{}.max_depth;
    uint64_t max_bytes = scan_options{}.max_total_bytes;
    bool verbose = false;
    bool quiet = false;
};

int run_scan(const scan_args& args) {
    scan_options options;
    options.max_depth = args.max_depth;
    options.max_total_bytes = args.max_bytes;
    progress_line progress("files", progress_line::unit::items, args.quiet);
    std::vector<file_report> reports = scan_paths(args.paths, options, args.jobs, [&](std::size_t done, std::size_t total) {
        progress.update(done, total);
    });
    progress.finish();

    std::string out;
    if (args.format == "json") out = scan_report_json(reports);
    else if (args.format == "sarif") out = scan_report_sarif(reports, STKIT_VERSION);
    else out = scan_report_text(reports, args.verbose);
    std::fwrite(out.data(), 1, out.size(), stdout);

    verdict threshold = args.fail_on == "dangerous" ? verdict::dangerous : verdict::suspicious;
    bool errors = false, findings = false;
    for (const file_report& r : reports) {
        errors = errors || r.overall == verdict::error;
        findings = findings || (r.overall != verdict::error && r.overall >= threshold);
    }
    if (errors) return exit_error;
    return findings ? exit_findings : exit_ok;
}

command_registration scan_command("scan", 30, [](CLI::App& app) -> command_runner {
    auto args = std::make_shared<scan_args>();
    CLI::App* sub = app.add_subcommand("scan", "Detect formats by content and find code-execution payloads");
    sub->add_option("paths", args->paths, "Files or folders (recursive)")->required();
    sub->add_option("--format", args->format, "Output: text, json or sarif")
        ->check(CLI::IsMember({"text", "json", "sarif"}));
    sub->add_option("--fail-on", args->fail_on, "Exit 1 at or above this verdict: suspicious or dangerous")
        ->check(CLI::IsMember({"suspicious", "dangerous"}));
    sub->add_option("-j,--jobs", args->jobs, "Files scanned in parallel")->check(CLI::Range(1u, 256u));
    sub->add_option("--max-depth", args->max_depth, "Nesting limit for containers and nested pickles")
        ->check(CLI::Range(0u, 1000u));
    sub->add_option("--max-bytes", args->max_bytes, "Bytes decompressed per file; beyond it content is reported as not scanned")->capture_default_str();
    sub->add_flag("-v,--verbose", args->verbose, "Also list informational notes");
    sub->add_flag("-q,--quiet", args->quiet, "No progress line on a terminal");
    return [args] { return run_scan(*args); };
});

}  // namespace
}  // namespace stkit::cli
