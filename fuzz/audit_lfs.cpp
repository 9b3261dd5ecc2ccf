// Fuzz target: Git LFS pointer parsing. A pointer that parses, written back in canonical form,
// parses to the same oid and size.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "stkit/audit/audit.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto pointer = stkit::parse_lfs_pointer(std::string_view(reinterpret_cast<const char*>(data), size));
    if (!pointer) return 0;
    std::string canonical = "version https://git-lfs.github.com/spec/v1\noid sha256:" + pointer->oid_sha256 +
                            "\nsize " + std::to_string(pointer->size) + "\n";
    auto again = stkit::parse_lfs_pointer(canonical);
    if (!again || again->oid_sha256 != pointer->oid_sha256 || again->size != pointer->size) std::abort();
    return 0;
}
