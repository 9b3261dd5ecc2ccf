// Fuzz target: detect_compression, then decompress with every codec under a 1 MiB limit.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "stkit/containers/decompress.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::span<const std::byte> input(reinterpret_cast<const std::byte*>(data), size);
    constexpr uint64_t limit = 1 << 20;
    (void)stkit::detect_compression(input);
    using stkit::compression;
    for (compression codec : {compression::zlib, compression::gzip, compression::bz2, compression::xz,
                              compression::lzma, compression::lz4}) {
        auto out = stkit::decompress(input, codec, limit);
        if (out.ok() && out->size() > limit) std::abort();
    }
    return 0;
}
