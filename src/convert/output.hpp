// The write and verify phases of a conversion (see stkit/convert/convert.hpp).
#pragma once

#include <filesystem>

#include "stkit/convert/checkpoint.hpp"
#include "stkit/format/writer.hpp"

namespace stkit::convert::detail {

struct written_output {
    uint64_t tensor_bytes = 0;
    uint64_t file_bytes = 0;
};

// Declares every planned tensor and the metadata ({"format": "pt"} and one "alias": "kept" per
// dropped alias), then streams the tensors in the writer's file order, then finish()es the writer.
// Errors: those of safetensors_writer.
[[nodiscard]] result<written_output> write_checkpoint(const checkpoint& plan,
                                                      safetensors_writer& writer,
                                                      std::size_t chunk_bytes);

// Re-opens the written file, validates it, and checks that it holds exactly the planned tensors
// with the planned dtypes, shapes and bytes (the source is re-read independently and compared
// chunk by chunk), and the planned metadata. Errors: st_* (the reader), cv_verify_failed (name set).
[[nodiscard]] result<void> verify_output(const checkpoint& plan, const std::filesystem::path& path,
                                         std::size_t chunk_bytes);

}  // namespace stkit::convert::detail
