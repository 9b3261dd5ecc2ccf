// The report's figures from a hand-made summary: months filled between the first and last
// adoption, the heatmap's years, shares by year with "unknown" last, the histogram's bin width and
// nearest-rank quartiles.
#include <gtest/gtest.h>

#include "audit/internal.hpp"

namespace stkit {
namespace {

constexpr auto bot = static_cast<std::size_t>(audit_adopter::converter_bot);
constexpr auto dev = static_cast<std::size_t>(audit_adopter::developer);

audit_adopter_counts counts(uint64_t by_bot, uint64_t by_dev) {
    audit_adopter_counts c{};
    c[bot] = by_bot;
    c[dev] = by_dev;
    return c;
}

TEST(AuditFigures, MonthsHeatmapAndYears) {
    audit_summary s;
    s.adoptions_by_month = {{"2021-11", counts(1, 0)}, {"2022-02", counts(2, 3)}};
    audit_month_row a{"2021-05", 2, {}}, b{"2021-09", 1, {}}, c{"unknown", 4, {}};
    a.families[0] = 2;
    b.families[0] = 1;
    b.families[1] = 1;
    s.by_creation_month = {a, b, c};
    detail::audit_figures f = detail::audit_figures_of(s);
    ASSERT_EQ(f.adoptions.size(), 4u);  // 2021-11, 2021-12, 2022-01, 2022-02
    EXPECT_EQ(f.adoptions[1].month, "2021-12");
    EXPECT_EQ(f.adoptions[1].adopters, counts(0, 0));
    EXPECT_EQ(f.adoptions[3].adopters, counts(2, 3));
    EXPECT_EQ(f.first_year, 2021);
    ASSERT_EQ(f.heatmap.size(), 2u);
    EXPECT_EQ(f.heatmap[0][10], 1u);
    EXPECT_EQ(f.heatmap[1][1], 5u);
    ASSERT_EQ(f.share_by_year.size(), 2u);
    EXPECT_EQ(f.share_by_year[0].month, "2021");
    EXPECT_EQ(f.share_by_year[0].repositories, 3u);
    EXPECT_EQ(f.share_by_year[0].families[0], 3u);
    EXPECT_EQ(f.share_by_year[1].month, "unknown");
}

TEST(AuditFigures, BinsAndNearestRankQuartiles) {
    audit_summary s;
    s.adoption_days = {{1, counts(0, 1)}, {2, counts(0, 1)}, {3, counts(0, 1)}, {4, counts(0, 1)}, {39, counts(1, 0)}};
    detail::audit_figures f = detail::audit_figures_of(s);
    EXPECT_EQ(f.bin_days, 1);  // 40 one-day bars: 0..39
    EXPECT_EQ(f.days_bins.size(), 40u);
    const detail::audit_quartiles& d = f.days_quartiles[dev];
    EXPECT_EQ(d.count, 4u);
    EXPECT_EQ(d.q1, 1);
    EXPECT_EQ(d.median, 2);  // of 1, 2, 3, 4: the smallest value with ceil(0.5 * 4) = 2 values at or below
    EXPECT_EQ(d.q3, 3);
    EXPECT_EQ(f.days_quartiles[bot].median, 39);
    EXPECT_EQ(f.days_quartiles[audit_adopter_count].count, 5u);
    EXPECT_EQ(f.days_quartiles[audit_adopter_count].median, 3);
    EXPECT_EQ(f.days_quartiles[static_cast<std::size_t>(audit_adopter::stkit)].count, 0u);

    s.adoption_days.push_back({40, counts(1, 0)});  // 41 one-day bars would be too many: weeks
    f = detail::audit_figures_of(s);
    EXPECT_EQ(f.bin_days, 7);
    ASSERT_EQ(f.days_bins.size(), 6u);
    EXPECT_EQ(f.days_bins[0].adopters, counts(0, 4));
    EXPECT_EQ(f.days_bins[5].days, 35);
    EXPECT_EQ(f.days_bins[5].adopters, counts(2, 0));
    EXPECT_TRUE(detail::audit_figures_of(audit_summary{}).days_bins.empty());
}

}  // namespace
}  // namespace stkit
