// stkit/scan/detect.hpp — what serialization format a file is, by content, never by extension.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "stkit/error.hpp"

namespace stkit {

enum class file_format : uint8_t {
    unknown,
    safetensors,          // valid
    safetensors_invalid,  // starts like safetensors but breaks a rule (detail says which)
    torch_zip,            // torch.save since 1.6 (zip with data.pkl)
    torch_legacy,         // torch.save before 1.6 (magic-number pickle + storages)
    torch_tar,            // torch.save's oldest tar layout
    torchscript,          // zip with constants.pkl / code/
    pickle,               // a raw pickle stream (protocol 0–5)
    joblib,               // joblib dump (pickle with NumpyArrayWrapper), possibly compressed
    numpy_npy,
    numpy_npz,
    hdf5,                 // HDF5 / Keras .h5
    keras_v3,             // Keras 3 .keras (zip with config.json, usually model.weights.h5)
    skops,                // skops .skops (zip with schema.json)
    onnx,
    gguf,
    tf_savedmodel,        // saved_model.pb
    tflite,
    zip,                  // other zip
    tar,
    gzip,
    sevenzip,
    compressed_pickle,    // a pickle inside a zlib/gzip/bz2/xz/lzma/lz4 wrapper (not joblib)
    git_lfs_pointer,
};

[[nodiscard]] std::string_view file_format_name(file_format format) noexcept;

// Can this format's own loader run code or touch files outside the model when loading it the usual
// way (pickle-based formats, TorchScript, Keras Lambda layers, TensorFlow ops, ONNX external data,
// GGUF chat templates, archives)? safetensors, TFLite and LFS pointers cannot. Any buffer may still
// be a polyglot another loader reads differently: the scanner reads every buffer as a pickle too.
[[nodiscard]] bool file_format_can_carry_code(file_format format) noexcept;

struct detection {
    file_format format = file_format::unknown;
    std::string detail;  // e.g. "pickle protocol 2", "safetensors: st_offsets_gap at byte 120",
                         // "compressed with zlib", "npy with object dtype"
};

// Looks at the bytes of a whole file (a memory map is fine: only what is needed is touched).
// `releasable`: the part of `bytes` that is a read-only file map the caller owns (mapped_file);
// pages of it that are read through, such as the line a text opcode reads in a large file, are
// dropped once read, so a file of many GB is never resident whole.
[[nodiscard]] detection detect_format(std::span<const std::byte> bytes, std::span<const std::byte> releasable = {});
// Maps the file and detects it; a folder holding saved_model.pb is reported as tf_savedmodel.
// Errors: io_open_failed, io_map_failed.
[[nodiscard]] result<detection> detect_path(const std::filesystem::path& path);

}  // namespace stkit
