// Fuzz target: safetensors_file::from_buffer on arbitrary bytes; when the file is accepted, every
// view must lie inside the input, and copying and slicing every tensor must succeed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "stkit/format/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::span<const std::byte> input(reinterpret_cast<const std::byte*>(data), size);
    auto file = stkit::safetensors_file::from_buffer(input);
    if (!file.ok()) return 0;
    std::vector<std::byte> buffer;
    std::vector<stkit::slice_range> ranges;
    for (const stkit::tensor_view& tensor : file->tensors()) {
        if (tensor.data.data() < input.data() || tensor.data.size() > input.size() ||
            tensor.data.data() + tensor.data.size() > input.data() + input.size())
            std::abort();
        if (file->tensor_find(tensor.name) != &tensor) std::abort();
        buffer.resize(tensor.data.size());
        if (!stkit::tensor_copy(tensor, buffer).ok()) std::abort();
        // The back half of every dimension: exercises the strided copy.
        ranges.clear();
        for (uint64_t extent : tensor.shape) ranges.push_back({extent / 2, extent});
        auto slice_size = stkit::tensor_slice_size(tensor, ranges);
        if (!slice_size.ok()) {
            if (slice_size.error().code != stkit::error_code::st_slice_not_byte_aligned) std::abort();
            continue;
        }
        if (*slice_size > tensor.data.size()) std::abort();
        auto sliced = stkit::tensor_slice(tensor, ranges, buffer);
        if (!sliced.ok() || *sliced != *slice_size) std::abort();
    }
    return 0;
}
