// Fuzz target: the TensorFlow graph and ONNX model scans (src/scan/tensorflow.cpp, onnx.cpp) on
// arbitrary bytes, as the scanner runs them on buffers nobody identified. Every finding must point
// inside the buffer, and none may be worse than the verdict or be an error (the scans have none).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "scan/internal.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
    stkit::scan_options options;
    stkit::file_report report;
    stkit::detail::scan_state state{options, report};
    stkit::detail::scan_tf_graph(state, bytes, "fuzz.pb");
    stkit::detail::scan_onnx(state, bytes, "fuzz.onnx");
    for (const stkit::finding& f : report.findings) {
        if (f.severity > report.overall || f.severity == stkit::verdict::error) std::abort();
        if (f.offset != stkit::no_offset && f.offset > size) std::abort();
    }
    return 0;
}
