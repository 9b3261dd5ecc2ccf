// The audit as one self-contained HTML page: inline CSS and SVG drawn here, no script, no network.
// Every chart is drawn from audit_figures_of(summary) (the numbers its CSV twin prints), aggregated
// by month, year, bin or status, so the page's size does not grow with the number of repositories.
#include <algorithm>
#include <cmath>
#include <functional>
#include <fmt/core.h>

#include "audit/internal.hpp"
#include "stkit/audit/report.hpp"

namespace stkit {
namespace {

// One colour per family, in format_family order, and per adopter in audit_adopter order; tests look
// for these in the rendered page.
constexpr std::array<std::string_view, format_family_count> family_colours = {
    "#2ca02c", "#d62728", "#ff7f0e", "#9467bd", "#1f77b4", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"};
constexpr std::array<std::string_view, audit_adopter_count> adopter_colours = {"#c71585", "#0b3d91", "#e6a000"};
constexpr std::array<std::string_view, audit_adopter_count> adopter_labels = {"developers", "converter bot",
                                                                               "stkit convert"};
constexpr std::array<std::string_view, 4> status_colours = {"#2a7d2a", "#e08a00", "#b00000", "#9e9e9e"};

std::string escape(std::string_view text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

// The plot area inside every chart; labels go in the margins.
constexpr double chart_w = 1000, chart_h = 292, left = 70, top = 16, plot_w = 900, plot_h = 230;
// At most this many x labels (about 60 px each), so 100+ months stay readable.
constexpr std::size_t max_x_labels = 15;

std::string open_svg(std::string_view id, double height = chart_h) {
    return fmt::format("<svg id='{}' class='chart' width='{}' height='{}' viewBox='0 0 {} {}' "
                       "xmlns='http://www.w3.org/2000/svg' font-family='sans-serif'>",
                       id, chart_w, height, chart_w, height);
}

std::string number_text(double value) {
    return std::fabs(value - std::round(value)) < 1e-9 ? fmt::format("{}", static_cast<int64_t>(std::round(value)))
                                                       : fmt::format("{:.1f}", value);
}

// Axes with three y ticks (0, half, max) and the axis titles.
std::string axes(std::string_view x_title, std::string_view y_title, double y_max, std::string_view unit) {
    std::string out = fmt::format(
        "<line x1='{0}' y1='{1}' x2='{0}' y2='{2}' stroke='#333'/><line x1='{0}' y1='{2}' x2='{3}' y2='{2}' "
        "stroke='#333'/>",
        left, top, top + plot_h, left + plot_w);
    for (double f : {0.0, 0.5, 1.0}) {
        double y = top + plot_h - plot_h * f;
        out += fmt::format("<line x1='{}' y1='{:.1f}' x2='{}' y2='{:.1f}' stroke='#ddd'/>", left + 1, y, left + plot_w, y);
        out += fmt::format("<text x='{}' y='{:.1f}' font-size='11' text-anchor='end'>{}{}</text>", left - 4, y + 4,
                           number_text(y_max * f), unit);
    }
    out += fmt::format("<text x='{}' y='{}' font-size='12' text-anchor='middle'>{}</text>", left + plot_w / 2,
                       chart_h - 8, escape(x_title));
    out += fmt::format("<text x='14' y='{}' font-size='12' text-anchor='middle' transform='rotate(-90 14 {})'>{}</text>",
                       top + plot_h / 2, top + plot_h / 2, escape(y_title));
    return out;
}

// Every step-th label under its slot, so labels never overlap whatever the number of slots.
std::string x_labels(const std::vector<std::string>& labels) {
    std::size_t n = labels.size(), step = std::max<std::size_t>(1, (n + max_x_labels - 1) / max_x_labels);
    double slot = n ? plot_w / static_cast<double>(n) : plot_w;
    std::string out;
    for (std::size_t i = 0; i < n; i += step)
        out += fmt::format("<text x='{:.1f}' y='{}' font-size='11' text-anchor='middle'>{}</text>",
                           left + slot * (static_cast<double>(i) + 0.5), top + plot_h + 16, escape(labels[i]));
    return out;
}

struct series {
    std::string name;
    std::string_view colour;
};

std::string legend(const std::vector<series>& items, std::string_view extra = {}) {
    std::string out = "<p class='legend'>";
    for (const auto& [name, colour] : items)
        out += fmt::format("<span><i style='background:{}'></i>{}</span>", colour, escape(name));
    return out + std::string(extra) + "</p>";
}

struct bar_chart {
    std::string id, x_title, y_title;
    std::vector<std::string> labels;            // one per bar
    std::vector<std::vector<uint64_t>> values;  // [bar][series]
    std::vector<series> parts;
    bool percent = false;                       // each bar scaled to 100% of its total
    std::function<std::string(std::size_t bar, std::size_t part)> title;
};

// Stacked bars; `extra` (markers) is drawn over them.
std::string stacked_bars(const bar_chart& c, const std::string& extra = {}) {
    std::size_t n = c.labels.size();
    uint64_t peak = 1;
    for (const auto& bar : c.values) {
        uint64_t total = 0;
        for (uint64_t v : bar) total += v;
        peak = std::max(peak, total);
    }
    std::string svg = open_svg(c.id) + axes(c.x_title, c.y_title, c.percent ? 100.0 : static_cast<double>(peak),
                                            c.percent ? "%" : "");
    double slot = n ? plot_w / static_cast<double>(n) : plot_w;
    double width = std::max(1.0, slot * 0.8);
    for (std::size_t b = 0; b < n; ++b) {
        uint64_t total = 0;
        for (uint64_t v : c.values[b]) total += v;
        double scale = c.percent ? (total ? plot_h / static_cast<double>(total) : 0) : plot_h / static_cast<double>(peak);
        double x = left + slot * static_cast<double>(b) + (slot - width) / 2, y = top + plot_h;
        for (std::size_t p = 0; p < c.parts.size(); ++p) {
            uint64_t v = c.values[b][p];
            if (!v) continue;
            double h = scale * static_cast<double>(v);
            y -= h;
            svg += fmt::format("<rect x='{:.2f}' y='{:.2f}' width='{:.2f}' height='{:.2f}' fill='{}'><title>{}</title></rect>",
                               x, y, width, h, c.parts[p].colour, escape(c.title(b, p)));
        }
    }
    return svg + x_labels(c.labels) + extra + "</svg>";
}

// Drawn in place of an adoption chart that has nothing to draw, so an empty frame is never taken for
// a chart of zero: why it is empty, and how to fill it when the audit read no history.
std::string no_adoptions(std::string_view id, bool history_read) {
    std::string_view why = history_read
                               ? "No adoptions in this audit: no repository's git history adds a safetensors file."
                               : "No adoptions in this audit: it read no git history. Run stkit audit with "
                                 "--history on git repositories to chart when each one adopted safetensors.";
    return fmt::format("<p class='empty' id='{}-empty'>{}</p>", id, escape(why));
}

std::string adoption_bars(const detail::audit_figures& f, bool history_read) {
    if (f.adoptions.empty()) return no_adoptions("adoptions", history_read);
    bar_chart c{"adoptions", "month of the adoption commit (committer date, UTC)", "repositories adopting", {}, {}, {}, false, {}};
    for (const audit_adoption_row& row : f.adoptions) {
        c.labels.push_back(row.month);
        c.values.emplace_back(row.adopters.begin(), row.adopters.end());
    }
    for (std::size_t a = 0; a < audit_adopter_count; ++a) c.parts.push_back({std::string(adopter_labels[a]), adopter_colours[a]});
    c.title = [&](std::size_t b, std::size_t p) {
        return fmt::format("{}: {} by {}", f.adoptions[b].month, f.adoptions[b].adopters[p], adopter_labels[p]);
    };
    return legend(c.parts) + stacked_bars(c);
}

std::string heatmap(const detail::audit_figures& f, bool history_read) {
    if (f.heatmap.empty()) return no_adoptions("heatmap", history_read);
    uint64_t peak = 1;
    for (const auto& year : f.heatmap)
        for (uint64_t n : year) peak = std::max(peak, n);
    double cell_h = 22, height = top + cell_h * static_cast<double>(f.heatmap.size()) + 56, cell_w = plot_w / 12;
    std::string svg = open_svg("heatmap", height);
    static constexpr std::array<std::string_view, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (std::size_t y = 0; y < f.heatmap.size(); ++y) {
        int year = f.first_year + static_cast<int>(y);
        double cy = top + cell_h * static_cast<double>(y);
        svg += fmt::format("<text x='{}' y='{:.1f}' font-size='11' text-anchor='end'>{}</text>", left - 6, cy + 15, year);
        for (std::size_t m = 0; m < 12; ++m) {
            uint64_t n = f.heatmap[y][m];
            // White to the converter's blue, by the cell's share of the busiest month.
            double t = static_cast<double>(n) / static_cast<double>(peak);
            auto mix = [&](int from, int to) { return static_cast<int>(std::lround(from + (to - from) * t)); };
            std::string fill = n ? fmt::format("#{:02x}{:02x}{:02x}", mix(0xdd, 0x0b), mix(0xe6, 0x3d), mix(0xf7, 0x91))
                                 : std::string("#f5f5f5");
            svg += fmt::format("<rect x='{:.1f}' y='{:.1f}' width='{:.1f}' height='{}' fill='{}' stroke='#fff'><title>{}-{:02d}: {} adoptions</title></rect>",
                               left + cell_w * static_cast<double>(m), cy, cell_w, cell_h, fill, year, m + 1, n);
            if (n)
                svg += fmt::format("<text x='{:.1f}' y='{:.1f}' font-size='10' text-anchor='middle' fill='{}'>{}</text>",
                                   left + cell_w * (static_cast<double>(m) + 0.5), cy + 15, t > 0.5 ? "#fff" : "#222", n);
        }
    }
    double below = top + cell_h * static_cast<double>(f.heatmap.size());
    for (std::size_t m = 0; m < 12; ++m)
        svg += fmt::format("<text x='{:.1f}' y='{:.1f}' font-size='11' text-anchor='middle'>{}</text>",
                           left + cell_w * (static_cast<double>(m) + 0.5), below + 16, months[m]);
    svg += fmt::format("<text x='{}' y='{:.1f}' font-size='12' text-anchor='middle'>month of the adoption commit "
                       "(committer date, UTC); rows are years</text>", left + plot_w / 2, below + 40);
    return legend({{"no adoption", "#f5f5f5"}, {"few", "#dde6f7"}, {fmt::format("{} (busiest month)", peak), "#0b3d91"}}) +
           svg + "</svg>";
}

std::string share_bars(std::string_view id, std::string_view x_title, const std::vector<audit_month_row>& rows) {
    bar_chart c{std::string(id), std::string(x_title), "share of format uses", {}, {}, {}, true, {}};
    for (const audit_month_row& row : rows) {
        c.labels.push_back(row.month);
        c.values.emplace_back(row.families.begin(), row.families.end());
    }
    for (std::size_t f = 0; f < format_family_count; ++f)
        c.parts.push_back({std::string(format_family_name(static_cast<format_family>(f))), family_colours[f]});
    c.title = [&](std::size_t b, std::size_t p) {
        return fmt::format("{} {}: {} of {} repositories", rows[b].month, c.parts[p].name, rows[b].families[p],
                           rows[b].repositories);
    };
    return stacked_bars(c);
}

std::string days_histogram(const detail::audit_figures& f, bool history_read) {
    if (f.days_bins.empty()) return no_adoptions("days", history_read);
    bar_chart c{"days", fmt::format("days from the first model commit to the adoption ({}-day bins)", f.bin_days),
                "repositories", {}, {}, {}, false, {}};
    for (const audit_days_row& bin : f.days_bins) {
        c.labels.push_back(f.bin_days == 1 ? std::to_string(bin.days) : fmt::format("{}–{}", bin.days, bin.days + f.bin_days - 1));
        c.values.emplace_back(bin.adopters.begin(), bin.adopters.end());
    }
    for (std::size_t a = 0; a < audit_adopter_count; ++a) c.parts.push_back({std::string(adopter_labels[a]), adopter_colours[a]});
    c.title = [&](std::size_t b, std::size_t p) {
        return fmt::format("{} days: {} by {}", c.labels[b], f.days_bins[b].adopters[p], adopter_labels[p]);
    };
    // Median (solid) and quartiles (dashed) of each adopter, at their place on the day axis.
    std::string markers;
    double span = static_cast<double>(std::max<std::size_t>(f.days_bins.size(), 1)) * static_cast<double>(f.bin_days);
    auto x_of = [&](int64_t days) { return left + plot_w * (static_cast<double>(days) + 0.5) / span; };
    std::string notes;
    for (std::size_t a = 0; a < audit_adopter_count; ++a) {
        const detail::audit_quartiles& q = f.days_quartiles[a];
        if (!q.count) continue;
        std::string text = fmt::format("{}: median {} days, quartiles {} and {} ({} repositories)", adopter_labels[a],
                                       q.median, q.q1, q.q3, q.count);
        for (auto [value, dash] : {std::pair{q.q1, "4 3"}, std::pair{q.median, ""}, std::pair{q.q3, "4 3"}})
            markers += fmt::format("<line x1='{0:.2f}' y1='{1}' x2='{0:.2f}' y2='{2}' stroke='{3}' stroke-width='2' "
                                   "stroke-dasharray='{4}'><title>{5}</title></line>",
                                   x_of(value), top, top + plot_h, adopter_colours[a], dash, escape(text));
        notes += "<li>" + escape(text) + "</li>";
    }
    return legend(c.parts, "<span>solid line: median; dashed: quartiles</span>") + stacked_bars(c, markers) +
           "<ul class='notes'>" + notes + "</ul>";
}

std::string status_bar(const detail::audit_figures& f) {
    uint64_t total = 0;
    for (uint64_t n : f.status) total += n;
    double height = 90;
    std::string svg = open_svg("status", height);
    double x = left;
    std::vector<series> items;
    for (std::size_t i = 0; i < f.status.size(); ++i) {
        std::string name(repo_status_name(static_cast<repo_status>(i)));
        items.push_back({fmt::format("{} ({})", name, f.status[i]), status_colours[i]});
        if (!f.status[i]) continue;
        double w = plot_w * static_cast<double>(f.status[i]) / static_cast<double>(total);
        double percent = 100.0 * static_cast<double>(f.status[i]) / static_cast<double>(total);
        svg += fmt::format("<rect x='{:.2f}' y='10' width='{:.2f}' height='36' fill='{}'><title>{}: {} of {} "
                           "repositories ({:.1f}%)</title></rect>", x, w, status_colours[i], name, f.status[i], total, percent);
        if (w > 60)
            svg += fmt::format("<text x='{:.1f}' y='33' font-size='12' text-anchor='middle' fill='#fff'>{:.1f}%</text>",
                               x + w / 2, percent);
        x += w;
    }
    svg += fmt::format("<text x='{}' y='72' font-size='12' text-anchor='middle'>share of the {} repositories, by "
                       "status of their model files on disk</text>", left + plot_w / 2, total);
    return legend(items) + svg + "</svg>";
}

int rank_of(const audit_repo& repo) {
    switch (repo.status) {
        case repo_status::unsafe: return 0;
        case repo_status::mixed: return repo.unsafe_covered ? 2 : 1;
        case repo_status::safe: return 3;
        case repo_status::no_model: return 4;
    }
    return 4;
}

bool before(const audit_html_writer::row& a, const audit_html_writer::row& b) {
    if (a.rank != b.rank) return a.rank < b.rank;
    if (a.files != b.files) return a.files > b.files;
    return a.repo < b.repo;
}

}  // namespace

void audit_html_writer::add(const audit_repo& repo) {
    ++total_;
    history_read_ = history_read_ || repo.history.has_value();
    row r{repo.repo, std::string(repo_status_name(repo.status)), repo.created.value_or("unknown"), "",
          repo.files.size(), rank_of(repo)};
    if (repo.history && repo.history->first_safetensors_commit) {
        const audit_commit_ref& c = *repo.history->first_safetensors_commit;
        r.adoption = c.date.substr(0, 10) + " (" + std::string(audit_adopter_name(c.adopted_by)) + ")";
    }
    rows_.push_back(std::move(r));
    if (rows_.size() >= 2 * max_rows_ + 64) trim();  // amortized: sort only now and then
}

void audit_html_writer::trim() {
    auto keep = std::min(rows_.size(), max_rows_);
    std::partial_sort(rows_.begin(), rows_.begin() + static_cast<std::ptrdiff_t>(keep), rows_.end(), before);
    rows_.resize(keep);
}

std::string audit_html_writer::render(const audit_summary& s) const {
    detail::audit_figures f = detail::audit_figures_of(s);
    auto count = [&](audit_adopter a) { return s.adopted[static_cast<std::size_t>(a)]; };
    std::string page =
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>stkit audit</title><style>"
        "body{font-family:sans-serif;margin:20px;color:#222;max-width:1040px}table{border-collapse:collapse;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:2px 6px}.legend span{margin-right:14px;font-size:12px}"
        ".legend i{display:inline-block;width:12px;height:12px;margin-right:4px;border:1px solid #ccc}"
        ".twin{font-size:11px;color:#666}.notes{font-size:12px}"
        ".empty{border:1px dashed #bbb;background:#fafafa;color:#555;padding:48px 20px;text-align:center}"
        ".safe{color:#2a7d2a}.unsafe{color:#b00}.mixed{color:#b06000}</style></head><body>";
    page += fmt::format(
        "<h1>Safetensors adoption audit</h1><p>{} repositories, {} model files: {} safe, {} mixed, {} unsafe, "
        "{} without models. Adopted safetensors: {} by the converter bot, {} by developers, {} by stkit convert. "
        "Every date is a commit's committer date in UTC.</p>",
        s.repositories, s.model_files, s.status[0], s.status[1], s.status[2], s.status[3],
        count(audit_adopter::converter_bot), count(audit_adopter::developer), count(audit_adopter::stkit));
    auto twin = [](std::string_view files) { return fmt::format("<p class='twin'>Same numbers: {} (--csv).</p>", files); };
    page += "<h2>Repository status</h2>" + status_bar(f) + twin("status.csv");
    page += "<h2>Safetensors adoptions per month</h2>" + adoption_bars(f, history_read_) + twin("adoptions.csv");
    page += "<h2>Adoptions by year and month</h2>" + heatmap(f, history_read_) + twin("adoption_heatmap.csv");
    std::vector<series> families;
    for (std::size_t i = 0; i < format_family_count; ++i)
        families.push_back({std::string(format_family_name(static_cast<format_family>(i))), family_colours[i]});
    page += "<h2>Format share by repository creation month</h2>" + legend(families) +
            share_bars("share", "month the repository was created (earliest commit, UTC)", f.share_by_month) +
            twin("monthly.csv");
    page += "<h2>Format share by repository creation year</h2>" + legend(families) +
            share_bars("share-year", "year the repository was created", f.share_by_year) + twin("yearly.csv");
    page += "<h2>Days from the first model commit to safetensors</h2>" + days_histogram(f, history_read_) +
            twin("days_to_safetensors.csv, days_quartiles.csv");

    std::vector<row> shown = rows_;
    std::sort(shown.begin(), shown.end(), before);
    if (shown.size() > max_rows_) shown.resize(max_rows_);
    page += fmt::format("<h2>Repositories</h2><p>The {} most telling of {} repositories: unsafe first, then mixed "
                        "with unsafe weights lacking a safetensors counterpart, mixed, safe; more model files first. "
                        "Every repository is in repos.csv (--csv) and the JSON.</p>",
                        shown.size(), total_);
    page += "<table><tr><th>repository</th><th>status</th><th>model files</th><th>created</th>"
            "<th>safetensors adopted</th></tr>";
    for (const row& r : shown)
        page += fmt::format("<tr><td>{}</td><td class='{}'>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                            escape(r.repo), escape(r.status), escape(r.status), r.files, escape(r.created),
                            escape(r.adoption));
    return page + "</table></body></html>\n";
}

result<void> audit_html_writer::write(const std::filesystem::path& destination, bool overwrite,
                                      const audit_summary& summary) const {
    STKIT_TRY(output_file out, output_file::create(destination, overwrite));
    STKIT_TRY_VOID(out.write(render(summary)));
    return out.commit();
}

}  // namespace stkit
