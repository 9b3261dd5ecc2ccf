// The numbers behind the report's charts, from the summary alone (so a merged or re-read document
// draws the same page). The HTML page and the CSV twins both print these, never their own sums.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>

#include "audit/internal.hpp"

namespace stkit::detail {
namespace {

// "YYYY-MM" -> months since year 0, or nullopt ("unknown", or a hand-edited document).
std::optional<int> month_index(std::string_view month) {
    int year = 0, m = 0;
    if (month.size() != 7 || month[4] != '-') return std::nullopt;
    auto y = std::from_chars(month.data(), month.data() + 4, year);
    auto mm = std::from_chars(month.data() + 5, month.data() + 7, m);
    if (y.ec != std::errc{} || mm.ec != std::errc{} || m < 1 || m > 12) return std::nullopt;
    return year * 12 + (m - 1);
}

std::string month_name(int index) {
    char text[16];
    std::snprintf(text, sizeof text, "%04d-%02d", index / 12, index % 12 + 1);
    return text;
}

// A bin width that keeps the histogram under 40 bars: days, weeks, fortnights, months...
int64_t bin_width_for(int64_t max_days) {
    for (int64_t width : {1, 7, 14, 30, 61, 91, 182, 365})
        if (max_days / width < 40) return width;
    return (max_days / 40 / 365 + 1) * 365;
}

audit_quartiles quartiles_of(const std::vector<std::pair<int64_t, uint64_t>>& counts) {
    audit_quartiles q;
    for (const auto& [days, n] : counts) q.count += n;
    if (q.count == 0) return q;
    auto at = [&](uint64_t numerator) {  // the value of rank ceil(numerator / 4 * count), at least 1
        uint64_t rank = std::max<uint64_t>(1, (numerator * q.count + 3) / 4), seen = 0;
        for (const auto& [days, n] : counts)
            if ((seen += n) >= rank) return days;
        return counts.back().first;
    };
    q.q1 = at(1);
    q.median = at(2);
    q.q3 = at(3);
    return q;
}

}  // namespace

audit_figures audit_figures_of(const audit_summary& s) {
    audit_figures f;
    f.status = s.status;

    std::map<int, audit_adopter_counts> months;
    for (const audit_adoption_row& row : s.adoptions_by_month)
        if (auto index = month_index(row.month))
            for (std::size_t a = 0; a < audit_adopter_count; ++a) months[*index][a] += row.adopters[a];
    if (!months.empty()) {
        int first = months.begin()->first, last = months.rbegin()->first;
        for (int m = first; m <= last; ++m) {
            auto found = months.find(m);
            f.adoptions.push_back({month_name(m), found == months.end() ? audit_adopter_counts{} : found->second});
        }
        f.first_year = first / 12;
        f.heatmap.resize(static_cast<std::size_t>(last / 12 - first / 12 + 1));
        for (const auto& [m, counts] : months)
            for (uint64_t n : counts) f.heatmap[static_cast<std::size_t>(m / 12 - f.first_year)][m % 12] += n;
    }

    f.share_by_month = s.by_creation_month;
    std::map<std::string, audit_month_row> years;  // "unknown" sorts after the digits
    for (const audit_month_row& row : s.by_creation_month) {
        std::string year = month_index(row.month) ? row.month.substr(0, 4) : "unknown";
        audit_month_row& y = years[year];
        y.month = year;
        y.repositories += row.repositories;
        for (std::size_t i = 0; i < format_family_count; ++i) y.families[i] += row.families[i];
    }
    for (auto& [year, row] : years) f.share_by_year.push_back(std::move(row));

    std::array<std::vector<std::pair<int64_t, uint64_t>>, audit_adopter_count + 1> per;
    int64_t max_days = 0;
    for (const audit_days_row& row : s.adoption_days) {
        uint64_t all = 0;
        for (std::size_t a = 0; a < audit_adopter_count; ++a) {
            if (row.adopters[a]) per[a].emplace_back(row.days, row.adopters[a]);
            all += row.adopters[a];
        }
        if (all) per[audit_adopter_count].emplace_back(row.days, all);
        max_days = std::max(max_days, row.days);
    }
    for (std::size_t a = 0; a <= audit_adopter_count; ++a) f.days_quartiles[a] = quartiles_of(per[a]);
    f.bin_days = bin_width_for(max_days);
    if (!s.adoption_days.empty()) {
        // Days are never negative (the adoption is itself a model commit); clamp hand-edited input.
        f.days_bins.resize(static_cast<std::size_t>(max_days / f.bin_days + 1));
        for (std::size_t b = 0; b < f.days_bins.size(); ++b) f.days_bins[b].days = static_cast<int64_t>(b) * f.bin_days;
        for (const audit_days_row& row : s.adoption_days) {
            auto& bin = f.days_bins[static_cast<std::size_t>(std::max<int64_t>(row.days, 0) / f.bin_days)];
            for (std::size_t a = 0; a < audit_adopter_count; ++a) bin.adopters[a] += row.adopters[a];
        }
    }
    return f;
}

}  // namespace stkit::detail
