// Fuzz target: format detection and the whole scan (containers, pickles, carriers) on one buffer.
#include <cstddef>
#include <cstdint>
#include <span>

#include "stkit/scan/report.hpp"
#include "stkit/scan/scan.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
    (void)stkit::detect_format(bytes);
    stkit::scan_options options;
    options.max_total_bytes = uint64_t{64} << 20;
    stkit::file_report report = stkit::scan_bytes(bytes, "fuzz", options);
    (void)stkit::scan_report_json({report});
    return 0;
}
