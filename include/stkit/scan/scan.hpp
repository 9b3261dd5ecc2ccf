// stkit/scan/scan.hpp — static scanning of model files for code-execution payloads.
//
// A verdict is a claim about what real loaders do with the bytes, whatever the file is called:
// `safe` says none of pickle.load (C and pure Python, bytes and files), torch.load, numpy.load,
// joblib.load, Keras, TensorFlow, ONNX Runtime, llama.cpp loaders or skops would run code, import
// a module or touch files outside the model. One dispatch holds that by construction: every buffer
// (file, archive member, decompressed stream, staged payload) is scanned the way its format's own
// loader reads it *and* the way an unpickler reads it from its first byte (stkit/pickle/reach.hpp),
// so no format detection can make a buffer skip the pickle reading. A finding exists when some
// reading reaches an import Python could perform; ordinary files reach none and get no finding.
// Imports outside the allowlist (stkit/pickle/allowlist.hpp) are `suspicious`; known primitives
// (stkit/scan/dangerous.hpp), imports that are called in readings hidden from others, and archive
// names that escape their folder are `dangerous`; what could not be read (encrypted, over a limit)
// is at least `suspicious`; a file that cannot be read at all is `error`, never safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "stkit/error.hpp"
#include "stkit/scan/detect.hpp"

namespace stkit {

// Ordered: a higher verdict is worse.
enum class verdict : uint8_t { safe, suspicious, dangerous, error };
[[nodiscard]] std::string_view verdict_name(verdict value) noexcept;

struct finding {
    verdict severity = verdict::suspicious;
    std::string category;  // "code-execution", "process", "network", "evasion", "unknown-import"...
    std::string module;    // the global involved, when there is one
    std::string name;
    std::string message;   // one sentence for people
    std::string member;    // archive member path ("archive/data.pkl", "outer.zip/inner.pkl")
    int pickle_index = -1; // which pickle in the stream (0-based), when in a pickle
    uint64_t offset = no_offset;  // byte offset in the member (or file)
};

struct scan_options {
    unsigned max_depth = 8;                           // scan_depth_limit: nested containers/pickles
    // scan_size_limit: bytes decompressed per file (stored members and mapped files are not
    // counted). Beyond it the rest is reported as not scanned, which is at least suspicious.
    uint64_t max_total_bytes = uint64_t{1} << 30;
};

struct file_report {
    std::string path;
    detection format;
    verdict overall = verdict::safe;
    std::vector<finding> findings;
    std::optional<error> failure;  // set when overall == verdict::error
};

// Scans a file's bytes; `name` is used in locations. Never fails: problems become findings or an
// `error` verdict. `releasable`: as for detect_format (the part of `bytes` that is the caller's own
// read-only file map, whose pages may be dropped once read through).
[[nodiscard]] file_report scan_bytes(std::span<const std::byte> bytes, std::string name,
                                     const scan_options& options = {},
                                     std::span<const std::byte> releasable = {});
// Maps and scans a file (or a SavedModel folder).
[[nodiscard]] file_report scan_path(const std::filesystem::path& path,
                                    const scan_options& options = {});

}  // namespace stkit
