// Writing a planned checkpoint with the streaming safetensors writer, and verifying the result.
#include "convert/output.hpp"

#include <algorithm>
#include <cstring>
#include <map>

#include "convert/internal.hpp"
#include "stkit/format/safetensors.hpp"

namespace stkit::convert::detail {
namespace {

std::map<std::string, std::string> planned_metadata(const checkpoint& plan) {
    std::map<std::string, std::string> metadata{{"format", "pt"}};
    for (const alias_entry& alias : plan.aliases) metadata.emplace(alias.alias, alias.kept);
    return metadata;
}

error mismatch(const source_tensor& tensor, std::string detail) {
    return make_error(error_code::cv_verify_failed, std::move(detail), no_offset, tensor.name);
}

}  // namespace

result<written_output> write_checkpoint(const checkpoint& plan, safetensors_writer& writer,
                                        std::size_t chunk_bytes) {
    std::map<std::string_view, const source_tensor*> by_name;
    for (const source_tensor& tensor : plan.tensors) {
        STKIT_TRY_VOID(writer.declare(tensor.name, tensor.type, tensor.shape));
        by_name.emplace(tensor.name, &tensor);
    }
    for (auto& [key, value] : planned_metadata(plan)) STKIT_TRY_VOID(writer.set_metadata(key, value));
    STKIT_TRY(auto order, writer.layout());
    written_output written;
    for (const planned_tensor& slot : order) {
        const source_tensor& tensor = *by_name.at(slot.name);
        STKIT_TRY_VOID(writer.write_tensor(slot.name, [&](const byte_sink& sink) {
            return stream_tensor(plan, tensor, chunk_bytes, sink);
        }));
        written.tensor_bytes += tensor.byte_size;
    }
    STKIT_TRY_VOID(writer.finish());
    written.file_bytes = writer.bytes_written();
    return written;
}

result<void> verify_output(const checkpoint& plan, const std::filesystem::path& path,
                           std::size_t chunk_bytes) {
    STKIT_TRY(auto file, safetensors_file::open(path));
    if (file.tensor_count() != plan.tensors.size())
        return make_error(error_code::cv_verify_failed,
                          "holds " + std::to_string(file.tensor_count()) + " tensors, planned " +
                              std::to_string(plan.tensors.size()));
    auto metadata = planned_metadata(plan);
    if (!std::equal(metadata.begin(), metadata.end(), file.metadata().begin(), file.metadata().end()))
        return make_error(error_code::cv_verify_failed, "metadata differs from the plan");
    for (const source_tensor& tensor : plan.tensors) {
        const tensor_view* written = file.tensor_find(tensor.name);
        if (!written) return mismatch(tensor, "missing from the output");
        if (written->type != tensor.type) return mismatch(tensor, "dtype differs");
        if (!std::equal(written->shape.begin(), written->shape.end(), tensor.shape.begin(),
                        tensor.shape.end()))
            return mismatch(tensor, "shape differs");
        if (written->byte_size() != tensor.byte_size) return mismatch(tensor, "size differs");
        uint64_t position = 0;
        STKIT_TRY_VOID(stream_tensor(plan, tensor, chunk_bytes,
                                     [&](std::span<const std::byte> chunk) -> result<void> {
            if (chunk.size() <= written->data.size() - position)
                populate_pages(written->data.subspan(position, chunk.size()));
            if (chunk.size() > written->data.size() - position ||
                std::memcmp(chunk.data(), written->data.data() + position, chunk.size()) != 0)
                return mismatch(tensor, "bytes differ from the source after byte " +
                                            std::to_string(position));
            release_pages(written->data.subspan(position, chunk.size()));  // the reader's file map
            position += chunk.size();
            return {};
        }));
    }
    return {};
}

}  // namespace stkit::convert::detail
