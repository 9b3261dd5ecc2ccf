// Fuzz target: read → write → read. Any file the reader accepts must be written by the writer and
// read back with the same tensors (name, dtype, shape, bytes) and metadata.
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <string>

#include "stkit/format/safetensors.hpp"
#include "stkit/format/writer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::span<const std::byte> input(reinterpret_cast<const std::byte*>(data), size);
    auto file = stkit::safetensors_file::from_buffer(input);
    if (!file.ok() || file->bytes().size() > (std::size_t{1} << 20)) return 0;
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("stkit_fuzz_roundtrip_" + std::to_string(::getpid()) + ".safetensors");
    auto writer = stkit::safetensors_writer::create(path, true);
    if (!writer.ok()) return 0;  // no writable temp folder: nothing to check
    for (const stkit::tensor_view& t : file->tensors())
        if (!writer->declare(std::string(t.name), t.type, {t.shape.begin(), t.shape.end()}).ok()) std::abort();
    for (const auto& [key, value] : file->metadata())
        if (!writer->set_metadata(key, value).ok()) std::abort();
    auto order = writer->layout();
    if (!order.ok()) std::abort();
    for (const stkit::planned_tensor& t : *order)
        if (!writer->write_tensor(t.name, file->tensor_find(t.name)->data).ok()) std::abort();
    if (!writer->commit().ok()) std::abort();
    {
        auto again = stkit::safetensors_file::open(path);
        if (!again.ok() || again->tensor_count() != file->tensor_count()) std::abort();
        for (const stkit::tensor_view& t : file->tensors()) {
            const stkit::tensor_view* u = again->tensor_find(t.name);
            if (!u || u->type != t.type || !std::equal(u->shape.begin(), u->shape.end(), t.shape.begin(), t.shape.end()) ||
                !std::equal(u->data.begin(), u->data.end(), t.data.begin(), t.data.end()))
                std::abort();
        }
        for (const auto& [key, value] : file->metadata()) {
            auto it = again->metadata().find(key);
            if (it == again->metadata().end() || it->second != value) std::abort();
        }
    }
    std::filesystem::remove(path);
    return 0;
}
