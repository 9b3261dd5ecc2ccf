// stkit/containers/archive.hpp — tar, gzip and 7z containers through libarchive, for the scanner
// (recursion into members) and for the legacy torch tar format.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "stkit/error.hpp"

namespace stkit {

struct archive_limits {
    uint64_t max_members = 100'000;                    // zip_member_limit
    uint64_t max_member_bytes = uint64_t{4} << 30;     // decompressed_limit, one member
    uint64_t max_total_bytes = uint64_t{16} << 30;     // decompressed_limit, all members
    // Also visit folders, links, devices and encrypted members (always with no bytes), for callers
    // that check where an extraction would write.
    bool every_entry = false;
    // Visit every entry with no bytes, reading no member data (a look at the layout).
    bool headers_only = false;
};

enum class archive_entry_kind : uint8_t { regular, directory, symlink, hardlink, other };

struct archive_entry_info {
    std::string name;
    uint64_t size = 0;
    bool regular = true;  // false for folders, links, devices
    archive_entry_kind kind = archive_entry_kind::regular;
    std::string link;        // symlink or hardlink target
    bool encrypted = false;  // its data (or the archive's headers) are encrypted: not readable
};

// Calls `visit` with each member's name and bytes (regular files only), in archive order; stops
// early when visit returns false. Supports tar (any compression libarchive reads), 7z, and a lone
// gzip stream (one member named ""). Errors: tar_invalid, archive_encrypted (the headers are
// encrypted: nothing can be listed), zip_member_limit, decompressed_limit.
[[nodiscard]] result<void> archive_for_each(
    std::span<const std::byte> archive, const archive_limits& limits,
    const std::function<bool(const archive_entry_info&, std::span<const std::byte>)>& visit);

}  // namespace stkit
