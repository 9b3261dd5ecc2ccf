// The zip reader (see stkit/containers/zip.hpp). Layout, from PKWARE's APPNOTE:
//   [local header 30 B + name + extra][data][data descriptor?] ... for each member
//   [central entry 46 B + name + extra + comment] ... for each member
//   [ZIP64 end of central directory 56 B + ...][ZIP64 locator 20 B]   (only when needed)
//   [end of central directory 22 B + comment (<= 65535 B)]
// Sizes and offsets that do not fit 32 bits are 0xFFFFFFFF in the fixed fields and the real values
// sit in the ZIP64 extra field (id 0x0001), in a fixed order, only for the fields that overflowed.
#include "stkit/containers/zip.hpp"

#include <isa-l/crc.h>
#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>
#include <unordered_set>

#include "containers/stream.hpp"
#include "stkit/detail/checked.hpp"
#include "stkit/detail/cursor.hpp"

namespace stkit {
namespace {

constexpr uint32_t local_signature = 0x04034b50;
constexpr uint32_t central_signature = 0x02014b50;
constexpr uint32_t eocd_signature = 0x06054b50;
constexpr uint32_t zip64_locator_signature = 0x07064b50;
constexpr uint32_t zip64_eocd_signature = 0x06064b50;
constexpr std::size_t eocd_size = 22;
constexpr std::size_t zip64_locator_size = 20;
constexpr std::size_t central_fixed_size = 46;
constexpr std::size_t local_fixed_size = 30;
constexpr std::size_t max_comment = 0xFFFF;
constexpr uint32_t sentinel32 = 0xFFFFFFFF;
constexpr uint16_t sentinel16 = 0xFFFF;
constexpr uint16_t zip64_extra_id = 0x0001;

constexpr uint16_t flag_encrypted = 1u << 0;
constexpr uint16_t flag_descriptor = 1u << 3;
constexpr uint16_t flag_patch = 1u << 5;
constexpr uint16_t flag_strong = 1u << 6;
constexpr uint16_t flag_utf8 = 1u << 11;
// Bits 1 and 2 select deflate's compression level; everything not named here is reserved.
constexpr uint16_t known_flags =
    flag_encrypted | 0x0002 | 0x0004 | flag_descriptor | flag_patch | flag_strong | flag_utf8;

uint32_t read_u32_at(std::span<const std::byte> bytes, std::size_t at) {
    detail::byte_cursor cursor(bytes.subspan(at, 4));
    auto value = cursor.u32le();
    return value.ok() ? *value : 0;
}

// The fields of the end-of-central-directory record(s) the reader needs.
struct directory_location {
    uint64_t eocd_offset = 0;     // where the classic record starts
    uint64_t entries = 0;
    uint64_t size = 0;
    uint64_t offset = 0;
    uint64_t end_of_records = 0;  // end of the classic record and its comment
};

// Finds the last end-of-central-directory record whose comment fits in the file. A record whose
// comment ends before the file does leaves trailing data (reported by the caller).
std::optional<uint64_t> find_eocd(std::span<const std::byte> archive) {
    if (archive.size() < eocd_size) return std::nullopt;
    std::size_t last = archive.size() - eocd_size;
    std::size_t first = last > max_comment ? last - max_comment : 0;
    for (std::size_t at = last + 1; at-- > first;) {
        if (read_u32_at(archive, at) != eocd_signature) continue;
        detail::byte_cursor comment_length(archive.subspan(at + 20, 2));
        auto length = comment_length.u16le();
        if (length.ok() && at + eocd_size + *length <= archive.size()) return at;
    }
    return std::nullopt;
}

result<directory_location> read_directory_location(std::span<const std::byte> archive) {
    auto found = find_eocd(archive);
    if (!found)
        return make_error(error_code::zip_not_zip, "no end of central directory record found",
                          archive.size() < eocd_size ? 0 : archive.size() - eocd_size);
    directory_location where;
    where.eocd_offset = *found;
    detail::byte_cursor cursor(archive.subspan(*found), *found, error_code::zip_invalid_directory);
    STKIT_TRY_VOID(cursor.skip(4));
    STKIT_TRY(uint16_t disk, cursor.u16le());
    STKIT_TRY(uint16_t directory_disk, cursor.u16le());
    STKIT_TRY(uint16_t disk_entries, cursor.u16le());
    STKIT_TRY(uint16_t entries, cursor.u16le());
    STKIT_TRY(uint32_t size, cursor.u32le());
    STKIT_TRY(uint32_t offset, cursor.u32le());
    STKIT_TRY(uint16_t comment, cursor.u16le());
    where.entries = entries;
    where.size = size;
    where.offset = offset;
    where.end_of_records = *found + eocd_size + comment;

    bool has_locator = *found >= zip64_locator_size &&
                       read_u32_at(archive, *found - zip64_locator_size) == zip64_locator_signature;
    if (!has_locator) {
        if (entries == sentinel16 || size == sentinel32 || offset == sentinel32)
            return make_error(error_code::zip_invalid_directory,
                              "ZIP64 values without a ZIP64 locator", *found);
        if (disk != 0 || directory_disk != 0 || disk_entries != entries)
            return make_error(error_code::zip_invalid_directory, "multi-disk archives are not supported",
                              *found);
        return where;
    }
    uint64_t locator_at = *found - zip64_locator_size;
    detail::byte_cursor locator(archive.subspan(locator_at, zip64_locator_size), locator_at,
                                error_code::zip_invalid_directory);
    STKIT_TRY_VOID(locator.skip(8));
    STKIT_TRY(uint64_t record_at, locator.u64le());
    if (record_at > locator_at)
        return make_error(error_code::zip_invalid_directory,
                          "ZIP64 end of central directory record lies outside the file", locator_at);
    detail::byte_cursor record(archive.subspan(record_at, locator_at - record_at), record_at,
                               error_code::zip_invalid_directory);
    STKIT_TRY(uint32_t signature, record.u32le());
    if (signature != zip64_eocd_signature)
        return make_error(error_code::zip_invalid_directory,
                          "bad ZIP64 end of central directory signature", record_at);
    STKIT_TRY_VOID(record.skip(8 + 2 + 2));  // record size, versions
    STKIT_TRY(uint32_t disk64, record.u32le());
    STKIT_TRY(uint32_t directory_disk64, record.u32le());
    STKIT_TRY(uint64_t disk_entries64, record.u64le());
    STKIT_TRY(where.entries, record.u64le());
    STKIT_TRY(where.size, record.u64le());
    STKIT_TRY(where.offset, record.u64le());
    if (disk64 != 0 || directory_disk64 != 0 || disk_entries64 != where.entries)
        return make_error(error_code::zip_invalid_directory, "multi-disk archives are not supported",
                          record_at);
    return where;
}

// Replaces sentinel fields with the values of a ZIP64 extra field, in the APPNOTE's order.
// `offset` and `disk` are null for local headers (which carry only the sizes).
result<void> apply_zip64_extra(std::span<const std::byte> extra, uint64_t extra_offset,
                               error_code code, const std::string& name, uint64_t& uncompressed,
                               uint64_t& compressed, uint64_t* offset, bool disk_sentinel) {
    detail::byte_cursor cursor(extra, extra_offset, code);
    while (cursor.remaining() >= 4) {
        STKIT_TRY(uint16_t id, cursor.u16le());
        STKIT_TRY(uint16_t length, cursor.u16le());
        // Writers pad extra fields (alignment tools do); a field that overruns ends the list, as in
        // miniz. Only a ZIP64 field too short for the sentinels it must replace is an error.
        auto taken = cursor.take(length);
        if (!taken.ok()) break;
        auto body = *taken;
        if (id != zip64_extra_id) continue;
        detail::byte_cursor fields(body, cursor.offset() - length, code);
        auto take = [&](uint64_t& field) -> result<void> {
            auto value = fields.u64le();
            if (!value.ok()) {
                error failure = std::move(value).error();
                failure.name = name;
                failure.detail = "ZIP64 extra field too short: " + failure.detail;
                return failure;
            }
            field = *value;
            return {};
        };
        if (uncompressed == sentinel32) STKIT_TRY_VOID(take(uncompressed));
        if (compressed == sentinel32) STKIT_TRY_VOID(take(compressed));
        if (offset && *offset == sentinel32) STKIT_TRY_VOID(take(*offset));
        (void)disk_sentinel;  // the disk number (u32) follows; single-disk archives only
        return {};
    }
    return {};
}

// A central entry's fields beyond zip_member that the local header is compared with.
struct central_entry {
    zip_member member;
    uint64_t entry_offset = 0;
};

result<central_entry> read_central_entry(detail::byte_cursor& cursor) {
    central_entry entry;
    entry.entry_offset = cursor.offset();
    zip_member& m = entry.member;
    STKIT_TRY(uint32_t signature, cursor.u32le());
    if (signature != central_signature)
        return make_error(error_code::zip_invalid_directory, "bad central directory entry signature",
                          entry.entry_offset);
    STKIT_TRY_VOID(cursor.skip(4));  // versions
    STKIT_TRY(m.flags, cursor.u16le());
    STKIT_TRY(m.method, cursor.u16le());
    STKIT_TRY_VOID(cursor.skip(4));  // time, date
    STKIT_TRY(m.crc32, cursor.u32le());
    STKIT_TRY(uint32_t compressed, cursor.u32le());
    STKIT_TRY(uint32_t uncompressed, cursor.u32le());
    STKIT_TRY(uint16_t name_length, cursor.u16le());
    STKIT_TRY(uint16_t extra_length, cursor.u16le());
    STKIT_TRY(uint16_t comment_length, cursor.u16le());
    STKIT_TRY(uint16_t disk, cursor.u16le());
    STKIT_TRY_VOID(cursor.skip(6));  // internal and external attributes
    STKIT_TRY(uint32_t local_offset, cursor.u32le());
    STKIT_TRY(auto name, cursor.take_text(name_length));
    m.name = std::string(name);
    uint64_t extra_offset = cursor.offset();
    STKIT_TRY(auto extra, cursor.take(extra_length));
    STKIT_TRY_VOID(cursor.skip(comment_length));
    m.compressed_size = compressed;
    m.uncompressed_size = uncompressed;
    m.local_header_offset = local_offset;
    STKIT_TRY_VOID(apply_zip64_extra(extra, extra_offset, error_code::zip_invalid_directory, m.name,
                                     m.uncompressed_size, m.compressed_size, &m.local_header_offset,
                                     disk == sentinel16));
    if (disk != 0 && disk != sentinel16)
        return make_error(error_code::zip_invalid_directory, "member on another disk",
                          entry.entry_offset, m.name);
    return entry;
}

// Reads the local header of `member`, fills local_name and data_offset, records anomalies.
class zip_local_reader {
public:
    zip_local_reader(std::span<const std::byte> archive, std::vector<zip_anomaly>& anomalies)
        : archive_(archive), anomalies_(anomalies) {}

    result<void> read(zip_member& m, uint64_t entry_offset) {
        if (m.local_header_offset > archive_.size() ||
            archive_.size() - m.local_header_offset < local_fixed_size)
            return make_error(error_code::zip_invalid_directory,
                              "local header offset " + std::to_string(m.local_header_offset) +
                                  " lies outside the file",
                              entry_offset, m.name);
        uint64_t at = m.local_header_offset;
        detail::byte_cursor cursor(archive_.subspan(at), at, error_code::zip_invalid_local_header);
        auto failed = [&](std::string detail) {
            return make_error(error_code::zip_invalid_local_header, std::move(detail), at, m.name);
        };
        STKIT_TRY(uint32_t signature, cursor.u32le());
        if (signature != local_signature) return failed("bad local header signature");
        STKIT_TRY_VOID(cursor.skip(2));  // version
        STKIT_TRY(uint16_t flags, cursor.u16le());
        STKIT_TRY(uint16_t method, cursor.u16le());
        STKIT_TRY_VOID(cursor.skip(4));  // time, date
        STKIT_TRY(uint32_t crc, cursor.u32le());
        STKIT_TRY(uint32_t compressed32, cursor.u32le());
        STKIT_TRY(uint32_t uncompressed32, cursor.u32le());
        STKIT_TRY(uint16_t name_length, cursor.u16le());
        STKIT_TRY(uint16_t extra_length, cursor.u16le());
        auto name = cursor.take_text(name_length);
        if (!name.ok()) return failed("local name runs past the end of the file");
        uint64_t extra_offset = cursor.offset();
        auto extra = cursor.take(extra_length);
        if (!extra.ok()) return failed("local extra field runs past the end of the file");
        m.local_name = std::string(*name);
        m.data_offset = cursor.offset();
        auto data_end = detail::checked_add(m.data_offset, m.compressed_size);
        if (!data_end || *data_end > archive_.size())
            return failed("member data (" + std::to_string(m.compressed_size) +
                          " bytes) runs past the end of the file");
        data_end_ = *data_end;

        uint64_t compressed = compressed32;
        uint64_t uncompressed = uncompressed32;
        STKIT_TRY_VOID(apply_zip64_extra(*extra, extra_offset, error_code::zip_invalid_local_header,
                                         m.name, uncompressed, compressed, nullptr, false));
        if (m.local_name != m.name)
            note(zip_anomaly_kind::name_mismatch, m, at,
                 "local name '" + m.local_name + "', central name '" + m.name + "'");
        // With a data descriptor (bit 3) the local CRC and sizes may be zero: the real ones follow
        // the data. PyTorch reads sizes from the central directory, so only a disagreement matters.
        bool deferred = (flags & flag_descriptor) && crc == 0 && compressed == 0 && uncompressed == 0;
        std::string differs;
        if (method != m.method) differs += " method";
        if (flags != m.flags) differs += " flags";
        if (!deferred && crc != m.crc32) differs += " crc32";
        if (!deferred && compressed != m.compressed_size) differs += " compressed_size";
        if (!deferred && uncompressed != m.uncompressed_size) differs += " uncompressed_size";
        if (!differs.empty())
            note(zip_anomaly_kind::local_header_differs, m, at, "differs in:" + differs);
        return {};
    }

    [[nodiscard]] uint64_t data_end() const noexcept { return data_end_; }

    void note(zip_anomaly_kind kind, const zip_member& m, uint64_t offset, std::string detail) {
        anomalies_.push_back(zip_anomaly{kind, m.name, offset, std::move(detail)});
    }

private:
    std::span<const std::byte> archive_;
    std::vector<zip_anomaly>& anomalies_;
    uint64_t data_end_ = 0;
};

void note_flags(zip_local_reader& notes, const zip_member& m) {
    if (m.flags & flag_encrypted) notes.note(zip_anomaly_kind::encrypted, m, m.local_header_offset, "flag bit 0");
    if (m.flags & flag_patch) notes.note(zip_anomaly_kind::patch_data, m, m.local_header_offset, "flag bit 5");
    if (m.flags & flag_strong)
        notes.note(zip_anomaly_kind::strong_encryption, m, m.local_header_offset, "flag bit 6");
    if (uint16_t unknown = m.flags & static_cast<uint16_t>(~known_flags))
        notes.note(zip_anomaly_kind::unknown_flags, m, m.local_header_offset,
                   "reserved flag bits 0x" + [&] {
                       char digits[4];
                       auto end = std::to_chars(digits, digits + sizeof digits, unknown, 16).ptr;
                       std::string text(static_cast<std::size_t>(digits + sizeof digits - end), '0');
                       return text.append(digits, end);
                   }());
}

struct member_range {
    uint64_t begin;
    uint64_t end;
    std::size_t index;
};

}  // namespace

result<zip_archive> zip_archive::open(std::span<const std::byte> archive, const zip_limits& limits) {
    STKIT_TRY(directory_location where, read_directory_location(archive));
    if (where.entries > limits.max_members)
        return make_error(error_code::zip_member_limit,
                          std::to_string(where.entries) + " members, limit " +
                              std::to_string(limits.max_members),
                          where.eocd_offset);
    auto directory_end = detail::checked_add(where.offset, where.size);
    if (!directory_end || *directory_end > where.eocd_offset)
        return make_error(error_code::zip_invalid_directory,
                          "central directory (offset " + std::to_string(where.offset) + ", " +
                              std::to_string(where.size) + " bytes) lies outside the file",
                          where.eocd_offset);
    // Each entry takes at least 46 bytes: a count the directory cannot hold is refused before
    // anything is reserved for it.
    if (where.entries > where.size / central_fixed_size)
        return make_error(error_code::zip_invalid_directory,
                          std::to_string(where.entries) + " entries cannot fit in " +
                              std::to_string(where.size) + " bytes",
                          where.eocd_offset);

    zip_archive zip;
    zip.archive_ = archive;
    zip.limits_ = limits;
    zip.members_.reserve(static_cast<std::size_t>(where.entries));
    zip_local_reader locals(archive, zip.anomalies_);
    std::vector<member_range> ranges;
    ranges.reserve(static_cast<std::size_t>(where.entries));
    std::unordered_set<std::string> names;
    detail::byte_cursor cursor(archive.subspan(where.offset, where.size), where.offset,
                               error_code::zip_invalid_directory);
    for (uint64_t i = 0; i < where.entries; ++i) {
        STKIT_TRY(central_entry entry, read_central_entry(cursor));
        zip_member& m = entry.member;
        STKIT_TRY_VOID(locals.read(m, entry.entry_offset));
        if (!names.insert(m.name).second)
            locals.note(zip_anomaly_kind::duplicate_name, m, entry.entry_offset,
                        "a second central entry named '" + m.name + "'");
        note_flags(locals, m);
        ranges.push_back({m.local_header_offset, locals.data_end(), zip.members_.size()});
        zip.members_.push_back(std::move(m));
    }

    std::sort(ranges.begin(), ranges.end(),
              [](const member_range& a, const member_range& b) { return a.begin < b.begin; });
    uint64_t first = ranges.empty() ? where.offset : ranges.front().begin;
    if (first > 0)
        zip.anomalies_.push_back({zip_anomaly_kind::data_before_first, "", 0,
                                  std::to_string(first) + " bytes before the first member"});
    // Against the member reaching furthest so far, so a long member hides nothing after it.
    std::size_t furthest = 0;
    for (std::size_t i = 1; i < ranges.size(); ++i) {
        if (ranges[i].begin < ranges[furthest].end)
            locals.note(zip_anomaly_kind::overlapping_members, zip.members_[ranges[i].index],
                        ranges[i].begin,
                        "overlaps '" + zip.members_[ranges[furthest].index].name + "'");
        if (ranges[i].end > ranges[furthest].end) furthest = i;
    }
    for (const member_range& range : ranges) {
        if (range.end > where.offset && range.begin < *directory_end)
            locals.note(zip_anomaly_kind::overlapping_members, zip.members_[range.index], range.begin,
                        "overlaps the central directory");
    }
    if (where.end_of_records < archive.size())
        zip.anomalies_.push_back({zip_anomaly_kind::trailing_data, "", where.end_of_records,
                                  std::to_string(archive.size() - where.end_of_records) +
                                      " bytes after the end of central directory record"});
    for (std::size_t i = 0; i < zip.members_.size(); ++i)
        zip.index_.emplace(zip.members_[i].name, i);  // keeps the first of duplicates
    return zip;
}

const zip_member* zip_archive::find(std::string_view name) const noexcept {
    auto found = index_.find(std::string(name));
    return found == index_.end() ? nullptr : &members_[found->second];
}

std::string zip_archive::common_prefix() const {
    if (members_.empty()) return {};
    std::string_view prefix = members_.front().name;
    for (const zip_member& m : members_) {
        std::size_t length = 0;
        while (length < prefix.size() && length < m.name.size() && prefix[length] == m.name[length])
            ++length;
        prefix = prefix.substr(0, length);
    }
    std::size_t slash = prefix.rfind('/');
    return slash == std::string_view::npos ? std::string() : std::string(prefix.substr(0, slash + 1));
}

namespace {

result<void> check_readable(const zip_member& m) {
    if (m.flags & (flag_encrypted | flag_strong))
        return make_error(error_code::zip_encrypted, "flag bits " + std::to_string(m.flags),
                          m.local_header_offset, m.name);
    if (m.method != 0 && m.method != 8)
        return make_error(error_code::zip_unsupported_compression,
                          "method " + std::to_string(m.method), m.local_header_offset, m.name);
    return {};
}

}  // namespace

result<std::span<const std::byte>> zip_archive::stored_bytes(const zip_member& m) const {
    STKIT_TRY_VOID(check_readable(m));
    if (m.method != 0)
        return make_error(error_code::zip_unsupported_compression,
                          "member is compressed (method " + std::to_string(m.method) + ")",
                          m.local_header_offset, m.name);
    if (m.uncompressed_size != m.compressed_size)
        return make_error(error_code::zip_invalid_directory,
                          "stored member with different compressed and uncompressed sizes",
                          m.local_header_offset, m.name);
    detail::byte_cursor cursor(archive_);
    STKIT_TRY_VOID(cursor.seek(static_cast<std::size_t>(std::min<uint64_t>(m.data_offset, archive_.size()))));
    auto bytes = cursor.take(static_cast<std::size_t>(m.compressed_size));
    if (!bytes.ok()) {
        error failure = std::move(bytes).error();
        failure.name = m.name;
        return failure;
    }
    return *bytes;
}

namespace {

// Streams the member's uncompressed bytes into `sink`, then checks size and CRC.
result<void> stream_member(std::span<const std::byte> archive, const zip_limits& limits,
                           const zip_member& m, const detail::chunk_sink& sink) {
    STKIT_TRY_VOID(check_readable(m));
    uint32_t crc = 0;
    auto update = [&](std::span<const std::byte> chunk) { crc = zip_crc32(chunk, crc); };
    if (m.uncompressed_size > limits.max_decompressed_bytes)
        return make_error(error_code::decompressed_limit,
                          std::to_string(m.uncompressed_size) + " bytes, limit " +
                              std::to_string(limits.max_decompressed_bytes),
                          m.local_header_offset, m.name);
    auto with_name = [&](error failure) {
        failure.name = m.name;
        if (failure.has_offset()) failure.offset += m.data_offset;
        return failure;
    };
    if (m.data_offset > archive.size() || archive.size() - m.data_offset < m.compressed_size)
        return make_error(error_code::truncated, "member data runs past the end of the file",
                          m.data_offset, m.name);
    auto data = archive.subspan(static_cast<std::size_t>(m.data_offset),
                                static_cast<std::size_t>(m.compressed_size));
    uint64_t produced = 0;
    if (m.method == 0) {
        if (m.compressed_size != m.uncompressed_size)
            return make_error(error_code::zip_invalid_directory,
                              "stored member with different compressed and uncompressed sizes",
                              m.local_header_offset, m.name);
        update(data);
        STKIT_TRY_VOID(sink(data));
        produced = data.size();
    } else {
        // The declared size (already within the limit) bounds the output: a member may not
        // inflate past it.
        auto inflated = detail::inflate_stream(
            data, -MAX_WBITS, m.uncompressed_size, [&](std::span<const std::byte> chunk) -> result<void> {
                update(chunk);
                return sink(chunk);
            });
        if (!inflated.ok()) {
            error failure = std::move(inflated).error();
            if (failure.code == error_code::decompressed_limit)
                failure = make_error(error_code::decompress_failed,
                                     "inflates past its declared size of " +
                                         std::to_string(m.uncompressed_size) + " bytes");
            return with_name(std::move(failure));
        }
        produced = inflated->produced;
    }
    if (produced != m.uncompressed_size)
        return make_error(error_code::decompress_failed,
                          "inflated to " + std::to_string(produced) + " bytes, directory says " +
                              std::to_string(m.uncompressed_size),
                          m.data_offset, m.name);
    if (crc != m.crc32)
        return make_error(error_code::zip_crc_mismatch,
                          "computed " + std::to_string(crc) + ", recorded " + std::to_string(m.crc32),
                          m.data_offset, m.name);
    return {};
}

}  // namespace

result<std::vector<std::byte>> zip_archive::read(const zip_member& m) const {
    detail::bounded_buffer out(limits_.max_decompressed_bytes);
    // The declared size bounds the output (stream_member refuses more). A lying directory can
    // declare far more than the data could inflate to, so reserve no more than deflate's best
    // ratio (about 1032:1) allows for the compressed bytes.
    constexpr uint64_t deflate_max_ratio = 1032;
    uint64_t reachable = m.method == 0 ? m.compressed_size
                                       : std::min<uint64_t>(m.compressed_size, UINT64_MAX / deflate_max_ratio) *
                                                 deflate_max_ratio + 1024;
    if (m.uncompressed_size <= limits_.max_decompressed_bytes) out.reserve(std::min(m.uncompressed_size, reachable));
    STKIT_TRY_VOID(stream_member(archive_, limits_, m, out.sink()));
    return std::move(out.bytes());
}

uint32_t zip_crc32(std::span<const std::byte> bytes, uint32_t crc) noexcept {
    crc = crc32_gzip_refl(crc, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
#if defined(__x86_64__)
    // ISA-L's AVX-512 CRC returns without VZEROUPPER. The dirty upper register state then slows
    // every SSE instruction that follows in this thread (measured: XXH3 from 12 to 5 GB/s, and the
    // conversion's writes 2-3x), so clear it, on CPUs that have the instruction.
    static const bool has_avx = __builtin_cpu_supports("avx");
    if (has_avx) asm volatile("vzeroupper" ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                              "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
#endif
    return crc;
}

result<void> zip_archive::verify_crc(const zip_member& m) const {
    return stream_member(archive_, limits_, m, [](std::span<const std::byte>) -> result<void> { return {}; });
}

}  // namespace stkit
