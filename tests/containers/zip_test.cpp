// zip_archive against archives written by Python's zipfile and torch.save, and against hand-made
// broken archives, one per error code or anomaly.
#include "stkit/containers/zip.hpp"

#include <zlib.h>

#include <algorithm>
#include <optional>

#include "containers/fixtures.hpp"

namespace stkit {
namespace {

using test::to_bytes;
using test::to_text;

// ---- A small zip writer for hand-made archives -------------------------------------------------

struct spec_entry {
    std::string name;
    std::string data;                       // as stored (already deflated when method is 8)
    std::string plain;                      // uncompressed content (for the CRC and size)
    uint16_t method = 0;
    uint16_t flags = 0;
    std::optional<std::string> local_name;  // differs from name when set
    std::optional<uint32_t> crc;            // recorded CRC when it should be wrong
    std::optional<uint64_t> local_offset;   // central's local header offset when it should be wrong
    std::optional<uint16_t> local_method;   // local header method when it should differ
    std::optional<uint32_t> size;           // both sizes, everywhere, when they should lie
};

struct spec {
    std::vector<spec_entry> entries;
    std::string before;    // bytes before the first local header
    std::string comment;
    std::string trailing;  // bytes after the end record and its comment
    bool zip64 = false;
};

void put16(std::string& out, uint64_t v) {
    for (int i = 0; i < 2; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put32(std::string& out, uint64_t v) {
    for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put64(std::string& out, uint64_t v) {
    for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

uint32_t crc_of(std::string_view text) {
    return static_cast<uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(text.data()), static_cast<uInt>(text.size())));
}

std::string raw_deflate(std::string_view text) {
    z_stream z{};
    EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    std::string out(deflateBound(&z, static_cast<uLong>(text.size())), '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    z.avail_in = static_cast<uInt>(text.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

spec_entry stored(std::string name, std::string content) {
    spec_entry e;
    e.name = std::move(name);
    e.data = content;
    e.plain = std::move(content);
    return e;
}

spec_entry deflated(std::string name, std::string content) {
    spec_entry e;
    e.name = std::move(name);
    e.data = raw_deflate(content);
    e.plain = std::move(content);
    e.method = 8;
    return e;
}

std::vector<std::byte> build(const spec& s) {
    std::string out = s.before;
    std::vector<uint64_t> offsets;
    const uint64_t big = 0xFFFFFFFF;
    for (const spec_entry& e : s.entries) {
        offsets.push_back(out.size());
        std::string local_name = e.local_name.value_or(e.name);
        put32(out, 0x04034b50);
        put16(out, s.zip64 ? 45 : 20);
        put16(out, e.flags);
        put16(out, e.local_method.value_or(e.method));
        put32(out, 0);
        put32(out, e.crc.value_or(crc_of(e.plain)));
        put32(out, s.zip64 ? big : e.size.value_or(e.data.size()));
        put32(out, s.zip64 ? big : e.size.value_or(e.plain.size()));
        put16(out, local_name.size());
        put16(out, s.zip64 ? 20 : 0);
        out += local_name;
        if (s.zip64) {
            put16(out, 1);
            put16(out, 16);
            put64(out, e.plain.size());
            put64(out, e.data.size());
        }
        out += e.data;
    }
    uint64_t directory_offset = out.size();
    for (std::size_t i = 0; i < s.entries.size(); ++i) {
        const spec_entry& e = s.entries[i];
        uint64_t local_offset = e.local_offset.value_or(offsets[i]);
        put32(out, 0x02014b50);
        put16(out, 45);
        put16(out, s.zip64 ? 45 : 20);
        put16(out, e.flags);
        put16(out, e.method);
        put32(out, 0);
        put32(out, e.crc.value_or(crc_of(e.plain)));
        put32(out, s.zip64 ? big : e.size.value_or(e.data.size()));
        put32(out, s.zip64 ? big : e.size.value_or(e.plain.size()));
        put16(out, e.name.size());
        put16(out, s.zip64 ? 28 : 0);
        put16(out, 0);
        put16(out, 0);
        put16(out, 0);
        put32(out, 0);
        put32(out, s.zip64 ? big : local_offset);
        out += e.name;
        if (s.zip64) {
            put16(out, 1);
            put16(out, 24);
            put64(out, e.plain.size());
            put64(out, e.data.size());
            put64(out, local_offset);
        }
    }
    uint64_t directory_size = out.size() - directory_offset;
    if (s.zip64) {
        uint64_t record = out.size();
        put32(out, 0x06064b50);
        put64(out, 44);
        put16(out, 45);
        put16(out, 45);
        put32(out, 0);
        put32(out, 0);
        put64(out, s.entries.size());
        put64(out, s.entries.size());
        put64(out, directory_size);
        put64(out, directory_offset);
        put32(out, 0x07064b50);
        put32(out, 0);
        put64(out, record);
        put32(out, 1);
    }
    put32(out, 0x06054b50);
    put16(out, 0);
    put16(out, 0);
    put16(out, s.zip64 ? 0xFFFF : s.entries.size());
    put16(out, s.zip64 ? 0xFFFF : s.entries.size());
    put32(out, s.zip64 ? big : directory_size);
    put32(out, s.zip64 ? big : directory_offset);
    put16(out, s.comment.size());
    out += s.comment;
    out += s.trailing;
    return to_bytes(out);
}

bool has_anomaly(const zip_archive& zip, zip_anomaly_kind kind, std::string_view member) {
    return std::any_of(zip.anomalies().begin(), zip.anomalies().end(), [&](const zip_anomaly& a) {
        return a.kind == kind && a.member == member;
    });
}

// ---- Hand-made archives ------------------------------------------------------------------------

// zip_crc32 (ISA-L) must give zlib's CRC-32 for every length (the folding code has separate paths
// for tails under 16, 64 and 256 bytes and for unaligned starts), and continue across pieces.
TEST(zip_crc, equals_zlib_for_every_length_alignment_and_split) {
    std::vector<std::byte> bytes(70'000);
    uint32_t state = 12345;
    for (std::byte& b : bytes) {
        state = state * 1103515245u + 12345u;
        b = static_cast<std::byte>(state >> 24);
    }
    auto zlib = [](std::span<const std::byte> part) {
        return static_cast<uint32_t>(crc32_z(0, reinterpret_cast<const Bytef*>(part.data()), part.size()));
    };
    EXPECT_EQ(zip_crc32({}), 0u);
    for (std::size_t start = 0; start < 9; ++start)
        for (std::size_t length = 0; length < 600; ++length) {
            auto part = std::span<const std::byte>(bytes).subspan(start, length);
            ASSERT_EQ(zip_crc32(part), zlib(part)) << "start " << start << ", length " << length;
        }
    auto all = std::span<const std::byte>(bytes);
    for (std::size_t split : {1u, 15u, 64u, 255u, 4096u, 65'537u}) {
        uint32_t crc = zip_crc32(all.subspan(split), zip_crc32(all.first(split)));
        EXPECT_EQ(crc, zlib(all)) << "split at " << split;
    }
}

TEST(zip_handmade, reads_stored_and_deflated_members) {
    std::string text(5000, 'x');
    for (std::size_t i = 0; i < text.size(); i += 7) text[i] = static_cast<char>('a' + i % 26);
    auto bytes = build({{stored("a/one.txt", "hello"), deflated("a/two.txt", text)}, "", "", "", false});
    auto zip = zip_archive::open(bytes);
    ASSERT_TRUE(zip.ok()) << zip.error().to_string();
    ASSERT_EQ(zip->members().size(), 2u);
    EXPECT_TRUE(zip->anomalies().empty());
    EXPECT_EQ(zip->common_prefix(), "a/");
    const zip_member* one = zip->find("a/one.txt");
    ASSERT_NE(one, nullptr);
    EXPECT_EQ(one->data_offset, 30u + 9u);
    auto view = zip->stored_bytes(*one);
    ASSERT_TRUE(view.ok());
    EXPECT_EQ(to_text(*view), "hello");
    const zip_member* two = zip->find("a/two.txt");
    ASSERT_NE(two, nullptr);
    auto inflated = zip->read(*two);
    ASSERT_TRUE(inflated.ok()) << inflated.error().to_string();
    EXPECT_EQ(to_text(*inflated), text);
    EXPECT_TRUE(zip->verify_crc(*two).ok());
    EXPECT_EQ(zip->stored_bytes(*two).error().code, error_code::zip_unsupported_compression);
    EXPECT_EQ(zip->find("missing"), nullptr);
}

TEST(zip_handmade, zip64_records_and_extra_fields) {
    spec s{{stored("x/data.pkl", "pickle"), deflated("x/data/0", std::string(300, '\7'))}, "", "", "", true};
    auto file = build(s);
    auto zip = zip_archive::open(file);
    ASSERT_TRUE(zip.ok()) << zip.error().to_string();
    ASSERT_EQ(zip->members().size(), 2u);
    EXPECT_TRUE(zip->anomalies().empty());
    const zip_member& second = zip->members()[1];
    EXPECT_EQ(second.uncompressed_size, 300u);
    EXPECT_EQ(second.data_offset, second.local_header_offset + 30 + 8 + 20);
    auto bytes = zip->read(second);
    ASSERT_TRUE(bytes.ok()) << bytes.error().to_string();
    EXPECT_EQ(to_text(*bytes), std::string(300, '\7'));
}

TEST(zip_handmade, truncated_end_record_is_not_a_zip) {
    auto bytes = build({{stored("a", "1")}, "", "", "", false});
    bytes.resize(bytes.size() - 10);
    auto zip = zip_archive::open(bytes);
    ASSERT_FALSE(zip.ok());
    EXPECT_EQ(zip.error().code, error_code::zip_not_zip);
    EXPECT_EQ(zip_archive::open(std::span<const std::byte>()).error().code, error_code::zip_not_zip);
}

TEST(zip_handmade, central_entry_pointing_past_the_end) {
    spec s{{stored("a", "1"), stored("b", "2")}, "", "", "", false};
    s.entries[1].local_offset = 1'000'000;
    auto file = build(s);
    auto zip = zip_archive::open(file);
    ASSERT_FALSE(zip.ok());
    EXPECT_EQ(zip.error().code, error_code::zip_invalid_directory);
    EXPECT_EQ(zip.error().name, "b");
    EXPECT_TRUE(zip.error().has_offset());
}

TEST(zip_handmade, directory_outside_the_file) {
    auto bytes = build({{stored("a", "1")}, "", "", "", false});
    // The directory offset field is 6 bytes before the comment length at the very end.
    std::size_t field = bytes.size() - 6;
    bytes[field + 3] = std::byte{0x7f};
    EXPECT_EQ(zip_archive::open(bytes).error().code, error_code::zip_invalid_directory);
}

TEST(zip_handmade, member_data_past_the_end_and_bad_local_signature) {
    spec s{{stored("a", "1"), stored("b", "2")}, "", "", "", false};
    s.entries[1].local_offset = 0;  // "b" points at a's header: name mismatch, and overlap
    auto file = build(s);
    auto zip = zip_archive::open(file);
    ASSERT_TRUE(zip.ok());
    EXPECT_TRUE(has_anomaly(*zip, zip_anomaly_kind::name_mismatch, "b"));
    EXPECT_TRUE(has_anomaly(*zip, zip_anomaly_kind::overlapping_members, "b") ||
                has_anomaly(*zip, zip_anomaly_kind::overlapping_members, "a"));

    s.entries[1].local_offset = 2;  // not a local header signature
    auto other_file = build(s);
    auto bad = zip_archive::open(other_file);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, error_code::zip_invalid_local_header);
    EXPECT_EQ(bad.error().name, "b");
    EXPECT_EQ(bad.error().offset, 2u);

    // A local name long enough to run past the file.
    auto bytes = build({{stored("a", "1")}, "", "", "", false});
    bytes[26] = std::byte{0xff};
    auto past = zip_archive::open(bytes);
    ASSERT_FALSE(past.ok());
    EXPECT_EQ(past.error().code, error_code::zip_invalid_local_header);
}

TEST(zip_handmade, overlaps_behind_a_long_member_and_into_the_directory) {
    spec s{{stored("long", std::string(100, 'L')), stored("x", "1"), stored("y", "2")}, "", "", "", false};
    s.entries[1].local_offset = 40;  // inside "long", as is "y" below
    s.entries[2].local_offset = 80;
    auto bytes = build(s);
    // Make the bytes at 40 and 80 look like the local headers of "x" and "y": copy them there.
    std::size_t x_at = 30 + 4 + 100, y_at = x_at + 30 + 1 + 1;
    std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(x_at), 32, bytes.begin() + 40);
    std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(y_at), 32, bytes.begin() + 80);
    auto zip = zip_archive::open(bytes);
    ASSERT_TRUE(zip.ok()) << zip.error().to_string();
    EXPECT_TRUE(has_anomaly(*zip, zip_anomaly_kind::overlapping_members, "x"));
    EXPECT_TRUE(has_anomaly(*zip, zip_anomaly_kind::overlapping_members, "y"));

    spec into{{stored("a", "1")}, "", "", "", false};
    into.entries[0].size = 40;  // its data would run over the central directory
    auto file = build(into);
    auto over = zip_archive::open(file);
    ASSERT_TRUE(over.ok()) << over.error().to_string();
    EXPECT_TRUE(has_anomaly(*over, zip_anomaly_kind::overlapping_members, "a"));
    EXPECT_FALSE(over->read(over->members()[0]).ok());
}

TEST(zip_handmade, local_name_mismatch_and_duplicates) {
    spec s{{stored("data.pkl", "good"), stored("data.pkl", "evil"), stored("c", "3")}, "", "", "", false};
    s.entries[2].local_name = "hidden.pkl";
    auto file = build(s);
    auto zip = zip_archive::open(file);
    ASSERT_TRUE(zip.ok());
    EXPECT_TRUE(has_anomaly(*zip, zip_anomaly_kind::duplicate_name, "data.pkl"));
    EXPECT_TRUE(has_anomaly(*zip, zip_anomaly_kind::name_mismatch, "c"));
    EXPECT_EQ(zip->members()[2].local_name, "hidden.pkl");
    // find() gives the first of the duplicates, as the first central entry is what PyTorch reads.
    auto first = zip->read(*zip->find("data.pkl"));
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(to_text(*first), "good");
}

TEST(zip_handmade, flag_bits) {
    spec s{{stored("enc", "1"), stored("patch", "2"), stored("strong", "3"), stored("odd", "4"), stored("low", "5")},
           "", "", "", false};
    s.entries[0].flags = 0x0001;
    s.entries[1].flags = 0x0020;
    s.entries[2].flags = 0x0041;
    s.entries[3].flags = 0x4000;
    s.entries[4].flags = 0x0010;
    auto file = build(s);
    auto zip = zip_archive::open(file);
    ASSERT_TRUE(zip.ok());
    EXPECT_TRUE(has_anomaly(*zip, zip_anomaly_kind::encrypted, "enc"));
    EXPECT_TRUE(has_anomaly(*zip, zip_anomaly_kind::patch_data, "patch"));
    EXPECT_TRUE(has_anomaly(*zip, zip_anomaly_kind::strong_encryption, "strong"));
    EXPECT_TRUE(has_anomaly(*zip, zip_anomaly_kind::unknown_flags, "odd"));
    EXPECT_FALSE(has_anomaly(*zip, zip_anomaly_kind::unknown_flags, "enc"));
    EXPECT_EQ(zip->read(zip->members()[0]).error().code, error_code::zip_encrypted);
    EXPECT_EQ(zip->stored_bytes(zip->members()[2]).error().code, error_code::zip_encrypted);
    EXPECT_TRUE(zip->read(zip->members()[3]).ok());
    auto detail_of = [&](std::string_view member) {
        for (const zip_anomaly& a : zip->anomalies())
            if (a.kind == zip_anomaly_kind::unknown_flags && a.member == member) return a.detail;
        return std::string("(none)");
    };
    EXPECT_EQ(detail_of("odd"), "reserved flag bits 0x4000");
    EXPECT_EQ(detail_of("low"), "reserved flag bits 0x0010");
}

TEST(zip_handmade, crc_mismatch) {
    spec s{{stored("a", "payload"), deflated("b", "payload payload")}, "", "", "", false};
    s.entries[0].crc = 1234;
    s.entries[1].crc = 5678;
    auto file = build(s);
    auto zip = zip_archive::open(file);
    ASSERT_TRUE(zip.ok());
    for (const zip_member& m : zip->members()) {
        auto bytes = zip->read(m);
        ASSERT_FALSE(bytes.ok());
        EXPECT_EQ(bytes.error().code, error_code::zip_crc_mismatch);
        EXPECT_EQ(bytes.error().name, m.name);
        EXPECT_EQ(zip->verify_crc(m).error().code, error_code::zip_crc_mismatch);
    }
    // The zero-copy view does not check: callers that need it call verify_crc.
    EXPECT_TRUE(zip->stored_bytes(zip->members()[0]).ok());
}

TEST(zip_handmade, local_header_differs_and_unsupported_method) {
    spec s{{stored("a", "1"), stored("b", "2")}, "", "", "", false};
    s.entries[0].local_method = 8;
    s.entries[1].method = 12;  // bzip2 in zip: not something PyTorch writes
    auto file = build(s);
    auto zip = zip_archive::open(file);
    ASSERT_TRUE(zip.ok());
    EXPECT_TRUE(has_anomaly(*zip, zip_anomaly_kind::local_header_differs, "a"));
    EXPECT_EQ(zip->read(zip->members()[1]).error().code, error_code::zip_unsupported_compression);
}

TEST(zip_handmade, prepended_and_trailing_data) {
    spec s{{stored("a", "1")}, "#!/bin/sh\n", "a comment", "junk", false};
    // Local offsets are absolute here, so the prepended bytes are "data before the first member".
    auto file = build(s);
    auto zip = zip_archive::open(file);
    ASSERT_TRUE(zip.ok()) << zip.error().to_string();
    EXPECT_TRUE(has_anomaly(*zip, zip_anomaly_kind::data_before_first, ""));
    EXPECT_TRUE(has_anomaly(*zip, zip_anomaly_kind::trailing_data, ""));
    EXPECT_EQ(to_text(*zip->read(zip->members()[0])), "1");
}

TEST(zip_handmade, corrupt_and_overlong_deflate) {
    spec s{{deflated("a", std::string(1000, 'q'))}, "", "", "", false};
    s.entries[0].data[0] = static_cast<char>(0xff);  // reserved block type
    auto file = build(s);
    auto zip = zip_archive::open(file);
    ASSERT_TRUE(zip.ok());
    EXPECT_EQ(zip->read(zip->members()[0]).error().code, error_code::decompress_failed);

    // The directory claims fewer bytes than the stream inflates to.
    spec_entry liar = deflated("b", std::string(1000, 'q'));
    liar.plain = std::string(10, 'q');
    auto other_file = build({{liar}, "", "", "", false});
    auto lying = zip_archive::open(other_file);
    ASSERT_TRUE(lying.ok());
    auto bytes = lying->read(lying->members()[0]);
    ASSERT_FALSE(bytes.ok());
    EXPECT_EQ(bytes.error().code, error_code::decompress_failed);
    EXPECT_EQ(bytes.error().name, "b");
}

TEST(zip_limits_test, member_limit_of_one) {
    auto bytes = build({{stored("a", "1"), stored("b", "2")}, "", "", "", false});
    zip_limits limits;
    limits.max_members = 1;
    auto zip = zip_archive::open(bytes, limits);
    ASSERT_FALSE(zip.ok());
    EXPECT_EQ(zip.error().code, error_code::zip_member_limit);
    auto file = build({{stored("a", "1")}, "", "", "", false});
    EXPECT_TRUE(zip_archive::open(file, limits).ok());
}

TEST(zip_limits_test, decompressed_limit_of_one) {
    auto bytes = build({{stored("a", "12"), deflated("b", "345")}, "", "", "", false});
    zip_limits limits;
    limits.max_decompressed_bytes = 1;
    auto zip = zip_archive::open(bytes, limits);
    ASSERT_TRUE(zip.ok());
    for (const zip_member& m : zip->members()) {
        EXPECT_EQ(zip->read(m).error().code, error_code::decompressed_limit);
        EXPECT_EQ(zip->verify_crc(m).error().code, error_code::decompressed_limit);
    }
}

TEST(zip_handmade, every_truncation_loses_the_end_record) {
    spec s{{stored("a/x", "abc"), deflated("a/y", std::string(100, 'z'))}, "", "c", "", true};
    auto whole = build(s);
    for (std::size_t size = 0; size < whole.size(); ++size) {
        auto zip = zip_archive::open(std::span<const std::byte>(whole.data(), size));
        ASSERT_FALSE(zip.ok()) << size;
        EXPECT_EQ(zip.error().code, error_code::zip_not_zip) << size;
    }
}

TEST(zip_handmade, every_single_byte_change_is_read_or_refused) {
    spec s{{stored("a/x", "abc"), deflated("a/y", std::string(100, 'z'))}, "", "", "", true};
    auto whole = build(s);
    std::size_t opened = 0;
    for (std::size_t at = 0; at < whole.size(); ++at) {
        auto changed = whole;
        changed[at] ^= std::byte{0x5a};
        auto zip = zip_archive::open(changed);
        if (!zip.ok()) {
            EXPECT_NE(zip.error().code, error_code::ok);
            continue;
        }
        ++opened;
        for (const zip_member& m : zip->members()) {
            auto bytes = zip->read(m);
            if (bytes.ok()) {
                EXPECT_LE(bytes->size(), m.uncompressed_size);
            }
        }
    }
    EXPECT_GT(opened, 0u);  // changes to names and data still open
}

}  // namespace
}  // namespace stkit
