// Fuzz target: the JSON code carriers on arbitrary bytes: a Keras 3 config.json, the same bytes
// searched for Keras 2 model configs as in an .h5 file, and a skops schema.json. Every finding must
// be counted in the verdict.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "scan/internal.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
    std::string_view text(reinterpret_cast<const char*>(data), size);
    stkit::file_report report;
    stkit::scan_options options;
    stkit::detail::scan_state state{options, report};
    stkit::detail::scan_keras_config(state, text, "config.json");
    stkit::detail::scan_hdf5(state, bytes, "model.h5");
    stkit::detail::scan_skops_schema(state, text, "schema.json");
    for (const stkit::finding& f : report.findings)
        if (f.severity > report.overall) std::abort();
    return 0;
}
