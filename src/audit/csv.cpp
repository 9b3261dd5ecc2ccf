// The audit as CSV tables (RFC 4180): repos.csv and files.csv streamed as repositories complete,
// summary.csv and one table per chart of the HTML report (its "CSV twin", from the same
// audit_figures) at the end. Column meanings are in docs/audit.md.
#include <system_error>

#include "audit/internal.hpp"
#include "stkit/audit/report.hpp"

namespace stkit {
namespace {

std::string row(std::initializer_list<std::string> fields) {
    std::string out;
    bool first = true;
    for (const std::string& f : fields) {
        if (!first) out += ',';
        first = false;
        out += csv_field(f);
    }
    return out + "\r\n";
}

std::string flag(bool value) { return value ? "true" : "false"; }
std::string number(uint64_t value) { return std::to_string(value); }

result<void> write_table(const std::filesystem::path& path, bool overwrite, const std::string& text) {
    STKIT_TRY(output_file out, output_file::create(path, overwrite));
    STKIT_TRY_VOID(out.write(text));
    return out.commit();
}

// The chart tables (defined at the end).
result<void> write_figures(const std::filesystem::path& folder, bool overwrite, const detail::audit_figures& f);

}  // namespace

std::string csv_field(std::string_view value) {
    if (value.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(value);
    std::string out = "\"";
    for (char c : value) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

result<audit_csv_writer> audit_csv_writer::create(const std::filesystem::path& folder, bool overwrite) {
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    if (ec) return make_error(error_code::io_open_failed, ec.message()).in_file(folder.string());
    audit_csv_writer writer;
    writer.folder_ = folder;
    writer.overwrite_ = overwrite;
    STKIT_TRY(writer.repos_, output_file::create(folder / "repos.csv", overwrite));
    STKIT_TRY(writer.files_, output_file::create(folder / "files.csv", overwrite));
    STKIT_TRY_VOID(writer.repos_.write(row({"repo", "status", "unsafe_covered", "git", "created", "model_files",
                                            "commits", "first_model_commit", "first_model_date",
                                            "safetensors_commit", "safetensors_date", "safetensors_author_date",
                                            "safetensors_author", "by_converter", "adopted_by",
                                            "days_to_safetensors", "days_from_first_model",
                                            "unsafe_removed_after", "error"})));
    STKIT_TRY_VOID(writer.files_.write(
        row({"repo", "path", "format", "verdict", "bytes", "sha256", "lfs_pointer"})));
    return writer;
}

result<void> audit_csv_writer::add(const audit_repo& repo) {
    std::string commits, first_model, first_model_date, commit, date, author_date, author, bot, by, days,
        model_days, removed;
    if (repo.history) {
        const audit_history& h = *repo.history;
        commits = number(h.commits);
        first_model = h.first_model_commit.value_or("");
        first_model_date = h.first_model_date.value_or("");
        removed = flag(h.unsafe_removed_after);
        if (const auto& c = h.first_safetensors_commit) {
            commit = c->commit;
            date = c->date;
            author_date = c->author_date;
            author = c->author;
            bot = flag(c->by_converter());
            by = audit_adopter_name(c->adopted_by);
        }
        if (h.days_to_safetensors) days = std::to_string(*h.days_to_safetensors);
        if (h.days_from_first_model) model_days = std::to_string(*h.days_from_first_model);
    }
    STKIT_TRY_VOID(repos_.write(row({repo.repo, std::string(repo_status_name(repo.status)),
                                     flag(repo.unsafe_covered), flag(repo.git), repo.created.value_or(""),
                                     number(repo.files.size()), commits, first_model, first_model_date, commit,
                                     date, author_date, author, bot, by, days, model_days, removed,
                                     repo.failure.value_or("")})));
    for (const audit_file& f : repo.files)
        STKIT_TRY_VOID(files_.write(row({repo.repo, f.path, f.format, f.verdict, number(f.bytes), f.sha256,
                                         flag(f.lfs_pointer)})));
    return {};
}

result<void> audit_csv_writer::finish(const audit_summary& s) {
    STKIT_TRY_VOID(repos_.commit());
    STKIT_TRY_VOID(files_.commit());

    std::string summary = row({"metric", "value"});
    auto add = [&](const std::string& name, uint64_t value) { summary += row({name, number(value)}); };
    add("repositories", s.repositories);
    add("model_files", s.model_files);
    add("lfs_pointers", s.lfs_pointers);
    add("errors", s.errors);
    for (std::size_t i = 0; i < s.status.size(); ++i)
        add("status." + std::string(repo_status_name(static_cast<repo_status>(i))), s.status[i]);
    add("unsafe_covered", s.unsafe_covered);
    for (std::size_t i = 0; i < format_family_count; ++i)
        add("family." + std::string(format_family_name(static_cast<format_family>(i))), s.families[i]);
    add("commits", s.commits);
    for (const auto& [key, adopter] : detail::audit_adopter_keys) {
        add("adopted_repositories." + std::string(key), s.adopted[static_cast<std::size_t>(adopter)]);
        add("adopting_commits." + std::string(key), s.adopting_commits[static_cast<std::size_t>(adopter)]);
    }
    STKIT_TRY_VOID(write_table(folder_ / "summary.csv", overwrite_, summary));
    return write_figures(folder_, overwrite_, detail::audit_figures_of(s));
}

namespace {

std::string adopter_header(std::string first) {
    for (const auto& [key, adopter] : detail::audit_adopter_keys) first += "," + std::string(key);
    return first + "\r\n";
}

std::string adopter_cells(const audit_adopter_counts& counts) {
    std::string out;
    for (const auto& [key, adopter] : detail::audit_adopter_keys) out += "," + number(counts[static_cast<std::size_t>(adopter)]);
    return out + "\r\n";
}

std::string family_table(std::string_view first, const std::vector<audit_month_row>& rows) {
    std::string out = std::string(first) + ",repositories";
    for (std::size_t i = 0; i < format_family_count; ++i)
        out += "," + std::string(format_family_name(static_cast<format_family>(i)));
    out += "\r\n";
    for (const audit_month_row& m : rows) {
        out += csv_field(m.month) + "," + number(m.repositories);
        for (uint64_t count : m.families) out += "," + number(count);
        out += "\r\n";
    }
    return out;
}

result<void> write_figures(const std::filesystem::path& folder_, bool overwrite_, const detail::audit_figures& f) {
    // (a) adoptions.csv: every month from the first adoption to the last.
    std::string adoptions = adopter_header("month");
    for (const audit_adoption_row& a : f.adoptions) adoptions += a.month + adopter_cells(a.adopters);
    STKIT_TRY_VOID(write_table(folder_ / "adoptions.csv", overwrite_, adoptions));
    // (b) adoption_heatmap.csv: year by month.
    std::string heatmap = "year,01,02,03,04,05,06,07,08,09,10,11,12\r\n";
    for (std::size_t y = 0; y < f.heatmap.size(); ++y) {
        heatmap += std::to_string(f.first_year + static_cast<int>(y));
        for (uint64_t n : f.heatmap[y]) heatmap += "," + number(n);
        heatmap += "\r\n";
    }
    STKIT_TRY_VOID(write_table(folder_ / "adoption_heatmap.csv", overwrite_, heatmap));
    // (c) monthly.csv and yearly.csv: repositories using each family, by creation month / year.
    STKIT_TRY_VOID(write_table(folder_ / "monthly.csv", overwrite_, family_table("month", f.share_by_month)));
    STKIT_TRY_VOID(write_table(folder_ / "yearly.csv", overwrite_, family_table("year", f.share_by_year)));
    // (d) days_to_safetensors.csv (the histogram's bins) and days_quartiles.csv.
    std::string days = adopter_header("days_from,days_to");
    for (const audit_days_row& b : f.days_bins)
        days += std::to_string(b.days) + "," + std::to_string(b.days + f.bin_days - 1) + adopter_cells(b.adopters);
    STKIT_TRY_VOID(write_table(folder_ / "days_to_safetensors.csv", overwrite_, days));
    std::string quartiles = row({"adopted_by", "repositories", "q1", "median", "q3"});
    for (std::size_t i = 0; i < f.days_quartiles.size(); ++i) {
        const detail::audit_quartiles& q = f.days_quartiles[i];
        std::string name = i < audit_adopter_count ? std::string(audit_adopter_name(static_cast<audit_adopter>(i))) : "all";
        quartiles += q.count ? row({name, number(q.count), std::to_string(q.q1), std::to_string(q.median), std::to_string(q.q3)})
                             : row({name, "0", "", "", ""});
    }
    STKIT_TRY_VOID(write_table(folder_ / "days_quartiles.csv", overwrite_, quartiles));
    // (e) status.csv.
    std::string status = row({"status", "repositories"});
    for (std::size_t i = 0; i < f.status.size(); ++i)
        status += row({std::string(repo_status_name(static_cast<repo_status>(i))), number(f.status[i])});
    return write_table(folder_ / "status.csv", overwrite_, status);
}

}  // namespace

}  // namespace stkit
