// Sorting tensor indexes by name, and finding a repeated name, when the input is already made of a
// few sorted runs.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace stkit::detail {

// Sorts `order` by the three-way `compare` (negative, zero or positive, as std::string_view's
// compare), merging the ascending runs it already holds instead of sorting from scratch, and stops
// at the first two entries found equal: they are returned (in no particular order) and `order` is
// then left in some permutation. std::nullopt when every entry is distinct and `order` is sorted.
//
// Files in the reference layout list tensors by dtype, then by name, so in file order their names
// form one sorted run per dtype (one per dtype per shard in a sharded model). Finding the runs,
// merging them and noticing equal neighbours as they meet all use the same comparisons: about n per
// doubling of runs, where std::sort then a pass for repeats costs n log n + n, and names that share
// long prefixes make each comparison expensive. Inputs with many runs fall back to std::sort.
template <class Compare>
std::optional<std::pair<uint32_t, uint32_t>> sort_distinct_merging_runs(std::vector<uint32_t>& order, Compare compare) {
    constexpr std::size_t max_runs = 64;
    std::vector<std::size_t> bounds{0};
    for (std::size_t i = 1; i < order.size(); ++i) {
        int order_of = compare(order[i - 1], order[i]);
        if (order_of == 0) return std::pair{order[i - 1], order[i]};
        if (order_of < 0) continue;
        if (bounds.size() == max_runs) {
            std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return compare(a, b) < 0; });
            for (std::size_t k = 1; k < order.size(); ++k)
                if (compare(order[k - 1], order[k]) == 0) return std::pair{order[k - 1], order[k]};
            return std::nullopt;
        }
        bounds.push_back(i);
    }
    bounds.push_back(order.size());
    std::vector<uint32_t> merged_order(bounds.size() > 2 ? order.size() : 0);
    while (bounds.size() > 2) {  // more than one run: merge neighbours pairwise into merged_order
        std::vector<std::size_t> merged_bounds{0};
        std::size_t k = 0;
        for (; k + 2 < bounds.size(); k += 2) {
            std::size_t left = bounds[k], right = bounds[k + 1], out = bounds[k];
            while (left < bounds[k + 1] && right < bounds[k + 2]) {
                int order_of = compare(order[left], order[right]);
                if (order_of == 0) return std::pair{order[left], order[right]};
                merged_order[out++] = order_of < 0 ? order[left++] : order[right++];
            }
            out = std::copy(order.begin() + static_cast<std::ptrdiff_t>(left),
                            order.begin() + static_cast<std::ptrdiff_t>(bounds[k + 1]), merged_order.begin() + static_cast<std::ptrdiff_t>(out)) -
                  merged_order.begin();
            std::copy(order.begin() + static_cast<std::ptrdiff_t>(right),
                      order.begin() + static_cast<std::ptrdiff_t>(bounds[k + 2]), merged_order.begin() + static_cast<std::ptrdiff_t>(out));
            merged_bounds.push_back(bounds[k + 2]);
        }
        if (k + 1 < bounds.size()) {  // an odd run waits a round
            std::copy(order.begin() + static_cast<std::ptrdiff_t>(bounds[k]), order.end(),
                      merged_order.begin() + static_cast<std::ptrdiff_t>(bounds[k]));
            merged_bounds.push_back(bounds.back());
        }
        order.swap(merged_order);
        bounds = std::move(merged_bounds);
    }
    return std::nullopt;
}

}  // namespace stkit::detail
