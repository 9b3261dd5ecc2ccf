// Fuzz target: archive_for_each (tar, 7z, compressed streams) with small limits; members must
// respect the per-member limit.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "stkit/containers/archive.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    stkit::archive_limits limits;
    limits.max_members = 100;
    limits.max_member_bytes = 1 << 20;
    limits.max_total_bytes = 4 << 20;
    auto visit = [&](const stkit::archive_entry_info&, std::span<const std::byte> bytes) {
        if (bytes.size() > limits.max_member_bytes) std::abort();
        return true;
    };
    (void)stkit::archive_for_each({reinterpret_cast<const std::byte*>(data), size}, limits, visit);
    return 0;
}
