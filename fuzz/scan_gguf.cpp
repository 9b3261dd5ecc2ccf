// Fuzz target: the GGUF metadata reader, with small limits and with the defaults through the
// scanner, and the chat template check on every string value and on the whole input as text. A
// header the reader accepts must describe pairs that lie inside the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "scan/internal.hpp"
#include "stkit/scan/gguf.hpp"
#include "stkit/scan/scan.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
    stkit::gguf_limits limits;
    limits.max_array_depth = 2;
    limits.max_array_items = 4096;
    auto header = stkit::gguf_read_metadata(bytes, [&](const stkit::gguf_kv& kv) {
        if (kv.offset + kv.value.size() > size) std::abort();
        if (kv.type == stkit::gguf_type::string) (void)stkit::detail::chat_template_issues(kv.string());
        return true;
    }, limits);
    if (header.ok() && header->kv_end > size) std::abort();
    (void)stkit::scan_bytes(bytes, "fuzz.gguf");
    (void)stkit::detail::chat_template_issues(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
