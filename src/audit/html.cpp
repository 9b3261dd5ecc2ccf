// The audit as one self-contained HTML page: inline CSS and SVG drawn here, no script, no network.
// Charts: format share by creation month (100% stacked bars of format uses; each segment's tooltip
// gives the share of repositories) and cumulative safetensors adoptions, converter vs developers.
#include <algorithm>
#include <fmt/core.h>

#include "stkit/audit/report.hpp"

namespace stkit {
namespace {

// One colour per family, in format_family order; tests look for these in the rendered page.
constexpr std::array<std::string_view, format_family_count> family_colours = {
    "#2ca02c", "#d62728", "#ff7f0e", "#9467bd", "#1f77b4", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"};
constexpr std::string_view converter_colour = "#0b3d91";
constexpr std::string_view developer_colour = "#c71585";

std::string escape(std::string_view text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default: out += c;
        }
    }
    return out;
}

constexpr double chart_w = 1000, chart_h = 300, left = 50, top = 20, plot_w = 920, plot_h = 240;

std::string axis_frame(std::string_view y_label) {
    return fmt::format(
        "<line x1='{0}' y1='{1}' x2='{0}' y2='{2}' stroke='#333'/><line x1='{0}' y1='{2}' x2='{3}' "
        "y2='{2}' stroke='#333'/><text x='4' y='{1}' font-size='11'>{4}</text>",
        left, top, top + plot_h, left + plot_w, escape(y_label));
}

std::string legend(const std::vector<std::pair<std::string, std::string_view>>& items) {
    std::string out = "<p class='legend'>";
    for (const auto& [name, colour] : items)
        out += fmt::format("<span><i style='background:{}'></i>{}</span>", colour, escape(name));
    return out + "</p>";
}

std::string share_chart(const audit_summary& s) {
    std::string svg = fmt::format("<svg id='share' width='{}' height='{}' xmlns='http://www.w3.org/2000/svg'>",
                                  chart_w, chart_h);
    svg += axis_frame("100%");
    std::size_t n = s.by_creation_month.size();
    double slot = n ? plot_w / static_cast<double>(n) : plot_w;
    double bar = std::max(2.0, slot * 0.7);
    for (std::size_t m = 0; m < n; ++m) {
        const audit_month_row& row = s.by_creation_month[m];
        uint64_t uses = 0;
        for (uint64_t c : row.families) uses += c;
        double x = left + slot * static_cast<double>(m) + (slot - bar) / 2, y = top + plot_h;
        for (std::size_t f = 0; f < format_family_count && uses; ++f) {
            if (!row.families[f]) continue;
            double h = plot_h * static_cast<double>(row.families[f]) / static_cast<double>(uses);
            y -= h;
            svg += fmt::format(
                "<rect x='{:.1f}' y='{:.1f}' width='{:.1f}' height='{:.1f}' fill='{}'><title>{} {}: {} of {} "
                "repositories</title></rect>",
                x, y, bar, h, family_colours[f], escape(row.month),
                format_family_name(static_cast<format_family>(f)), row.families[f], row.repositories);
        }
        svg += fmt::format("<text x='{:.1f}' y='{}' font-size='10' text-anchor='middle'>{}</text>", x + bar / 2,
                           top + plot_h + 14, escape(row.month));
    }
    return svg + "</svg>";
}

std::string adoption_chart(const audit_summary& s) {
    std::string svg = fmt::format("<svg id='adoption' width='{}' height='{}' xmlns='http://www.w3.org/2000/svg'>",
                                  chart_w, chart_h);
    uint64_t converter = 0, developer = 0;
    std::vector<std::pair<uint64_t, uint64_t>> points;
    for (const audit_adoption_row& row : s.adoptions_by_month) {
        converter += row.converter;
        developer += row.developer;
        points.emplace_back(converter, developer);
    }
    uint64_t peak = std::max<uint64_t>({converter, developer, 1});
    svg += axis_frame(std::to_string(peak));
    std::size_t n = points.size();
    auto x_of = [&](std::size_t i) { return n <= 1 ? left + plot_w / 2 : left + plot_w * static_cast<double>(i) / static_cast<double>(n - 1); };
    auto y_of = [&](uint64_t v) { return top + plot_h - plot_h * static_cast<double>(v) / static_cast<double>(peak); };
    for (int series = 0; series < 2; ++series) {
        std::string line;
        for (std::size_t i = 0; i < n; ++i) {
            uint64_t v = series == 0 ? points[i].first : points[i].second;
            line += fmt::format("{:.1f},{:.1f} ", x_of(i), y_of(v));
        }
        std::string_view colour = series == 0 ? converter_colour : developer_colour;
        // A single month is still drawn as a short segment so it is visible.
        if (n == 1) line += fmt::format("{:.1f},{:.1f}", x_of(0) + 40, y_of(series == 0 ? points[0].first : points[0].second));
        svg += fmt::format("<polyline fill='none' stroke='{}' stroke-width='4' points='{}'/>", colour, line);
    }
    for (std::size_t i = 0; i < n; ++i)
        svg += fmt::format("<text x='{:.1f}' y='{}' font-size='10' text-anchor='middle'>{}</text>", x_of(i),
                           top + plot_h + 14, escape(s.adoptions_by_month[i].month));
    return svg + "</svg>";
}

}  // namespace

void audit_html_writer::add(const audit_repo& repo) {
    ++total_;
    if (rows_.size() >= max_rows_) return;
    row r{repo.repo, std::string(repo_status_name(repo.status)), repo.created.value_or("unknown"), "", repo.files.size()};
    if (repo.history && repo.history->first_safetensors_commit) {
        const audit_commit_ref& c = *repo.history->first_safetensors_commit;
        r.adoption = c.date.substr(0, 10) + (c.by_converter ? " (converter)" : " (developer)");
    }
    rows_.push_back(std::move(r));
}

std::string audit_html_writer::render(const audit_summary& s) const {
    std::string page =
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>stkit audit</title><style>"
        "body{font-family:sans-serif;margin:20px;color:#222}table{border-collapse:collapse;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:2px 6px}.legend span{margin-right:14px;font-size:12px}"
        ".legend i{display:inline-block;width:12px;height:12px;margin-right:4px}"
        ".safe{color:#2a7d2a}.unsafe{color:#b00}.mixed{color:#b06000}</style></head><body>";
    page += fmt::format(
        "<h1>Safetensors adoption audit</h1><p>{} repositories, {} model files: {} safe, {} mixed, {} unsafe, "
        "{} without models. Adopted safetensors: {} by the converter, {} by developers.</p>",
        s.repositories, s.model_files, s.status[0], s.status[1], s.status[2], s.status[3], s.adopted_by_converter,
        s.adopted_by_developer);
    page += "<h2>Format share by repository creation month</h2>";
    std::vector<std::pair<std::string, std::string_view>> families;
    for (std::size_t f = 0; f < format_family_count; ++f)
        families.emplace_back(std::string(format_family_name(static_cast<format_family>(f))), family_colours[f]);
    page += legend(families) + share_chart(s);
    page += "<h2>Cumulative safetensors adoptions</h2>";
    page += legend({{"converter bot", converter_colour}, {"developers", developer_colour}}) + adoption_chart(s);
    page += "<h2>Repositories</h2><table><tr><th>repository</th><th>status</th><th>model files</th>"
            "<th>created</th><th>safetensors adopted</th></tr>";
    for (const row& r : rows_)
        page += fmt::format("<tr><td>{}</td><td class='{}'>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                            escape(r.repo), escape(r.status), escape(r.status), r.files, escape(r.created),
                            escape(r.adoption));
    page += "</table>";
    if (total_ > rows_.size()) page += fmt::format("<p>… and {} more (see the JSON or CSV output).</p>", total_ - rows_.size());
    return page + "</body></html>\n";
}

result<void> audit_html_writer::write(const std::filesystem::path& destination, bool overwrite,
                                      const audit_summary& summary) const {
    STKIT_TRY(output_file out, output_file::create(destination, overwrite));
    STKIT_TRY_VOID(out.write(render(summary)));
    return out.commit();
}

}  // namespace stkit
