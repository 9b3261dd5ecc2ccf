// stkit/containers/decompress.hpp — one-shot decompression of the wrappers joblib and friends use.
// zlib, gzip (zlib), bz2 (libbz2), xz and lzma-alone (liblzma), lz4 frame (liblz4).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "stkit/error.hpp"

namespace stkit {

enum class compression : uint8_t { none, zlib, gzip, bz2, xz, lzma, lz4 };

[[nodiscard]] std::string_view compression_name(compression codec) noexcept;
// Recognises a wrapper by its magic bytes (joblib's own ZF prefix for zlib included); none if none.
[[nodiscard]] compression detect_compression(std::span<const std::byte> head) noexcept;
// Decompresses `data` (for zlib, a joblib "ZF" header is skipped), holding at most `max_bytes`.
// Concatenated gzip members and bz2/xz streams are all read. Errors: decompress_failed (corrupt,
// truncated or empty stream), decompressed_limit (output would exceed max_bytes), allocation_limit
// (an xz/lzma header asks for a dictionary over max(128 MiB, min(max_bytes, 1 GiB))).
[[nodiscard]] result<std::vector<std::byte>> decompress(std::span<const std::byte> data,
                                                        compression codec, uint64_t max_bytes);

// What a streaming reader gets from a stream that fails part way: the bytes produced before the
// corrupt or truncated point, or up to the limit, and why it stopped. A loader that unpickles while
// it decompresses (joblib) runs that prefix before it sees the error.
struct partial_decompression {
    std::vector<std::byte> bytes;
    std::optional<error> failure;  // as decompress() reports it; empty when the stream was whole
};
[[nodiscard]] partial_decompression decompress_prefix(std::span<const std::byte> data, compression codec,
                                                      uint64_t max_bytes);

}  // namespace stkit
