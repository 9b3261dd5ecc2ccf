// Bounded output and zlib streaming (see stream.hpp).
#include "containers/stream.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <limits>
#include <string>

namespace stkit::detail {

error limit_error(uint64_t max_bytes) {
    return make_error(error_code::decompressed_limit,
                      "output exceeds the limit of " + std::to_string(max_bytes) + " bytes");
}

result<void> bounded_buffer::append(std::span<const std::byte> chunk) {
    if (chunk.size() > limit_ - bytes_.size()) return limit_error(limit_);
    std::size_t needed = bytes_.size() + chunk.size();
    if (needed > bytes_.capacity()) {
        // Grow geometrically, but never reserve past the limit.
        uint64_t grown = std::max<uint64_t>(needed, uint64_t{bytes_.capacity()} * 2);
        bytes_.reserve(static_cast<std::size_t>(std::min<uint64_t>(grown, limit_)));
    }
    bytes_.insert(bytes_.end(), chunk.begin(), chunk.end());
    return {};
}

namespace {

// zlib counts in uInt; feed it at most this much input per call.
constexpr std::size_t max_zlib_input = std::numeric_limits<uInt>::max();

struct inflater {
    z_stream stream{};
    bool ready = false;
    ~inflater() {
        if (ready) inflateEnd(&stream);
    }
};

}  // namespace

result<inflate_outcome> inflate_stream(std::span<const std::byte> input, int window_bits,
                                       uint64_t max_bytes, const chunk_sink& sink) {
    inflater z;
    if (inflateInit2(&z.stream, window_bits) != Z_OK)
        return make_error(error_code::decompress_failed, "zlib could not be initialised");
    z.ready = true;
    std::array<std::byte, stream_chunk> out;
    inflate_outcome outcome;
    std::size_t fed = 0;
    for (;;) {
        if (z.stream.avail_in == 0 && fed < input.size()) {
            std::size_t count = std::min(input.size() - fed, max_zlib_input);
            // zlib's API takes a non-const pointer but never writes through next_in.
            z.stream.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(input.data() + fed));
            z.stream.avail_in = static_cast<uInt>(count);
            fed += count;
        }
        z.stream.next_out = reinterpret_cast<Bytef*>(out.data());
        z.stream.avail_out = static_cast<uInt>(out.size());
        int status = inflate(&z.stream, Z_NO_FLUSH);
        std::size_t produced = out.size() - z.stream.avail_out;
        uint64_t consumed = fed - z.stream.avail_in;
        if (status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR)
            return make_error(error_code::decompress_failed,
                              std::string("inflate: ") + (z.stream.msg ? z.stream.msg : "corrupt data"),
                              consumed);
        if (produced > max_bytes - outcome.produced) return limit_error(max_bytes);
        outcome.produced += produced;
        if (produced > 0) STKIT_TRY_VOID(sink(std::span<const std::byte>(out.data(), produced)));
        if (status == Z_STREAM_END) {
            outcome.consumed = consumed;
            return outcome;
        }
        // No progress possible: the input ended before the stream did.
        if (produced == 0 && z.stream.avail_in == 0 && fed == input.size())
            return make_error(error_code::decompress_failed, "compressed stream is truncated",
                              consumed);
    }
}

}  // namespace stkit::detail
