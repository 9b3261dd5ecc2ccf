// The aggregates of an audit, accumulated one repository at a time (docs/audit.md, "summary").
#include <algorithm>

#include "stkit/audit/report.hpp"

namespace stkit {

void audit_summary_builder::add(const audit_repo& repo) {
    audit_summary& t = totals_;
    ++t.repositories;
    if (repo.failure) ++t.errors;
    ++t.status[static_cast<std::size_t>(repo.status)];
    std::array<bool, format_family_count> used{};
    bool has_unsafe = false;
    for (const audit_file& file : repo.files) {
        ++t.model_files;
        if (file.lfs_pointer) ++t.lfs_pointers;
        used[static_cast<std::size_t>(file.family)] = true;
        has_unsafe = has_unsafe || file.unsafe;
    }
    if (has_unsafe && repo.unsafe_covered) ++t.unsafe_covered;
    for (std::size_t i = 0; i < format_family_count; ++i) t.families[i] += used[i] ? 1 : 0;

    if (!repo.files.empty()) {
        std::string month = repo.created ? repo.created->substr(0, 7) : "unknown";
        audit_month_row& row = months_[month];
        row.month = month;
        ++row.repositories;
        for (std::size_t i = 0; i < format_family_count; ++i) row.families[i] += used[i] ? 1 : 0;
    }
    if (repo.history) {
        const audit_history& h = *repo.history;
        t.commits += h.commits;
        t.adopting_commits[static_cast<std::size_t>(audit_adopter::converter_bot)] += h.converter_commits;
        t.adopting_commits[static_cast<std::size_t>(audit_adopter::developer)] += h.developer_commits;
        t.adopting_commits[static_cast<std::size_t>(audit_adopter::stkit)] += h.stkit_commits;
        if (h.first_safetensors_commit) {
            auto by = static_cast<std::size_t>(h.first_safetensors_commit->adopted_by);
            ++t.adopted[by];
            std::string month = h.first_safetensors_commit->date.substr(0, 7);
            audit_adoption_row& row = adoptions_[month];
            row.month = month;
            ++row.adopters[by];
            if (h.days_from_first_model) ++days_[*h.days_from_first_model][by];
        }
    }
}

audit_summary audit_summary_builder::finish() const {
    audit_summary out = totals_;
    // std::map sorts "unknown" after every "YYYY-MM" (digits sort below letters).
    for (const auto& [month, row] : months_) out.by_creation_month.push_back(row);
    for (const auto& [month, row] : adoptions_) out.adoptions_by_month.push_back(row);
    for (const auto& [days, counts] : days_) out.adoption_days.push_back(audit_days_row{days, counts});
    return out;
}

}  // namespace stkit
