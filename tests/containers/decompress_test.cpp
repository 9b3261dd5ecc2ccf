// decompress() and detect_compression() against streams written by Python's zlib, gzip, bz2 and
// lzma modules, joblib's old "ZF" layout, and lz4 frames made here with liblz4; bounded output
// against a 1 GB bomb.
#include "stkit/containers/decompress.hpp"

#include <lz4frame.h>
#include <sys/resource.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>

#include "containers/fixtures.hpp"

namespace stkit {
namespace {

class decompress_python : public test::scratch_test {
protected:
    void SetUp() override {
        scratch_test::SetUp();
        ASSERT_TRUE(python(R"(
import zlib, gzip, bz2, lzma
payload = b''.join(b'line %d of the payload\n' % i for i in range(20000))
open('payload', 'wb').write(payload)
open('payload.zlib', 'wb').write(zlib.compress(payload, 9))
open('payload.zlib1', 'wb').write(zlib.compress(payload, 1))
open('payload.gz', 'wb').write(gzip.compress(payload))
half = len(payload) // 2
open('payload.gz2', 'wb').write(gzip.compress(payload[:half]) + gzip.compress(payload[half:]))
open('payload.bz2', 'wb').write(bz2.compress(payload))
open('payload.xz', 'wb').write(lzma.compress(payload))
open('payload.lzma', 'wb').write(lzma.compress(payload, format=lzma.FORMAT_ALONE))
# joblib < 0.10 (numpy_pickle_compat.write_zfile): 'ZF', hex length padded to 19, zlib stream.
open('payload.zf', 'wb').write(b'ZF' + ('{:#x}'.format(len(payload))).ljust(19).encode() + zlib.compress(payload))
)"));
        payload_ = bytes("payload");
    }
    std::vector<std::byte> payload_;
};

// An lz4 frame; with `checksum` the frame carries a content checksum, so corruption is detectable
// (python-lz4, which joblib uses, leaves it off by default).
std::vector<std::byte> lz4_frame(std::span<const std::byte> data, bool checksum = false) {
    LZ4F_preferences_t preferences{};
    preferences.frameInfo.contentChecksumFlag = checksum ? LZ4F_contentChecksumEnabled : LZ4F_noContentChecksum;
    std::vector<std::byte> out(LZ4F_compressFrameBound(data.size(), &preferences));
    std::size_t size = LZ4F_compressFrame(out.data(), out.size(), data.data(), data.size(), &preferences);
    EXPECT_FALSE(LZ4F_isError(size));
    out.resize(size);
    return out;
}

TEST_F(decompress_python, every_codec_round_trips) {
    struct row {
        const char* file;
        compression codec;
    };
    for (row r : {row{"payload.zlib", compression::zlib}, row{"payload.zlib1", compression::zlib},
                  row{"payload.gz", compression::gzip}, row{"payload.gz2", compression::gzip},
                  row{"payload.bz2", compression::bz2}, row{"payload.xz", compression::xz},
                  row{"payload.lzma", compression::lzma}, row{"payload.zf", compression::zlib}}) {
        SCOPED_TRACE(r.file);
        auto data = bytes(r.file);
        EXPECT_EQ(detect_compression(data), r.codec);
        auto out = decompress(data, r.codec, payload_.size());
        ASSERT_TRUE(out.ok()) << out.error().to_string();
        EXPECT_EQ(*out, payload_);
        // One byte short of the output is a limit error, for every codec.
        auto limited = decompress(data, r.codec, payload_.size() - 1);
        ASSERT_FALSE(limited.ok());
        EXPECT_EQ(limited.error().code, error_code::decompressed_limit);
        EXPECT_EQ(decompress(data, r.codec, 1).error().code, error_code::decompressed_limit);
    }
    auto lz4 = lz4_frame(payload_);
    EXPECT_EQ(detect_compression(lz4), compression::lz4);
    auto out = decompress(lz4, compression::lz4, payload_.size());
    ASSERT_TRUE(out.ok()) << out.error().to_string();
    EXPECT_EQ(*out, payload_);
    EXPECT_EQ(decompress(lz4, compression::lz4, 1).error().code, error_code::decompressed_limit);
}

TEST_F(decompress_python, truncated_and_corrupt_streams_fail) {
    std::vector<std::pair<std::vector<std::byte>, compression>> streams = {
        {bytes("payload.zlib"), compression::zlib}, {bytes("payload.gz"), compression::gzip},
        {bytes("payload.bz2"), compression::bz2},   {bytes("payload.xz"), compression::xz},
        {bytes("payload.lzma"), compression::lzma}, {lz4_frame(payload_, true), compression::lz4}};
    for (auto& [data, codec] : streams) {
        SCOPED_TRACE(std::string(compression_name(codec)));
        std::vector<std::byte> half(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(data.size() / 2));
        auto truncated = decompress(half, codec, uint64_t{1} << 30);
        ASSERT_FALSE(truncated.ok());
        EXPECT_EQ(truncated.error().code, error_code::decompress_failed);
        std::vector<std::byte> corrupt = data;
        for (std::size_t i = corrupt.size() / 3; i < corrupt.size() / 3 + 64; ++i) corrupt[i] ^= std::byte{0x55};
        auto broken = decompress(corrupt, codec, uint64_t{1} << 30);
        ASSERT_FALSE(broken.ok());
        EXPECT_EQ(broken.error().code, error_code::decompress_failed);
        EXPECT_EQ(decompress({}, codec, 100).error().code, error_code::decompress_failed);
    }
}

TEST(decompress_detect, magic_bytes) {
    auto of = [](std::initializer_list<int> values) {
        std::vector<std::byte> bytes;
        for (int v : values) bytes.push_back(static_cast<std::byte>(v));
        return detect_compression(bytes);
    };
    EXPECT_EQ(of({0x78, 0x01}), compression::zlib);
    EXPECT_EQ(of({0x78, 0x5e}), compression::zlib);
    EXPECT_EQ(of({0x78, 0x9c}), compression::zlib);
    EXPECT_EQ(of({0x78, 0xda}), compression::zlib);
    EXPECT_EQ(of({0x78, 0x00}), compression::none);
    EXPECT_EQ(of({0x1f, 0x8b}), compression::gzip);
    EXPECT_EQ(of({'B', 'Z', 'h', '9'}), compression::bz2);
    EXPECT_EQ(of({'B', 'Z', 'h', 'x'}), compression::none);
    EXPECT_EQ(of({0xfd, '7', 'z', 'X', 'Z', 0}), compression::xz);
    EXPECT_EQ(of({0x5d, 0, 0, 0x80, 0}), compression::lzma);
    EXPECT_EQ(of({0x04, 0x22, 0x4d, 0x18}), compression::lz4);
    EXPECT_EQ(of({0x80, 0x04, 0x95}), compression::none);  // a pickle
    EXPECT_EQ(of({}), compression::none);
    EXPECT_EQ(detect_compression(test::to_bytes("ZF0x139              x")), compression::zlib);
    EXPECT_EQ(detect_compression(test::to_bytes("ZFnot hex at all here")), compression::none);
    EXPECT_EQ(compression_name(compression::lz4), "lz4");
    EXPECT_EQ(compression_name(compression::none), "none");
}

TEST(decompress_bounds, lzma_dictionary_claims_are_capped) {
    // An lzma-alone header: properties 0x5D, a 4 GiB - 1 dictionary, unknown size, then junk.
    std::vector<std::byte> header = {std::byte{0x5d}, std::byte{0xff}, std::byte{0xff},
                                     std::byte{0xff}, std::byte{0xff}};
    header.resize(header.size() + 8, std::byte{0xff});
    header.resize(header.size() + 32, std::byte{0});
    auto out = decompress(header, compression::lzma, 1 << 20);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.error().code, error_code::allocation_limit);
}

TEST(decompress_bounds, none_copies_within_the_limit) {
    auto text = test::to_bytes("abc");
    EXPECT_EQ(*decompress(text, compression::none, 3), text);
    EXPECT_EQ(decompress(text, compression::none, 2).error().code, error_code::decompressed_limit);
}

long peak_rss_kib() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}

// A valid gzip stream of 1 GiB of zeros (about 1 MiB), made without deflating 1 GiB: after a full
// flush a deflate block does not depend on earlier data, so the block for 1 MiB of zeros is
// repeated, then closed with an empty final block and the trailer (CRC-32 and size of 1 GiB).
std::vector<std::byte> gzip_bomb(unsigned mebibytes) {
    std::vector<std::byte> zeros(std::size_t{1} << 20);
    std::vector<std::byte> first(std::size_t{64} << 10), block(std::size_t{64} << 10);
    z_stream z{};
    EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
    auto compress_chunk = [&](std::vector<std::byte>& out) {
        z.next_in = reinterpret_cast<Bytef*>(zeros.data());
        z.avail_in = static_cast<uInt>(zeros.size());
        z.next_out = reinterpret_cast<Bytef*>(out.data());
        z.avail_out = static_cast<uInt>(out.size());
        EXPECT_EQ(deflate(&z, Z_FULL_FLUSH), Z_OK);
        EXPECT_EQ(z.avail_in, 0u);
        out.resize(out.size() - z.avail_out);
    };
    compress_chunk(first);  // gzip header + the first block
    compress_chunk(block);
    deflateEnd(&z);
    uLong crc_chunk = crc32(0, reinterpret_cast<const Bytef*>(zeros.data()), static_cast<uInt>(zeros.size()));
    uLong crc = crc_chunk;
    std::vector<std::byte> bomb = first;
    for (unsigned i = 1; i < mebibytes; ++i) {
        bomb.insert(bomb.end(), block.begin(), block.end());
        crc = crc32_combine(crc, crc_chunk, static_cast<z_off_t>(zeros.size()));
    }
    uint64_t size = uint64_t{mebibytes} << 20;
    bomb.push_back(std::byte{0x03});  // final fixed-Huffman block holding only end-of-block
    bomb.push_back(std::byte{0x00});
    for (int i = 0; i < 4; ++i) bomb.push_back(static_cast<std::byte>((crc >> (8 * i)) & 0xff));
    for (int i = 0; i < 4; ++i) bomb.push_back(static_cast<std::byte>((size >> (8 * i)) & 0xff));
    return bomb;
}

TEST(decompress_bounds, bomb_builder_makes_a_valid_stream) {
    auto small = gzip_bomb(3);
    auto out = decompress(small, compression::gzip, uint64_t{3} << 20);
    ASSERT_TRUE(out.ok()) << out.error().to_string();
    EXPECT_EQ(out->size(), std::size_t{3} << 20);
    EXPECT_EQ(std::count(out->begin(), out->end(), std::byte{0}), static_cast<std::ptrdiff_t>(out->size()));
}

TEST(decompress_bounds, one_gigabyte_bomb_stops_at_the_limit) {
    auto bomb = gzip_bomb(1024);
    EXPECT_LT(bomb.size(), std::size_t{4} << 20);
    long before = peak_rss_kib();
    auto start = std::chrono::steady_clock::now();
    auto out = decompress(bomb, compression::gzip, uint64_t{1} << 20);
    auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.error().code, error_code::decompressed_limit);
    EXPECT_LT(std::chrono::duration_cast<std::chrono::seconds>(elapsed).count(), 2);
    // The peak may only grow by about the limit (plus the decoder's window), never by the bomb.
    EXPECT_LT(peak_rss_kib() - before, 16 * 1024);
}

}  // namespace
}  // namespace stkit
