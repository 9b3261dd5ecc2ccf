// Fuzz target: the legacy torch.save layout (five pickles, then raw storages) parsed from a buffer
// by the restricted machine, planned, and every tensor streamed out as the writer would.
#include <cstddef>
#include <cstdint>
#include <span>

#include "stkit/convert/checkpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    stkit::convert::load_options options;
    options.limits.max_opcodes = 100'000;
    options.limits.max_total_bytes = 16 << 20;
    options.limits.max_string_bytes = 1 << 20;
    auto file = std::as_bytes(std::span(data, size));
    auto loaded = stkit::convert::load_torch_legacy(file, options);
    if (!loaded.ok()) return 0;
    uint64_t streamed = 0;
    for (const auto& tensor : loaded->tensors) {
        auto done = stkit::convert::stream_tensor(
            *loaded, tensor, 64, [&](std::span<const std::byte> chunk) -> stkit::result<void> {
                streamed += chunk.size();
                return {};
            });
        (void)done;
    }
    return streamed == UINT64_MAX;  // keeps the loop from being optimised away
}
