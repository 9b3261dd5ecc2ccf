// The inspect document. See stkit/format/report.hpp.
#include "stkit/format/report.hpp"

#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace stkit {
namespace {

using json = nlohmann::ordered_json;

json tensor_entry(const tensor_view& tensor) {
    json entry;
    entry["name"] = std::string(tensor.name);
    entry["dtype"] = std::string(dtype_name(tensor.type));
    entry["shape"] = std::vector<uint64_t>(tensor.shape.begin(), tensor.shape.end());
    entry["data_offsets"] = {tensor.data_begin, tensor.data_end};
    entry["bytes"] = tensor.byte_size();
    return entry;
}

std::string dump(const json& document) {
    return document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string inspect_json(const safetensors_file& file) {
    json document;
    document["metadata"] = json::object();
    for (const auto& [key, value] : file.metadata()) document["metadata"][key] = value;
    document["tensors"] = json::array();
    uint64_t total = 0;
    for (const tensor_view& tensor : file.tensors()) {
        document["tensors"].push_back(tensor_entry(tensor));
        total += tensor.byte_size();
    }
    document["total_bytes"] = total;
    return dump(document);
}

std::string inspect_json(const sharded_model& model) {
    json document;
    // The index's own "metadata" (e.g. total_size) is JSON already.
    document["metadata"] = json::object();
    if (!model.index().metadata_json.empty()) {
        document["metadata"] = json::parse(model.index().metadata_json, nullptr, false);
        if (document["metadata"].is_discarded()) document["metadata"] = json::object();
    }
    document["tensors"] = json::array();
    uint64_t total = 0;
    for (const sharded_tensor& tensor : model.tensors()) {
        json entry = tensor_entry(*tensor.tensor);
        entry["shard"] = model.index().shards[tensor.shard];
        document["tensors"].push_back(std::move(entry));
        total += tensor.tensor->byte_size();
    }
    document["total_bytes"] = total;
    return dump(document);
}

bool is_shard_index_path(const std::filesystem::path& path) { return path.extension() == ".json"; }

result<std::string> inspect_path_json(const std::filesystem::path& path, const read_options& options) {
    if (is_shard_index_path(path)) {
        STKIT_TRY(sharded_model model, sharded_model::open(path, options));
        return inspect_json(model);
    }
    STKIT_TRY(safetensors_file file, safetensors_file::open(path, options));
    return inspect_json(file);
}

}  // namespace stkit
