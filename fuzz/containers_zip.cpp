// Fuzz target: zip_archive::open, then read and CRC-check every member (small limits keep each run
// cheap; a crash, leak or sanitizer report is the finding).
#include <cstddef>
#include <cstdint>
#include <span>

#include "stkit/containers/zip.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    stkit::zip_limits limits;
    limits.max_members = 1000;
    limits.max_decompressed_bytes = 1 << 20;
    auto zip = stkit::zip_archive::open({reinterpret_cast<const std::byte*>(data), size}, limits);
    if (!zip.ok()) return 0;
    (void)zip->common_prefix();
    for (const stkit::zip_member& member : zip->members()) {
        (void)zip->find(member.name);
        (void)zip->stored_bytes(member);
        (void)zip->read(member);
        (void)zip->verify_crc(member);
    }
    return 0;
}
