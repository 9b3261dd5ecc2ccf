// cli/progress.hpp — one progress line on stderr for long work (convert, scan, audit).
//
// Shown only when stderr is a terminal and --quiet was not given: a pipe, a log file or CI sees
// nothing. The line says how much of the total is done (items or bytes), the rate, and the time
// left, and is redrawn at most ten times a second from whichever thread reports. No Debian package
// offers a C++ progress indicator (p-ranav/indicators is not packaged), hence this small class.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace stkit::cli {

class progress_line {
public:
    enum class unit { items, bytes };

    // `noun`: what items are ("files", "repositories"); ignored for bytes.
    progress_line(std::string noun, unit counted, bool quiet);
    ~progress_line();
    progress_line(const progress_line&) = delete;
    progress_line& operator=(const progress_line&) = delete;

    // Any thread; cheap when nothing is drawn.
    void update(uint64_t done, uint64_t total);
    // Ends the line (a newline after the last drawing); also done by the destructor.
    void finish();

    [[nodiscard]] bool enabled() const noexcept { return enabled_; }

private:
    std::string render(uint64_t done, uint64_t total, double seconds) const;

    std::string noun_;
    unit unit_;
    bool enabled_;
    bool drawn_ = false;
    std::mutex mutex_;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point last_{};
};

}  // namespace stkit::cli
