// Internals shared by the scanner's source files (not installed).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stkit/containers/zip.hpp"
#include "stkit/scan/detect.hpp"
#include "stkit/scan/scan.hpp"

namespace stkit::detail {

inline std::string_view as_text(std::span<const std::byte> bytes) noexcept {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}
inline std::span<const std::byte> as_bytes_of(std::string_view text) noexcept {
    return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

// Detection with the scanner's budget: when the format is a compressed wrapper, the decompressed
// bytes are handed back in `inner` so the scan does not inflate twice, and a wrapper that could not
// be inflated (over the budget, corrupt) is reported in `inflate_error`. `releasable`: as
// pickle::reach_options::releasable.
[[nodiscard]] detection detect_with(std::span<const std::byte> bytes, uint64_t max_inflate,
                                    std::vector<std::byte>* inner, std::optional<error>* inflate_error = nullptr,
                                    std::span<const std::byte> releasable = {});
// The format of a zip by its member layout.
[[nodiscard]] detection detect_zip_layout(const zip_archive& zip);

// A real ONNX ModelProto / TF SavedModel proto check (see detect.cpp).
[[nodiscard]] bool onnx_model_check(std::span<const std::byte> bytes, std::string& detail);
[[nodiscard]] bool savedmodel_check(std::span<const std::byte> bytes);

// The scan of one buffer, shared by scan.cpp and the carriers.
struct scan_state {
    const scan_options& options;
    file_report& report;
    uint64_t bytes_used = 0;
    bool torchscript = false;  // inside a TorchScript archive: __torch__ classes are its own code
    std::span<const std::byte> file_map = {};  // the caller's own read-only map of the file, if any

    void add(finding f);
    // Charges `bytes` to the budget; false (with a scan_size_limit finding) when it is spent.
    bool charge(uint64_t bytes, const std::string& member);
};

// The one dispatch: detects `bytes`, scans it the way its format's own loader reads it, and always
// also the way an unpickler would read it from its first byte (scan_pickle_reach), whatever the
// format, so no detection result can make a buffer skip that. `depth` counts nested containers and
// pickles. Returns the detection it used.
detection scan_buffer(scan_state& state, std::span<const std::byte> bytes, const std::string& member,
                      unsigned depth, const detection* known = nullptr);
// What unpicklers import from `bytes` (every pickle of the stream, every reading), judged against
// the allowlist and the dangerous list. True when the bytes ran like a pickle (for labels).
bool scan_pickle_reach(scan_state& state, std::span<const std::byte> bytes, const std::string& member,
                       unsigned depth, bool legacy_layout);
// Names an extraction would write outside its folder: absolute, drive-letter, UNC or with a ".."
// component, with either separator.
[[nodiscard]] bool escapes_folder(std::string_view path) noexcept;
// Zips (torch, TorchScript, Keras 3, npz, others): integrity, then every member that can carry code.
void scan_zip(scan_state& state, std::span<const std::byte> bytes, const std::string& member,
              unsigned depth);
// Keras model JSON (.keras config.json, .h5 model_config): Lambda layers and code references.
void scan_keras_config(scan_state& state, std::string_view json, const std::string& member);
void scan_hdf5(scan_state& state, std::span<const std::byte> bytes, const std::string& member);
void scan_torchscript_code(scan_state& state, std::string_view code, const std::string& member);
void scan_npy(scan_state& state, std::span<const std::byte> bytes, const std::string& member,
              unsigned depth);
// TensorFlow graphs, read as a SavedModel and as a frozen GraphDef: ops that run Python or reach
// files or the network (tensorflow.cpp). ONNX models: external data outside the model's folder and
// custom operator domains (onnx.cpp). Both read protobuf leniently, as loaders do, report nothing
// for bytes that are not protobuf, and are cheap on them (they stop at the first invalid byte), so
// they also serve buffers no detector identified.
void scan_tf_graph(scan_state& state, std::span<const std::byte> bytes, const std::string& member);
void scan_onnx(scan_state& state, std::span<const std::byte> bytes, const std::string& member);

// The code carriers that are not pickles (carriers.cpp, gguf.cpp, chat_template.cpp, skops.cpp).
[[nodiscard]] finding carrier_finding(verdict severity, std::string category, std::string message,
                                      const std::string& member, std::string module = {}, std::string name = {},
                                      uint64_t offset = no_offset);
// GGUF: every key-value pair is read and every chat template judged; malformed metadata is an error.
void scan_gguf(scan_state& state, std::span<const std::byte> bytes, const std::string& member);
// What in a Jinja template's code sections reaches Python internals (see chat_template.cpp).
struct template_issue {
    std::size_t position = 0;  // byte offset in the template
    std::string token;         // the name, or the decoded string, that was found
    std::string_view reason;   // one phrase for people
};
[[nodiscard]] std::vector<template_issue> chat_template_issues(std::string_view text);
// skops schema.json: every type it names, against skops' trusted set and the dangerous list.
void scan_skops_schema(scan_state& state, std::string_view json, const std::string& member);

}  // namespace stkit::detail
