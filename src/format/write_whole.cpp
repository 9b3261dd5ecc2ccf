// Whole tensors in one call: write_file() drives the streaming writer, write_buffer() lays the same
// bytes out in memory. See stkit/format/writer.hpp.
#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_map>

#include "stkit/format/writer.hpp"

namespace stkit {
namespace {

result<void> check_size(const tensor_bytes& tensor, uint64_t expected) {
    if (tensor.data.size() == expected) return {};
    return make_error(error_code::st_write_byte_count_mismatch,
                      std::to_string(tensor.data.size()) + " bytes for a tensor of " + std::to_string(expected),
                      no_offset, tensor.name);
}

}  // namespace

result<uint64_t> write_file(const std::filesystem::path& destination, std::span<const tensor_bytes> tensors,
                            std::span<const std::pair<std::string, std::string>> metadata, bool overwrite,
                            empty_metadata when_empty) {
    STKIT_TRY(safetensors_writer writer, safetensors_writer::create(destination, overwrite));
    if (when_empty == empty_metadata::written) writer.write_empty_metadata();
    std::unordered_map<std::string_view, const tensor_bytes*> by_name;
    by_name.reserve(tensors.size());
    for (const tensor_bytes& tensor : tensors) {
        STKIT_TRY_VOID(writer.declare(tensor.name, tensor.type, tensor.shape));
        by_name.emplace(tensor.name, &tensor);
    }
    for (const auto& [key, value] : metadata) STKIT_TRY_VOID(writer.set_metadata(key, value));
    STKIT_TRY(std::span<const planned_tensor> order, writer.layout());
    for (const planned_tensor& planned : order) {
        const tensor_bytes& tensor = *by_name.at(planned.name);
        STKIT_TRY_VOID(check_size(tensor, planned.byte_size()));
        STKIT_TRY_VOID(writer.write_tensor(planned.name, tensor.data));
    }
    STKIT_TRY_VOID(writer.commit());
    return writer.bytes_written();
}

result<std::vector<std::byte>> write_buffer(std::span<const tensor_bytes> tensors,
                                            std::span<const std::pair<std::string, std::string>> metadata,
                                            empty_metadata when_empty) {
    // Metadata goes through a writer's own checks (UTF-8, repeated keys) and sorting; no file is
    // created for that, as a writer only opens its output in create().
    safetensors_writer checks;
    for (const auto& [key, value] : metadata) STKIT_TRY_VOID(checks.set_metadata(key, value));

    std::vector<planned_tensor> order;
    order.reserve(tensors.size());
    std::unordered_map<std::string_view, const tensor_bytes*> by_name;
    by_name.reserve(tensors.size());
    for (const tensor_bytes& tensor : tensors) {
        order.push_back({tensor.name, tensor.type, tensor.shape, 0, 0});
        by_name.emplace(tensor.name, &tensor);
    }
    STKIT_TRY_VOID(plan_layout(order));
    std::vector<std::pair<std::string, std::string>> sorted(metadata.begin(), metadata.end());
    std::sort(sorted.begin(), sorted.end());
    const std::string header = build_header(order, sorted, when_empty);
    const uint64_t data_bytes = order.empty() ? 0 : order.back().data_end;

    std::vector<std::byte> out(8 + header.size() + data_bytes);
    for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::byte>(header.size() >> (8 * i));
    std::memcpy(out.data() + 8, header.data(), header.size());
    std::byte* data = out.data() + 8 + header.size();
    for (const planned_tensor& planned : order) {
        const tensor_bytes& tensor = *by_name.at(planned.name);
        STKIT_TRY_VOID(check_size(tensor, planned.byte_size()));
        if (!tensor.data.empty()) std::memcpy(data + planned.data_begin, tensor.data.data(), tensor.data.size());
    }
    return out;
}

}  // namespace stkit
