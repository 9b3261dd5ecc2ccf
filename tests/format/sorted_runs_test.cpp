// sort_merging_runs must give std::sort's order whatever runs its input holds.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "format/sorted_runs.hpp"

namespace {

// `count` names in `runs` ascending blocks (as the reference layout gives one block per dtype);
// drawn from 1,000 values, so many names repeat, within a block and across blocks.
std::vector<std::string> names_in_runs(std::size_t count, std::size_t runs, unsigned seed) {
    std::mt19937 random(seed);
    std::vector<std::string> names;
    for (std::size_t i = 0; i < count; ++i)
        names.push_back("model.layers." + std::to_string(random() % 1000) + ".weight");
    std::shuffle(names.begin(), names.end(), random);
    std::size_t per_run = (count + runs - 1) / runs;
    for (std::size_t begin = 0; begin < count; begin += per_run)
        std::sort(names.begin() + static_cast<std::ptrdiff_t>(begin),
                  names.begin() + static_cast<std::ptrdiff_t>(std::min(count, begin + per_run)));
    return names;
}

void expect_sorted_like_std_sort(std::size_t count, std::size_t runs, unsigned seed) {
    std::vector<std::string> names = names_in_runs(count, runs, seed);
    auto less = [&](uint32_t a, uint32_t b) { return names[a] < names[b]; };
    std::vector<uint32_t> merged(count), sorted(count);
    for (uint32_t i = 0; i < count; ++i) merged[i] = sorted[i] = i;
    stkit::detail::sort_merging_runs(merged, less);
    std::stable_sort(sorted.begin(), sorted.end(), less);
    ASSERT_EQ(merged.size(), count);
    for (std::size_t i = 0; i < count; ++i)
        ASSERT_EQ(names[merged[i]], names[sorted[i]]) << "count " << count << " runs " << runs << " at " << i;
    std::vector<uint32_t> permutation = merged;
    std::sort(permutation.begin(), permutation.end());
    for (uint32_t i = 0; i < count; ++i) ASSERT_EQ(permutation[i], i) << "an index was lost or repeated";
}

TEST(format_sorted_runs, matches_std_sort_for_any_number_of_runs) {
    for (std::size_t runs : {1u, 2u, 3u, 5u, 22u, 63u, 64u, 65u, 500u})
        for (unsigned seed = 1; seed <= 3; ++seed) expect_sorted_like_std_sort(2000, runs, seed);
}

TEST(format_sorted_runs, empty_and_single) {
    std::vector<uint32_t> none;
    stkit::detail::sort_merging_runs(none, [](uint32_t a, uint32_t b) { return a < b; });
    EXPECT_TRUE(none.empty());
    std::vector<uint32_t> one{7};
    stkit::detail::sort_merging_runs(one, [](uint32_t a, uint32_t b) { return a < b; });
    EXPECT_EQ(one, std::vector<uint32_t>{7});
}

TEST(format_sorted_runs, descending_input_is_fully_sorted) {
    std::vector<uint32_t> order(300);
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = 299 - i;
    stkit::detail::sort_merging_runs(order, [](uint32_t a, uint32_t b) { return a < b; });
    EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
}

}  // namespace
