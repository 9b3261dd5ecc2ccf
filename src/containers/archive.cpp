// tar, 7z and lone compressed streams through libarchive (see stkit/containers/archive.hpp).
// libarchive reads from memory; member bytes are read in chunks into a bounded buffer, so neither
// a member's declared size nor its real size can make this allocate past the limits.
#include "stkit/containers/archive.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <array>
#include <memory>
#include <string>

#include "containers/stream.hpp"

namespace stkit {
namespace {

struct archive_deleter {
    void operator()(struct archive* a) const noexcept { archive_read_free(a); }
};
using archive_ptr = std::unique_ptr<struct archive, archive_deleter>;

error libarchive_error(struct archive* a, std::string what, const std::string& member) {
    const char* message = archive_error_string(a);
    return make_error(error_code::tar_invalid, what + (message ? std::string(": ") + message : ""),
                      no_offset, member);
}

}  // namespace

result<void> archive_for_each(
    std::span<const std::byte> data, const archive_limits& limits,
    const std::function<bool(const archive_entry_info&, std::span<const std::byte>)>& visit) {
    archive_ptr reader(archive_read_new());
    if (!reader) return make_error(error_code::tar_invalid, "libarchive could not be initialised");
    struct archive* a = reader.get();
    // Only filters libarchive decodes in-process: support_filter_all would also register filters
    // that run external programs (lrzip, lzop, grzip) on hostile input.
    for (auto add : {archive_read_support_filter_gzip, archive_read_support_filter_bzip2,
                     archive_read_support_filter_xz, archive_read_support_filter_lzma}) {
        if (add(a) != ARCHIVE_OK) return libarchive_error(a, "decompression filter unavailable", {});
    }
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    archive_read_support_format_7zip(a);
    // "raw" takes any data libarchive's filters could unwrap: a lone gzip (or bz2, xz) stream.
    archive_read_support_format_raw(a);
    if (archive_read_open_memory(a, data.data(), data.size()) != ARCHIVE_OK)
        return libarchive_error(a, "cannot open archive", {});

    uint64_t members = 0;
    uint64_t total = 0;
    std::array<std::byte, detail::stream_chunk> chunk;
    for (;;) {
        struct archive_entry* entry = nullptr;
        int status = archive_read_next_header(a, &entry);
        if (status == ARCHIVE_EOF) break;
        if (status != ARCHIVE_OK && status != ARCHIVE_WARN) {
            // 7z can encrypt its headers: then not even the names can be read without the password.
            if (archive_read_has_encrypted_entries(a) > 0)
                return make_error(error_code::archive_encrypted,
                                  "encrypted headers after " + std::to_string(members) + " members");
            return libarchive_error(a, "bad member header after " + std::to_string(members) + " members", {});
        }
        bool raw = archive_format(a) == ARCHIVE_FORMAT_RAW;
        // Uncompressed data read as "raw" is not an archive at all.
        if (raw && archive_filter_count(a) <= 1)
            return make_error(error_code::tar_invalid, "not a tar, 7z or compressed stream", 0);
        if (++members > limits.max_members)
            return make_error(error_code::zip_member_limit,
                              "more than " + std::to_string(limits.max_members) + " members");
        archive_entry_info info;
        const char* path = archive_entry_pathname(entry);
        info.name = raw || !path ? std::string() : std::string(path);
        const char* hardlink = archive_entry_hardlink(entry);
        const char* symlink = archive_entry_symlink(entry);
        if (hardlink) {
            info.kind = archive_entry_kind::hardlink;
            info.link = hardlink;
        } else if (archive_entry_filetype(entry) == AE_IFLNK) {
            info.kind = archive_entry_kind::symlink;
            info.link = symlink ? symlink : "";
        } else if (archive_entry_filetype(entry) == AE_IFDIR) {
            info.kind = archive_entry_kind::directory;
        } else if (archive_entry_filetype(entry) != AE_IFREG) {
            info.kind = archive_entry_kind::other;
        }
        info.regular = info.kind == archive_entry_kind::regular;
        info.encrypted = archive_entry_is_data_encrypted(entry) || archive_entry_is_metadata_encrypted(entry);
        info.size = archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0
                        ? static_cast<uint64_t>(archive_entry_size(entry))
                        : 0;
        if (limits.headers_only || ((!info.regular || info.encrypted) && limits.every_entry)) {
            if (!visit(info, {})) break;
            continue;
        }
        if (!info.regular) continue;
        uint64_t member_limit = std::min(limits.max_member_bytes,
                                         limits.max_total_bytes - std::min(total, limits.max_total_bytes));
        detail::bounded_buffer bytes(member_limit);
        for (;;) {
            la_ssize_t count = archive_read_data(a, chunk.data(), chunk.size());
            if (count == 0) break;
            if (count < 0) {
                if (archive_read_has_encrypted_entries(a) > 0)
                    return make_error(error_code::archive_encrypted, "encrypted member data", no_offset, info.name);
                return libarchive_error(a, "cannot read member data", info.name);
            }
            auto appended = bytes.append(std::span(chunk.data(), static_cast<std::size_t>(count)));
            if (!appended.ok()) {
                error failure = std::move(appended).error();
                failure.name = info.name;
                failure.detail = (member_limit == limits.max_member_bytes ? "member " : "archive total ") +
                                 failure.detail;
                return failure;
            }
        }
        total += bytes.bytes().size();
        info.size = bytes.bytes().size();
        if (!visit(info, bytes.bytes())) break;
    }
    return {};
}

}  // namespace stkit
