// The audit JSON document: written one repository per line as results arrive, read back (simdjson,
// depth-limited, no exceptions) for `stkit audit merge`, which re-emits it through the same writer
// so a merged document is byte-identical to the unsharded run's.
#include <cmath>
#include <nlohmann/json.hpp>

#include "audit/internal.hpp"
#include "stkit/audit/report.hpp"

namespace stkit {
namespace {

using ojson = nlohmann::ordered_json;

std::string dump(const ojson& value) {
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

template <class T>
ojson optional_value(const std::optional<T>& value) {
    return value ? ojson(*value) : ojson(nullptr);
}

ojson family_counts(const std::array<uint64_t, format_family_count>& counts) {
    ojson out = ojson::object();
    for (std::size_t i = 0; i < format_family_count; ++i)
        out[std::string(format_family_name(static_cast<format_family>(i)))] = counts[i];
    return out;
}

ojson adopter_counts(const audit_adopter_counts& counts) {
    ojson out = ojson::object();
    for (const auto& [key, adopter] : detail::audit_adopter_keys) out[std::string(key)] = counts[static_cast<std::size_t>(adopter)];
    return out;
}

ojson history_json(const audit_history& h) {
    ojson out = ojson::object();
    out["commits"] = h.commits;
    out["first_model_commit"] = optional_value(h.first_model_commit);
    out["first_model_date"] = optional_value(h.first_model_date);
    if (h.first_safetensors_commit) {
        const audit_commit_ref& c = *h.first_safetensors_commit;
        out["first_safetensors_commit"] =
            ojson{{"commit", c.commit},       {"date", c.date},
                  {"author", c.author},       {"by_converter", c.by_converter()},
                  {"adopted_by", audit_adopter_name(c.adopted_by)}, {"author_date", c.author_date}};
        // The tool that made the adopting commit: "stkit", "converter-bot", or null for a developer.
        out["first_safetensors_commit"]["converter"] =
            c.adopted_by == audit_adopter::developer ? ojson(nullptr) : ojson(audit_adopter_name(c.adopted_by));
    } else {
        out["first_safetensors_commit"] = nullptr;
    }
    out["days_to_safetensors"] = optional_value(h.days_to_safetensors);
    out["days_from_first_model"] = optional_value(h.days_from_first_model);
    out["unsafe_removed_after"] = h.unsafe_removed_after;
    out["safetensors_commits"] = ojson{
        {"converter", h.converter_commits}, {"developer", h.developer_commits}, {"stkit", h.stkit_commits}};
    if (!h.commit_files.empty()) {
        ojson rows = ojson::array();
        for (const audit_commit_files& c : h.commit_files)
            rows.push_back(ojson{{"commit", c.commit}, {"date", c.date}, {"files", c.files}});
        out["commit_files"] = std::move(rows);
    }
    return out;
}

}  // namespace

std::string audit_repo_to_json(const audit_repo& repo) {
    ojson out = ojson::object();
    out["repo"] = repo.repo;
    out["status"] = repo_status_name(repo.status);
    out["unsafe_covered"] = repo.unsafe_covered;
    out["git"] = repo.git;
    out["created"] = optional_value(repo.created);
    ojson files = ojson::array();
    for (const audit_file& f : repo.files)
        files.push_back(ojson{{"path", f.path},
                              {"format", f.format},
                              {"verdict", f.verdict},
                              {"bytes", f.bytes},
                              {"sha256", f.sha256.empty() ? ojson(nullptr) : ojson(f.sha256)},
                              {"lfs_pointer", f.lfs_pointer},
                              {"family", format_family_name(f.family)},
                              {"unsafe", f.unsafe}});
    out["files"] = std::move(files);
    out["history"] = repo.history ? history_json(*repo.history) : ojson(nullptr);
    out["error"] = optional_value(repo.failure);
    return dump(out);
}

std::string audit_summary_to_json(const audit_summary& s) {
    ojson out = ojson::object();
    out["repositories"] = s.repositories;
    out["model_files"] = s.model_files;
    out["lfs_pointers"] = s.lfs_pointers;
    out["errors"] = s.errors;
    ojson status = ojson::object();
    for (std::size_t i = 0; i < s.status.size(); ++i)
        status[std::string(repo_status_name(static_cast<repo_status>(i)))] = s.status[i];
    out["status"] = std::move(status);
    out["unsafe_covered"] = s.unsafe_covered;
    out["families"] = family_counts(s.families);
    out["commits"] = s.commits;
    out["adoption"] = ojson{{"repositories", adopter_counts(s.adopted)}, {"commits", adopter_counts(s.adopting_commits)}};
    ojson months = ojson::array();
    for (const audit_month_row& row : s.by_creation_month) {
        ojson share = ojson::object();
        for (std::size_t i = 0; i < format_family_count; ++i) {
            double ratio = row.repositories ? static_cast<double>(row.families[i]) / static_cast<double>(row.repositories) : 0.0;
            share[std::string(format_family_name(static_cast<format_family>(i)))] = std::round(ratio * 10000.0) / 10000.0;
        }
        months.push_back(ojson{{"month", row.month},
                               {"repositories", row.repositories},
                               {"families", family_counts(row.families)},
                               {"share", std::move(share)}});
    }
    out["by_creation_month"] = std::move(months);
    ojson adoptions = ojson::array();
    audit_adopter_counts running{};
    for (const audit_adoption_row& row : s.adoptions_by_month) {
        ojson entry{{"month", row.month}};
        entry.update(adopter_counts(row.adopters));
        for (const auto& [key, adopter] : detail::audit_adopter_keys) {
            auto i = static_cast<std::size_t>(adopter);
            running[i] += row.adopters[i];
            entry["cumulative_" + std::string(key)] = running[i];
        }
        adoptions.push_back(std::move(entry));
    }
    out["adoptions_by_month"] = std::move(adoptions);
    ojson days = ojson::array();
    for (const audit_days_row& row : s.adoption_days) {
        ojson entry{{"days", row.days}};
        entry.update(adopter_counts(row.adopters));
        days.push_back(std::move(entry));
    }
    out["adoption_days"] = std::move(days);
    return dump(out);
}

namespace {

std::string header_json(const audit_document_info& info) {
    ojson audit{{"format", "stkit-audit"}, {"version", 1}, {"history", info.history}};
    audit["shard"] = info.shard ? ojson(std::to_string(info.shard->index) + "/" + std::to_string(info.shard->count))
                                : ojson(nullptr);
    return "{\"audit\": " + dump(audit) + ",\n\"repos\": [";
}

}  // namespace

result<audit_json_writer> audit_json_writer::create(const std::filesystem::path& destination,
                                                    bool overwrite, audit_document_info info) {
    STKIT_TRY(output_file out, output_file::create(destination, overwrite));
    audit_json_writer writer;
    writer.out_ = std::move(out);
    STKIT_TRY_VOID(writer.out_.write(header_json(info)));
    return writer;
}

result<void> audit_json_writer::add(const audit_repo& repo) {
    STKIT_TRY_VOID(out_.write(first_ ? "\n" : ",\n"));
    first_ = false;
    return out_.write(audit_repo_to_json(repo));
}

result<void> audit_json_writer::finish(const audit_summary& summary) {
    STKIT_TRY_VOID(out_.write("\n],\n\"summary\": " + audit_summary_to_json(summary) + "}\n"));
    return out_.commit();
}

result<void> audit_write_json(const std::filesystem::path& destination, bool overwrite,
                              const audit_document& document) {
    STKIT_TRY(audit_json_writer writer, audit_json_writer::create(destination, overwrite, document.info));
    audit_summary_builder summary;
    for (const audit_repo& repo : document.repos) {
        STKIT_TRY_VOID(writer.add(repo));
        summary.add(repo);
    }
    return writer.finish(summary.finish());
}

}  // namespace stkit
