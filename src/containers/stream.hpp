// Internals shared by the zip reader, the decompressors and the archive reader: output that grows
// only up to a limit, and zlib inflation streamed into a sink in fixed-size chunks.
#pragma once

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "stkit/error.hpp"

namespace stkit::detail {

// Receives decompressed output chunk by chunk; an error stops decompression.
using chunk_sink = std::function<result<void>(std::span<const std::byte>)>;

// Output chunk size of every streaming decoder here.
inline constexpr std::size_t stream_chunk = std::size_t{64} << 10;

// A byte vector that never holds (or reserves) more than `limit` bytes: append() fails with
// decompressed_limit instead, so a decompression bomb costs at most `limit` bytes of memory.
class bounded_buffer {
public:
    explicit bounded_buffer(uint64_t limit) noexcept : limit_(limit) {}
    [[nodiscard]] result<void> append(std::span<const std::byte> chunk);
    // Reserves room for output whose size is known in advance (never past the limit), so a large
    // result is one allocation instead of a doubling series that briefly holds 1.5× its size.
    void reserve(uint64_t expected) { bytes_.reserve(static_cast<std::size_t>(std::min(expected, limit_))); }
    [[nodiscard]] std::vector<std::byte>& bytes() noexcept { return bytes_; }
    [[nodiscard]] chunk_sink sink() {
        return [this](std::span<const std::byte> chunk) { return append(chunk); };
    }

private:
    uint64_t limit_;
    std::vector<std::byte> bytes_;
};

struct inflate_outcome {
    uint64_t consumed = 0;  // input bytes up to the end of the stream
    uint64_t produced = 0;  // output bytes
};

// Inflates one stream from `input` (window_bits as zlib's inflateInit2: -15 raw deflate, 15 zlib,
// 31 gzip), passing output to `sink`, stopping at the stream's end. Errors: decompress_failed
// (corrupt or truncated stream; offsets relative to `input`), decompressed_limit (more than
// `max_bytes` of output), or the sink's error.
[[nodiscard]] result<inflate_outcome> inflate_stream(std::span<const std::byte> input,
                                                     int window_bits, uint64_t max_bytes,
                                                     const chunk_sink& sink);

// The error for output that would pass `max_bytes`.
[[nodiscard]] error limit_error(uint64_t max_bytes);

}  // namespace stkit::detail
