// The progress line (see progress.hpp).
#include "progress.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <cstdio>

namespace stkit::cli {
namespace {

constexpr int bar_width = 24;

std::string size_text(double bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        ++u;
    }
    return u == 0 ? fmt::format("{:.0f} {}", bytes, units[u]) : fmt::format("{:.1f} {}", bytes, units[u]);
}

std::string time_text(double seconds) {
    auto s = static_cast<long>(seconds + 0.5);
    if (s < 60) return fmt::format("{}s", s);
    if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
    return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

}  // namespace

progress_line::progress_line(std::string noun, unit counted, bool quiet)
    : noun_(std::move(noun)), unit_(counted), enabled_(!quiet && ::isatty(STDERR_FILENO) == 1) {}

progress_line::~progress_line() { finish(); }

std::string progress_line::render(uint64_t done, uint64_t total, double seconds) const {
    double fraction = total ? static_cast<double>(done) / static_cast<double>(total) : 0;
    int filled = static_cast<int>(fraction * bar_width);
    std::string line = "[" + std::string(static_cast<std::size_t>(filled), '#') +
                       std::string(static_cast<std::size_t>(bar_width - filled), '-') + "] ";
    double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    if (unit_ == unit::bytes) {
        line += size_text(static_cast<double>(done)) + " / " + size_text(static_cast<double>(total));
        if (rate > 0) line += "  " + size_text(rate) + "/s";
    } else {
        line += fmt::format("{} / {} {}", done, total, noun_);
        if (rate > 0) line += fmt::format("  {:.0f} {}/s", rate, noun_);
    }
    if (rate > 0 && done < total) line += "  " + time_text(static_cast<double>(total - done) / rate) + " left";
    if (done >= total) line += "  " + time_text(seconds);
    return line;
}

void progress_line::update(uint64_t done, uint64_t total) {
    if (!enabled_ || total == 0) return;
    std::lock_guard lock(mutex_);
    auto now = std::chrono::steady_clock::now();
    if (done < total && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    double seconds = std::chrono::duration<double>(now - start_).count();
    // \r then erase to the end of the line: a shorter line leaves nothing of the last one.
    fmt::print(stderr, "\r{}\x1b[K", render(done, total, seconds));
    std::fflush(stderr);
    drawn_ = true;
}

void progress_line::finish() {
    std::lock_guard lock(mutex_);
    if (!drawn_) return;
    fmt::print(stderr, "\n");
    drawn_ = false;
}

}  // namespace stkit::cli
