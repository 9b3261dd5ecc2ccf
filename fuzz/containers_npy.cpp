// Fuzz target: npy_parse on arbitrary bytes; when it succeeds, the data span must lie in the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "stkit/containers/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::span<const std::byte> file(reinterpret_cast<const std::byte*>(data), size);
    auto array = stkit::npy_parse(file);
    if (!array.ok()) return 0;
    const std::byte* end = file.data() + file.size();
    if (array->data.data() < file.data() || array->data.data() + array->data.size() != end) std::abort();
    return 0;
}
