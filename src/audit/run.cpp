// The audit driver: repositories are audited by a pool of threads and handed to the sink strictly
// in repository order, so every output is the same whatever --jobs is. Workers do not run more than
// max_pending_repos ahead of the sink, which bounds the memory held by finished results.
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "stkit/audit/audit.hpp"

namespace stkit {

result<std::size_t> audit_run(const std::filesystem::path& root, const audit_options& options,
                              const audit_sink& sink, const audit_progress& progress) {
    STKIT_TRY(std::vector<std::string> all, discover_repositories(root));
    std::vector<std::string> repos;
    for (std::string& repo : all)
        if (!options.shard || audit_shard_contains(*options.shard, repo)) repos.push_back(std::move(repo));
    const std::size_t total = repos.size();
    if (progress) progress(0, total);

    std::mutex mutex;
    std::condition_variable changed;
    std::map<std::size_t, audit_repo> finished;
    std::size_t next_to_take = 0, next_to_emit = 0;
    bool stop = false;
    const std::size_t window = std::max<std::size_t>(options.max_pending_repos, 1);

    auto worker = [&] {
        for (;;) {
            std::size_t index;
            {
                std::unique_lock lock(mutex);
                changed.wait(lock, [&] { return stop || next_to_take >= total || next_to_take < next_to_emit + window; });
                if (stop || next_to_take >= total) return;
                index = next_to_take++;
            }
            audit_repo repo = audit_repository(root, repos[index], options);
            std::lock_guard lock(mutex);
            finished.emplace(index, std::move(repo));
            changed.notify_all();
        }
    };
    unsigned jobs = std::max(1u, options.jobs);
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < jobs; ++i) threads.emplace_back(worker);

    std::optional<error> failure;
    while (next_to_emit < total) {
        audit_repo repo;
        {
            std::unique_lock lock(mutex);
            changed.wait(lock, [&] { return finished.contains(next_to_emit); });
            auto node = finished.extract(next_to_emit);
            repo = std::move(node.mapped());
        }
        auto written = sink(repo);
        {
            std::lock_guard lock(mutex);
            ++next_to_emit;
            changed.notify_all();
        }
        if (!written.ok()) {
            failure = std::move(written).error();
            break;
        }
        if (progress) progress(next_to_emit, total);
    }
    {
        std::lock_guard lock(mutex);
        stop = true;
        changed.notify_all();
    }
    for (auto& thread : threads) thread.join();
    if (failure) return std::move(*failure);
    return total;
}

}  // namespace stkit
