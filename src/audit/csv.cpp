// The audit as CSV tables (RFC 4180): repos.csv and files.csv streamed as repositories complete,
// summary.csv, monthly.csv and adoptions.csv at the end. Column meanings are in docs/audit.md.
#include <system_error>

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
                                            "commits", "first_model_commit", "safetensors_commit",
                                            "safetensors_date", "safetensors_author", "by_converter",
                                            "days_to_safetensors", "unsafe_removed_after", "error"})));
    STKIT_TRY_VOID(writer.files_.write(
        row({"repo", "path", "format", "verdict", "bytes", "sha256", "lfs_pointer"})));
    return writer;
}

result<void> audit_csv_writer::add(const audit_repo& repo) {
    std::string commits, first_model, commit, date, author, bot, days, removed;
    if (repo.history) {
        const audit_history& h = *repo.history;
        commits = number(h.commits);
        first_model = h.first_model_commit.value_or("");
        removed = flag(h.unsafe_removed_after);
        if (h.first_safetensors_commit) {
            commit = h.first_safetensors_commit->commit;
            date = h.first_safetensors_commit->date;
            author = h.first_safetensors_commit->author;
            bot = flag(h.first_safetensors_commit->by_converter);
        }
        if (h.days_to_safetensors) days = std::to_string(*h.days_to_safetensors);
    }
    STKIT_TRY_VOID(repos_.write(row({repo.repo, std::string(repo_status_name(repo.status)),
                                     flag(repo.unsafe_covered), flag(repo.git), repo.created.value_or(""),
                                     number(repo.files.size()), commits, first_model, commit, date, author,
                                     bot, days, removed, repo.failure.value_or("")})));
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
    add("adopted_repositories.converter", s.adopted_by_converter);
    add("adopted_repositories.developer", s.adopted_by_developer);
    add("adopting_commits.converter", s.converter_commits);
    add("adopting_commits.developer", s.developer_commits);
    STKIT_TRY_VOID(write_table(folder_ / "summary.csv", overwrite_, summary));

    std::string monthly = "month,repositories";
    for (std::size_t i = 0; i < format_family_count; ++i)
        monthly += "," + std::string(format_family_name(static_cast<format_family>(i)));
    monthly += "\r\n";
    for (const audit_month_row& m : s.by_creation_month) {
        monthly += csv_field(m.month) + "," + number(m.repositories);
        for (uint64_t count : m.families) monthly += "," + number(count);
        monthly += "\r\n";
    }
    STKIT_TRY_VOID(write_table(folder_ / "monthly.csv", overwrite_, monthly));

    std::string adoptions = row({"month", "converter", "developer"});
    for (const audit_adoption_row& a : s.adoptions_by_month)
        adoptions += row({a.month, number(a.converter), number(a.developer)});
    return write_table(folder_ / "adoptions.csv", overwrite_, adoptions);
}

}  // namespace stkit
