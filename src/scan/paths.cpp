// See stkit/scan/paths.hpp.
#include "stkit/scan/paths.hpp"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <system_error>
#include <thread>

namespace stkit {
namespace {

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

}  // namespace

std::vector<file_report> scan_paths(const std::vector<std::string>& paths, const scan_options& options,
                                    unsigned jobs, const scan_paths_progress& progress) {
    std::vector<file_report> reports;
    std::vector<std::filesystem::path> files = expand(paths, reports);
    std::vector<file_report> scanned(files.size());
    std::atomic<std::size_t> next{0}, done{0};
    auto worker = [&] {
        for (std::size_t i = next++; i < files.size(); i = next++) {
            scanned[i] = scan_path(files[i], options);
            const std::size_t finished = ++done;
            if (progress) progress(finished, files.size());
        }
    };
    jobs = std::max(1u, std::min<unsigned>(jobs, static_cast<unsigned>(std::max<std::size_t>(files.size(), 1))));
    std::vector<std::thread> threads;
    for (unsigned j = 1; j < jobs; ++j) {
        // The library never throws: without another thread, the ones already started do the work.
        try {
            threads.emplace_back(worker);
        } catch (const std::system_error&) {
            break;
        }
    }
    worker();
    for (std::thread& t : threads) t.join();
    reports.insert(reports.end(), std::make_move_iterator(scanned.begin()), std::make_move_iterator(scanned.end()));
    return reports;
}

}  // namespace stkit
