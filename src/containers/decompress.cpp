// One-shot decompression with bounded output (see stkit/containers/decompress.hpp). Every codec
// streams into a bounded_buffer in 64 KiB chunks, so memory never exceeds the caller's limit however
// much the input claims or expands to.
#include "stkit/containers/decompress.hpp"

#include <bzlib.h>
#include <lz4frame.h>
#include <lzma.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <limits>
#include <string>

#include "containers/stream.hpp"

namespace stkit {
namespace {

// joblib before 0.10 wrote "ZF", the uncompressed length as hex ("0x139", padded with spaces to 19
// characters, one more under Python 2), then a zlib stream (numpy_pickle_compat.write_zfile).
constexpr std::size_t zfile_length_field = 19;
constexpr std::size_t zfile_header = 2 + zfile_length_field;

bool is_hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// The offset of the zlib stream after a ZF header, or 0 when `data` has none.
std::size_t zfile_payload_offset(std::span<const std::byte> data) {
    if (data.size() <= zfile_header) return 0;
    std::string_view text(reinterpret_cast<const char*>(data.data()), zfile_header + 1);
    if (text.substr(0, 2) != "ZF") return 0;
    std::string_view field = text.substr(2, zfile_length_field);
    if (field.substr(0, 2) == "0x") field.remove_prefix(2);
    std::size_t digits = 0;
    while (digits < field.size() && is_hex_digit(field[digits])) ++digits;
    if (digits == 0 || field.find_first_not_of(' ', digits) != std::string_view::npos) return 0;
    return text[zfile_header] == ' ' ? zfile_header + 1 : zfile_header;
}

std::span<const std::byte> head_of(std::span<const std::byte> data, std::size_t count) {
    return data.first(std::min(count, data.size()));
}

bool starts_with(std::span<const std::byte> data, std::initializer_list<uint8_t> magic) {
    if (data.size() < magic.size()) return false;
    return std::equal(magic.begin(), magic.end(), data.begin(),
                      [](uint8_t m, std::byte b) { return static_cast<uint8_t>(b) == m; });
}

// zlib and gzip: one stream for zlib; gzip members may be concatenated (as gzip and Python read them).
result<void> inflate_all(std::span<const std::byte> data, int window_bits, bool members,
                         detail::bounded_buffer& out, uint64_t max_bytes) {
    uint64_t at = 0;
    do {
        STKIT_TRY(auto outcome, detail::inflate_stream(data.subspan(at), window_bits,
                                                       max_bytes - out.bytes().size(), out.sink()));
        at += outcome.consumed;
    } while (members && at < data.size() && starts_with(data.subspan(at), {0x1f, 0x8b}));
    return {};
}

result<void> bunzip(std::span<const std::byte> data, detail::bounded_buffer& out) {
    std::array<std::byte, detail::stream_chunk> chunk;
    std::size_t at = 0;
    // Streams may be concatenated (pbzip2, Python's bz2 module reads them all); there is at least one.
    do {
        bz_stream stream{};
        if (BZ2_bzDecompressInit(&stream, 0, 0) != BZ_OK)
            return make_error(error_code::decompress_failed, "bzip2 could not be initialised");
        std::size_t fed = at;
        int status = BZ_OK;
        result<void> outcome;
        while (status == BZ_OK) {
            if (stream.avail_in == 0 && fed < data.size()) {
                std::size_t count = std::min<std::size_t>(data.size() - fed, std::numeric_limits<unsigned>::max());
                stream.next_in = const_cast<char*>(reinterpret_cast<const char*>(data.data() + fed));
                stream.avail_in = static_cast<unsigned>(count);
                fed += count;
            }
            stream.next_out = reinterpret_cast<char*>(chunk.data());
            stream.avail_out = static_cast<unsigned>(chunk.size());
            status = BZ2_bzDecompress(&stream);
            std::size_t produced = chunk.size() - stream.avail_out;
            if (produced > 0) outcome = out.append(std::span(chunk.data(), produced));
            if (!outcome.ok()) break;
            if (status == BZ_OK && produced == 0 && stream.avail_in == 0 && fed == data.size()) {
                outcome = make_error(error_code::decompress_failed, "bzip2 stream is truncated", fed);
                break;
            }
        }
        std::size_t consumed = fed - stream.avail_in;
        BZ2_bzDecompressEnd(&stream);
        STKIT_TRY_VOID(outcome);
        if (status != BZ_STREAM_END)
            return make_error(error_code::decompress_failed,
                              "bzip2 error " + std::to_string(status), consumed);
        at = consumed;
    } while (starts_with(data.subspan(at), {'B', 'Z', 'h'}));
    return {};
}

result<void> unxz(std::span<const std::byte> data, bool alone, detail::bounded_buffer& out,
                  uint64_t max_bytes) {
    lzma_stream stream = LZMA_STREAM_INIT;
    // The decoder's dictionary is allocated from the header's claim (up to 4 GiB), so it is capped
    // too: enough for every xz preset (-9e: 64 MiB), more only when the output may be larger.
    const uint64_t memory_limit = std::clamp<uint64_t>(max_bytes, uint64_t{128} << 20, uint64_t{1} << 30);
    lzma_ret status = alone ? lzma_alone_decoder(&stream, memory_limit)
                            : lzma_stream_decoder(&stream, memory_limit, LZMA_CONCATENATED);
    if (status != LZMA_OK)
        return make_error(error_code::decompress_failed, "liblzma could not be initialised");
    std::array<std::byte, detail::stream_chunk> chunk;
    stream.next_in = reinterpret_cast<const uint8_t*>(data.data());
    stream.avail_in = data.size();
    result<void> outcome;
    while (outcome.ok()) {
        stream.next_out = reinterpret_cast<uint8_t*>(chunk.data());
        stream.avail_out = chunk.size();
        status = lzma_code(&stream, LZMA_FINISH);
        std::size_t produced = chunk.size() - stream.avail_out;
        if (produced > 0) outcome = out.append(std::span(chunk.data(), produced));
        if (status == LZMA_STREAM_END) break;
        if (status != LZMA_OK && outcome.ok())
            outcome = status == LZMA_MEMLIMIT_ERROR
                          ? make_error(error_code::allocation_limit,
                                       "decoder needs more than " + std::to_string(memory_limit) + " bytes",
                                       data.size() - stream.avail_in)
                          : make_error(error_code::decompress_failed,
                                       "liblzma error " + std::to_string(status),
                                       data.size() - stream.avail_in);
    }
    lzma_end(&stream);
    return outcome;
}

result<void> unlz4(std::span<const std::byte> data, detail::bounded_buffer& out) {
    LZ4F_dctx* context = nullptr;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&context, LZ4F_VERSION)))
        return make_error(error_code::decompress_failed, "lz4 could not be initialised");
    std::array<std::byte, detail::stream_chunk> chunk;
    std::size_t at = 0;
    std::size_t hint = 1;
    result<void> outcome;
    while (outcome.ok() && hint != 0) {
        std::size_t in_size = data.size() - at;
        std::size_t out_size = chunk.size();
        hint = LZ4F_decompress(context, chunk.data(), &out_size, data.data() + at, &in_size, nullptr);
        if (LZ4F_isError(hint)) {
            outcome = make_error(error_code::decompress_failed,
                                 std::string("lz4: ") + LZ4F_getErrorName(hint), at);
            break;
        }
        at += in_size;
        if (out_size > 0) outcome = out.append(std::span(chunk.data(), out_size));
        if (hint != 0 && in_size == 0 && out_size == 0 && outcome.ok())
            outcome = make_error(error_code::decompress_failed, "lz4 frame is truncated", at);
    }
    LZ4F_freeDecompressionContext(context);
    return outcome;
}

}  // namespace

std::string_view compression_name(compression codec) noexcept {
    switch (codec) {
        case compression::none: return "none";
        case compression::zlib: return "zlib";
        case compression::gzip: return "gzip";
        case compression::bz2: return "bz2";
        case compression::xz: return "xz";
        case compression::lzma: return "lzma";
        case compression::lz4: return "lz4";
    }
    return "unknown";
}

compression detect_compression(std::span<const std::byte> head) noexcept {
    if (head.size() >= 2 && static_cast<uint8_t>(head[0]) == 0x78) {
        auto level = static_cast<uint8_t>(head[1]);
        if (level == 0x01 || level == 0x5e || level == 0x9c || level == 0xda) return compression::zlib;
    }
    if (zfile_payload_offset(head) != 0) return compression::zlib;
    if (starts_with(head, {0x1f, 0x8b})) return compression::gzip;
    if (starts_with(head, {'B', 'Z', 'h'}) && head.size() >= 4 &&
        static_cast<uint8_t>(head[3]) >= '1' && static_cast<uint8_t>(head[3]) <= '9')
        return compression::bz2;
    if (starts_with(head, {0xfd, '7', 'z', 'X', 'Z', 0x00})) return compression::xz;
    // lzma-alone has no magic: properties byte 0x5D (lc=3, lp=0, pb=2, what every encoder writes)
    // and a dictionary size whose top byte is zero.
    if (starts_with(head, {0x5d, 0x00, 0x00})) return compression::lzma;
    if (starts_with(head, {0x04, 0x22, 0x4d, 0x18})) return compression::lz4;
    return compression::none;
}

namespace {

result<void> decompress_into(std::span<const std::byte> data, compression codec, uint64_t max_bytes,
                             detail::bounded_buffer& out) {
    switch (codec) {
        case compression::none: return out.append(data);
        case compression::zlib: {
            std::size_t skip = zfile_payload_offset(head_of(data, zfile_header + 1));
            return inflate_all(data.subspan(skip), MAX_WBITS, false, out, max_bytes);
        }
        case compression::gzip: return inflate_all(data, MAX_WBITS + 16, true, out, max_bytes);
        case compression::bz2: return bunzip(data, out);
        case compression::xz: return unxz(data, false, out, max_bytes);
        case compression::lzma: return unxz(data, true, out, max_bytes);
        case compression::lz4: return unlz4(data, out);
    }
    return {};
}

}  // namespace

result<std::vector<std::byte>> decompress(std::span<const std::byte> data, compression codec,
                                          uint64_t max_bytes) {
    detail::bounded_buffer out(max_bytes);
    STKIT_TRY_VOID(decompress_into(data, codec, max_bytes, out));
    return std::move(out.bytes());
}

partial_decompression decompress_prefix(std::span<const std::byte> data, compression codec, uint64_t max_bytes) {
    detail::bounded_buffer out(max_bytes);
    partial_decompression result;
    auto outcome = decompress_into(data, codec, max_bytes, out);
    if (!outcome.ok()) result.failure = std::move(outcome).error();
    result.bytes = std::move(out.bytes());
    return result;
}

}  // namespace stkit
