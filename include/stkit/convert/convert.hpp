// stkit/convert/convert.hpp — converting PyTorch and NumPy checkpoints to safetensors.
//
// A conversion has three phases:
//   plan    open the input (read-only map), recognise it by content, run its pickle in the
//           restricted machine, resolve every tensor and validate everything
//           (stkit/convert/checkpoint.hpp). Nothing is written before the plan succeeds.
//   write   stream each tensor's bytes from the input map to the safetensors writer (stored
//           records zero-copy, strided views gathered through a bounded buffer), into a temporary
//           file; metadata is {"format": "pt"} plus one "alias": "kept" entry per dropped alias.
//   verify  (unless disabled) re-open the temporary file with the reader, validate it, and compare
//           every tensor's dtype, shape and bytes with the source, re-read independently.
// Only then is the output given its name. A refusal or failure leaves no output file (the
// temporary file is unnamed or deleted), and an existing output is never replaced without
// `overwrite`.
//
// Transformers folders are converted in place, originals kept: `pytorch_model.bin` →
// `model.safetensors`; sharded `pytorch_model-0000k-of-0000n.bin` + `pytorch_model.bin.index.json`
// → `model-0000k-of-0000n.safetensors` + `model.safetensors.index.json`, whose weight_map is the
// input's with "pytorch_model" → "model" and ".bin" → ".safetensors" in file names, minus the
// aliases dropped (each shard's __metadata__ records them); the input index's "metadata" object is
// kept, its "total_size" recomputed from the written tensors only when aliases were dropped. Every
// shard is planned before any is written, and all outputs are committed only when all verified.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "stkit/convert/checkpoint.hpp"
#include "stkit/error.hpp"

namespace stkit::convert {

struct convert_options {
    bool overwrite = false;  // replace existing outputs
    bool verify = true;      // re-open and compare after writing
    std::size_t chunk_bytes = std::size_t{4} << 20;  // bounded gather buffer for strided views
    unsigned jobs = 1;       // shards of a folder written and verified at once
    // Called (from any of the conversion's threads) as bytes are written and, when verifying, read
    // back: done of total, total = tensor bytes × 2 with verification, × 1 without.
    std::function<void(uint64_t done, uint64_t total)> progress;
    load_options load;
};

struct written_file {
    std::filesystem::path path;
    std::filesystem::path source;
    uint64_t tensors = 0;
    uint64_t tensor_bytes = 0;
    uint64_t file_bytes = 0;
};

struct convert_report {
    std::string source_format;           // "torch zip", ..., or "transformers folder"
    std::vector<written_file> outputs;   // one per file written (shards in order), then the index
    uint64_t tensors_written = 0;
    uint64_t tensor_bytes = 0;
    std::vector<alias_entry> aliases;    // every shard's, in order
    std::vector<non_tensor_entry> non_tensors;
    std::string unwrapped;               // "state_dict" when a nested checkpoint was unwrapped
    std::vector<std::string> model_classes;  // whole models: the classes needed to rebuild them
    bool verified = false;
};

// The default output for an input file: beside it with the extension replaced by .safetensors, and
// pytorch_model.bin → model.safetensors.
[[nodiscard]] std::filesystem::path default_output_path(const std::filesystem::path& input);

// Converts one file to `output`. Errors: io_open_failed, io_map_failed (input); every error of
// load_checkpoint (plan); output_exists, io_* (writing); cv_verify_failed and st_* (verify).
// Every error has `file` set to the input (or the output, for write and verify errors).
[[nodiscard]] result<convert_report> convert_file(const std::filesystem::path& input,
                                                  const std::filesystem::path& output,
                                                  const convert_options& options = {});

// Converts a transformers folder in place (see above). Errors: those of convert_file,
// cv_index_invalid (unreadable index, a shard it names missing, a tensor it maps to the wrong shard
// or that no shard holds), cv_unrecognized_input (no pytorch_model*.bin in the folder).
[[nodiscard]] result<convert_report> convert_folder(const std::filesystem::path& folder,
                                                    const convert_options& options = {});

// What `stkit convert INPUT [-o OUTPUT]` converts: a folder with convert_folder (in place), a file
// with convert_file to `output` (default_output_path(input) when empty), a lone .npy's tensor named
// after the file's stem. Errors: those of convert_file and convert_folder, invalid_argument (an
// output given for a folder).
[[nodiscard]] result<convert_report> convert_path(const std::filesystem::path& input,
                                                  const std::filesystem::path& output,
                                                  convert_options options = {});

// Is this error a refusal on safety grounds (a global outside the allowlist, a disallowed call or
// BUILD, an object array, a code-bearing archive) rather than malformed input or I/O?
[[nodiscard]] bool is_unsafe_refusal(error_code code) noexcept;

}  // namespace stkit::convert
