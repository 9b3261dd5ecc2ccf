// Sorting tensor indexes by name when the input is already made of a few sorted runs.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace stkit::detail {

// Sorts `order` by `less`, merging the ascending runs it already holds instead of sorting from
// scratch. Files in the reference layout list tensors by dtype, then by name, so in file order their
// names form one sorted run per dtype (and one per dtype per shard in a sharded model): merging
// costs about n comparisons per doubling of runs where std::sort costs n log n, and names that share
// long prefixes make each comparison expensive. Inputs with many runs fall back to std::sort.
template <class Less>
void sort_merging_runs(std::vector<uint32_t>& order, Less less) {
    constexpr std::size_t max_runs = 64;
    std::vector<std::size_t> bounds{0};
    for (std::size_t i = 1; i < order.size(); ++i) {
        if (!less(order[i], order[i - 1])) continue;
        if (bounds.size() == max_runs) {
            std::sort(order.begin(), order.end(), less);
            return;
        }
        bounds.push_back(i);
    }
    bounds.push_back(order.size());
    while (bounds.size() > 2) {  // more than one run: merge neighbours pairwise
        std::vector<std::size_t> merged{0};
        std::size_t k = 0;
        for (; k + 2 < bounds.size(); k += 2) {
            std::inplace_merge(order.begin() + static_cast<std::ptrdiff_t>(bounds[k]),
                               order.begin() + static_cast<std::ptrdiff_t>(bounds[k + 1]),
                               order.begin() + static_cast<std::ptrdiff_t>(bounds[k + 2]), less);
            merged.push_back(bounds[k + 2]);
        }
        if (k + 1 < bounds.size()) merged.push_back(bounds.back());  // an odd run waits a round
        bounds = std::move(merged);
    }
}

}  // namespace stkit::detail
