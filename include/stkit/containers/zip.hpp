// stkit/containers/zip.hpp — a zip reader that sees an archive the way PyTorch's loader does.
//
// torch.load reads zips with its own reader (caffe2's PyTorchStreamReader over miniz): it trusts
// the central directory and reads each record's data after the local header. General zip libraries
// hide exactly what a scanner must see (local names that differ from central names, duplicate
// names, odd flag bits) and do not give the data offset needed to map stored records without a
// copy, so the directory is parsed here, by hand, through the bounded cursor; inflating is zlib's.
//
// open() parses the end-of-central-directory record (and ZIP64 records), every central entry and
// every local header, and records anomalies rather than failing on them where PyTorch would still
// load the archive. CRCs are checked when a member is read (and by verify_crc()).
//
// Offsets are taken as written (no adjustment for prepended data, as in miniz); every range is
// checked against the archive before use. Extra fields that overrun their block end the list
// (padding tools write such), as long as the ZIP64 field the sentinels need is intact.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "stkit/error.hpp"

namespace stkit {

struct zip_limits {
    uint64_t max_members = 1'000'000;                  // zip_member_limit
    uint64_t max_decompressed_bytes = uint64_t{16} << 30;  // decompressed_limit, per read
};

struct zip_member {
    std::string name;        // central directory name
    std::string local_name;  // local header name (normally equal)
    uint16_t method = 0;     // 0 stored, 8 deflate
    uint16_t flags = 0;      // general purpose bit flags (central)
    uint32_t crc32 = 0;
    uint64_t compressed_size = 0;
    uint64_t uncompressed_size = 0;
    uint64_t local_header_offset = 0;
    uint64_t data_offset = 0;  // absolute offset of the member's data in the archive
};

enum class zip_anomaly_kind : uint8_t {
    name_mismatch,        // local name differs from central name
    duplicate_name,       // two central entries with one name
    encrypted,            // flag bit 0
    patch_data,           // flag bit 5 (compressed patched data)
    strong_encryption,    // flag bit 6
    unknown_flags,        // other reserved bits
    local_header_differs, // method/sizes/crc in the local header disagree with the central entry
    overlapping_members,  // two members' header+data ranges overlap, or one overlaps the directory
    data_before_first,    // bytes before the first local header (prepended data)
    trailing_data,        // bytes after the end of central directory record (besides a comment)
};

struct zip_anomaly {
    zip_anomaly_kind kind;
    std::string member;
    uint64_t offset;
    std::string detail;
};

class zip_archive {
public:
    // Errors: zip_not_zip (no end-of-central-directory record), zip_invalid_directory,
    // zip_invalid_local_header, zip_member_limit.
    [[nodiscard]] static result<zip_archive> open(std::span<const std::byte> archive,
                                                  const zip_limits& limits = {});
    // The archive borrows its bytes (stored_bytes() are views into them): a temporary buffer would
    // leave it dangling, so that call does not compile.
    static result<zip_archive> open(std::vector<std::byte>&& archive, const zip_limits& limits = {}) = delete;

    [[nodiscard]] const std::vector<zip_member>& members() const noexcept { return members_; }
    [[nodiscard]] const std::vector<zip_anomaly>& anomalies() const noexcept { return anomalies_; }
    // The first member with this central name, or nullptr.
    [[nodiscard]] const zip_member* find(std::string_view name) const noexcept;
    // The common folder prefix of every member ("archive/" in torch.save zips), possibly empty.
    [[nodiscard]] std::string common_prefix() const;

    // Zero-copy bytes of a stored (method 0) member. Errors: zip_unsupported_compression (not
    // stored), zip_encrypted, truncated.
    [[nodiscard]] result<std::span<const std::byte>> stored_bytes(const zip_member& member) const;
    // The member's uncompressed bytes (stored or deflate), CRC-checked. Errors: zip_encrypted,
    // zip_unsupported_compression, decompress_failed, decompressed_limit, zip_crc_mismatch.
    [[nodiscard]] result<std::vector<std::byte>> read(const zip_member& member) const;
    // Checks the CRC of a member without keeping its bytes. Errors as read().
    [[nodiscard]] result<void> verify_crc(const zip_member& member) const;

private:
    std::span<const std::byte> archive_;
    zip_limits limits_;
    std::vector<zip_member> members_;
    std::vector<zip_anomaly> anomalies_;
    std::unordered_map<std::string, std::size_t> index_;  // central name -> first member
};

// The CRC-32 of zip and gzip (reflected IEEE polynomial), continued from `crc` (0 to start), as
// zlib's crc32 computes it. Intel ISA-L's folding implementation (carry-less multiply, chosen at
// run time) does it about 7× faster than Debian's zlib here, which matters because conversion
// checks the CRC of every stored tensor record before copying it.
[[nodiscard]] uint32_t zip_crc32(std::span<const std::byte> bytes, uint32_t crc = 0) noexcept;

}  // namespace stkit
