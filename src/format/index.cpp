// Sharded checkpoints: model.safetensors.index.json and its shards as one logical model.
// See stkit/format/safetensors.hpp.
#include <algorithm>
#include <string>
#include <unordered_map>

#include "format/json_util.hpp"
#include "format/sorted_runs.hpp"
#include "stkit/format/safetensors.hpp"

namespace stkit {
namespace {

bool plain_file_name(std::string_view name) {
    return !name.empty() && name != "." && name != ".." &&
           name.find_first_of(std::string_view("/\\\0", 3)) == std::string_view::npos;
}

}  // namespace

result<shard_index> parse_shard_index(std::string_view json_text, const read_options& options) {
    if (json_text.size() > options.max_header_bytes)
        return make_error(error_code::st_header_too_large,
                          std::to_string(json_text.size()) + " bytes, limit " +
                              std::to_string(options.max_header_bytes));
    simdjson::dom::element root;
    if (auto failure = detail::parse_json(json_text, options.max_json_depth).get(root); failure)
        return make_error(error_code::st_index_invalid_json, simdjson::error_message(failure));
    simdjson::dom::object object;
    if (root.get_object().get(object))
        return make_error(error_code::st_index_invalid_json, "not a JSON object");
    bool repeated = false;
    std::string_view key = detail::find_duplicate_key(root, repeated);
    if (repeated)
        return make_error(error_code::st_index_invalid_json, "duplicate key", no_offset, std::string(key));

    shard_index index;
    simdjson::dom::object weight_map;
    bool has_weight_map = false;
    for (simdjson::dom::key_value_pair field : object) {
        if (field.key == "metadata") {
            index.metadata_json = simdjson::minify(field.value);
        } else if (field.key == "weight_map") {
            if (field.value.get_object().get(weight_map))
                return make_error(error_code::st_index_missing_weight_map, "weight_map is not an object");
            has_weight_map = true;
        }
    }
    if (!has_weight_map) return make_error(error_code::st_index_missing_weight_map);

    std::unordered_map<std::string_view, std::size_t> shard_numbers;
    index.weight_map.reserve(weight_map.size());
    for (simdjson::dom::key_value_pair entry : weight_map) {
        std::string_view shard;
        if (entry.value.get_string().get(shard))
            return make_error(error_code::st_index_invalid_entry, {}, no_offset, std::string(entry.key));
        if (!plain_file_name(shard))
            return make_error(error_code::st_index_invalid_shard_name, "'" + std::string(shard) + "'",
                              no_offset, std::string(entry.key));
        if (shard_numbers.emplace(shard, index.shards.size()).second) index.shards.emplace_back(shard);
        index.weight_map.emplace_back(std::string(entry.key), std::string(shard));
    }
    return index;
}

result<sharded_model> sharded_model::open(const std::filesystem::path& index_path,
                                          const read_options& options) {
    auto text = read_small_file(index_path, static_cast<std::size_t>(options.max_header_bytes));
    if (!text.ok()) return std::move(text).error().in_file(index_path.string());
    auto parsed = parse_shard_index(*text, options);
    if (!parsed.ok()) return std::move(parsed).error().in_file(index_path.string());

    sharded_model model;
    model.index_ = std::move(*parsed);
    const std::filesystem::path folder = index_path.parent_path();
    model.shards_.reserve(model.index_.shards.size());
    std::unordered_map<std::string_view, std::size_t> shard_numbers;
    for (const std::string& shard : model.index_.shards) {
        STKIT_TRY(safetensors_file file, safetensors_file::open(folder / shard, options));
        shard_numbers.emplace(shard, model.shards_.size());
        model.shards_.push_back(std::move(file));
    }

    // Every listed tensor is where the index says.
    std::unordered_map<std::string_view, std::size_t> listed;
    listed.reserve(model.index_.weight_map.size());
    for (const auto& [name, shard] : model.index_.weight_map) {
        std::size_t number = shard_numbers.at(shard);
        if (!model.shards_[number].tensor_find(name))
            return make_error(error_code::st_index_shard_missing_tensor, {}, no_offset, name)
                .in_file((folder / shard).string());
        listed.emplace(name, number);
    }

    std::size_t total = 0;
    for (const safetensors_file& shard : model.shards_) total += shard.tensor_count();
    model.tensors_.reserve(total);
    for (std::size_t number = 0; number < model.shards_.size(); ++number)
        for (const tensor_view& tensor : model.shards_[number].tensors())
            model.tensors_.push_back({&tensor, number});

    auto& by_name = model.by_name_;
    by_name.resize(model.tensors_.size());
    for (std::size_t i = 0; i < by_name.size(); ++i) by_name[i] = static_cast<uint32_t>(i);
    const auto& tensors = model.tensors_;
    auto name_compare = [&](uint32_t a, uint32_t b) { return tensors[a].tensor->name.compare(tensors[b].tensor->name); };
    if (auto repeated = detail::sort_distinct_merging_runs(by_name, name_compare)) {
        auto [first, second] = std::minmax(tensors[repeated->first].shard, tensors[repeated->second].shard);
        return make_error(error_code::st_index_duplicate_tensor,
                          "in " + model.index_.shards[first] + " and " + model.index_.shards[second], no_offset,
                          std::string(tensors[repeated->first].tensor->name))
            .in_file(index_path.string());
    }
    for (const sharded_tensor& tensor : tensors) {
        if (!listed.contains(tensor.tensor->name))
            return make_error(error_code::st_index_unlisted_tensor, {}, no_offset, std::string(tensor.tensor->name))
                .in_file((folder / model.index_.shards[tensor.shard]).string());
    }
    return model;
}

const sharded_tensor* sharded_model::tensor_find(std::string_view name) const& noexcept {
    auto it = std::lower_bound(by_name_.begin(), by_name_.end(), name, [&](uint32_t index, std::string_view key) {
        return tensors_[index].tensor->name < key;
    });
    if (it == by_name_.end() || tensors_[*it].tensor->name != name) return nullptr;
    return &tensors_[*it];
}

}  // namespace stkit
