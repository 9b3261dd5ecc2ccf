// stkit/format/report.hpp — a safetensors file or sharded checkpoint described as one JSON document:
// what `stkit inspect --json` prints and what the Python package's stkit.inspect() returns.
//
//   {"metadata": {key: value, ...},            a file's __metadata__, or an index's "metadata"
//    "tensors": [{"name", "dtype", "shape", "data_offsets", "bytes", "shard"?}, ...],
//    "total_bytes": n}
//
// Tensors are in file order (a sharded model: shards in order of first appearance in weight_map,
// each in file order, with "shard" naming the shard file). The text is compact JSON; invalid UTF-8
// (which the reader never lets through) would be replaced, never thrown on.
#pragma once

#include <filesystem>
#include <string>

#include "stkit/error.hpp"
#include "stkit/format/safetensors.hpp"

namespace stkit {

// The document for an open file, or for an open sharded model.
[[nodiscard]] std::string inspect_json(const safetensors_file& file);
[[nodiscard]] std::string inspect_json(const sharded_model& model);

// Whether `path` names a sharded checkpoint's index (model.safetensors.index.json) rather than a
// safetensors file: decided by the .json extension, as every stkit command decides it.
[[nodiscard]] bool is_shard_index_path(const std::filesystem::path& path);

// Opens `path` (with sharded_model::open when is_shard_index_path, safetensors_file::open otherwise)
// and returns its document. Errors: those of the open.
[[nodiscard]] result<std::string> inspect_path_json(const std::filesystem::path& path,
                                                    const read_options& options = {});

}  // namespace stkit
