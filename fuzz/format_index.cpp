// Fuzz target: parse_shard_index on arbitrary text; accepted indexes name only plain shard files.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "stkit/format/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto index = stkit::parse_shard_index(text);
    if (!index.ok()) return 0;
    for (const auto& [name, shard] : index->weight_map)
        if (shard.empty() || shard.find('/') != std::string::npos || shard == "..") std::abort();
    if (index->shards.size() > index->weight_map.size()) std::abort();
    return 0;
}
