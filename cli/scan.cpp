// `stkit scan PATH...`: detect every file's format by content and report code-execution payloads.
// Exit 0 when every file is safe, 1 when any is at or above --fail-on, 2 when a file could not be
// read (or on usage errors).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include <fmt/core.h>

#include "command.hpp"
#include "progress.hpp"
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

// Every regular file under the given paths, sorted per argument so output order is deterministic.
std::vector<std::filesystem::path> expand(const std::vector<std::string>& paths, std::vector<file_report>& missing) {
    std::vector<std::filesystem::path> files;
    for (const std::string& p : paths) {
        std::error_code ec;
        if (std::filesystem::is_directory(p, ec)) {
            std::vector<std::filesystem::path> found;
            for (auto it = std::filesystem::recursive_directory_iterator(
                     p, std::filesystem::directory_options::skip_permission_denied, ec);
                 !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
                if (it->is_regular_file(ec)) found.push_back(it->path());
            }
            std::sort(found.begin(), found.end());
            files.insert(files.end(), found.begin(), found.end());
        } else if (std::filesystem::exists(p, ec)) {
            files.emplace_back(p);
        } else {
            file_report r;
            r.path = p;
            r.overall = verdict::error;
            r.failure = make_error(error_code::io_open_failed, "no such file or folder", no_offset, p);
            missing.push_back(std::move(r));
        }
    }
    return files;
}

int run_scan(const scan_args& args) {
    std::vector<file_report> reports;
    std::vector<std::filesystem::path> files = expand(args.paths, reports);
    scan_options options;
    options.max_depth = args.max_depth;
    options.max_total_bytes = args.max_bytes;
    std::vector<file_report> scanned(files.size());
    std::atomic<std::size_t> next{0}, done{0};
    progress_line progress("files", progress_line::unit::items, args.quiet);
    auto worker = [&] {
        for (std::size_t i = next++; i < files.size(); i = next++) {
            scanned[i] = scan_path(files[i], options);
            progress.update(++done, files.size());
        }
    };
    unsigned jobs = std::max(1u, std::min<unsigned>(args.jobs, static_cast<unsigned>(std::max<std::size_t>(files.size(), 1))));
    std::vector<std::thread> threads;
    for (unsigned j = 1; j < jobs; ++j) threads.emplace_back(worker);
    worker();
    for (std::thread& t : threads) t.join();
    progress.finish();
    reports.insert(reports.end(), std::make_move_iterator(scanned.begin()), std::make_move_iterator(scanned.end()));

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
