// sort_distinct_merging_runs must give std::sort's order whatever runs its input holds, and find a
// repeated entry whenever there is one.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "format/sorted_runs.hpp"

namespace {

// `count` names in `runs` ascending blocks (as the reference layout gives one block per dtype),
// drawn from `distinct_values` values: when that is below `count`, names repeat.
std::vector<std::string> names_in_runs(std::size_t count, std::size_t runs, std::size_t distinct_values, unsigned seed) {
    std::mt19937 random(seed);
    std::vector<std::string> names;
    for (std::size_t i = 0; names.size() < count; ++i) {
        std::size_t value = distinct_values >= count ? i : random() % distinct_values;
        names.push_back("model.layers." + std::to_string(value) + ".weight");
    }
    std::shuffle(names.begin(), names.end(), random);
    std::size_t per_run = (count + runs - 1) / runs;
    for (std::size_t begin = 0; begin < count; begin += per_run)
        std::sort(names.begin() + static_cast<std::ptrdiff_t>(begin),
                  names.begin() + static_cast<std::ptrdiff_t>(std::min(count, begin + per_run)));
    return names;
}

std::optional<std::pair<uint32_t, uint32_t>> sort_names(const std::vector<std::string>& names, std::vector<uint32_t>& order) {
    order.resize(names.size());
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    return stkit::detail::sort_distinct_merging_runs(order, [&](uint32_t a, uint32_t b) { return names[a].compare(names[b]); });
}

TEST(format_sorted_runs, distinct_names_sorted_like_std_sort_for_any_number_of_runs) {
    for (std::size_t runs : {1u, 2u, 3u, 5u, 22u, 63u, 64u, 65u, 500u})
        for (unsigned seed = 1; seed <= 3; ++seed) {
            std::vector<std::string> names = names_in_runs(2000, runs, 2000, seed);
            std::vector<uint32_t> order;
            ASSERT_FALSE(sort_names(names, order)) << "runs " << runs;
            std::vector<std::string> expected = names;
            std::sort(expected.begin(), expected.end());
            ASSERT_EQ(order.size(), names.size());
            for (std::size_t i = 0; i < order.size(); ++i)
                ASSERT_EQ(names[order[i]], expected[i]) << "runs " << runs << " seed " << seed << " at " << i;
        }
}

TEST(format_sorted_runs, a_repeat_is_found_within_a_run_across_runs_and_past_the_run_limit) {
    for (std::size_t runs : {1u, 2u, 3u, 64u, 65u, 500u})
        for (unsigned seed = 1; seed <= 3; ++seed) {
            std::vector<std::string> names = names_in_runs(2000, runs, 1000, seed);
            std::vector<uint32_t> order;
            auto repeated = sort_names(names, order);
            ASSERT_TRUE(repeated) << "runs " << runs;
            EXPECT_NE(repeated->first, repeated->second);
            EXPECT_EQ(names[repeated->first], names[repeated->second]);
        }
    // One repeat only, in the last of two runs' merge: the two entries meet only when merged.
    std::vector<std::string> names{"a", "c", "e", "b", "d", "e"};
    std::vector<uint32_t> order;
    auto repeated = sort_names(names, order);
    ASSERT_TRUE(repeated);
    EXPECT_EQ((std::pair<uint32_t, uint32_t>(std::minmax(repeated->first, repeated->second))), std::pair(2u, 5u));
}

TEST(format_sorted_runs, empty_single_and_descending) {
    std::vector<uint32_t> order;
    EXPECT_FALSE(sort_names({}, order));
    EXPECT_TRUE(order.empty());
    EXPECT_FALSE(sort_names({"x"}, order));
    EXPECT_EQ(order, std::vector<uint32_t>{0});
    std::vector<std::string> descending;
    for (int i = 299; i >= 0; --i) descending.push_back(std::string(3 - std::to_string(i).size(), '0') + std::to_string(i));
    EXPECT_FALSE(sort_names(descending, order));
    for (uint32_t i = 0; i < order.size(); ++i) ASSERT_EQ(order[i], 299 - i);
}

}  // namespace
