// stkit/convert/checkpoint.hpp — a checkpoint as the converter sees it, before anything is written.
//
// Loading a checkpoint is the *plan* phase of a conversion: the input is recognised by content,
// its pickle (if any) is run by the restricted machine (nothing is imported or called), and every
// tensor is resolved to (storage bytes, element offset, shape, strides, dtype). All validation
// happens here — dtypes, view bounds (checked arithmetic), storage sizes, name collisions, aliases
// — so that writing can only fail on I/O.
//
// Inputs understood:
//   torch zip     torch.save since 1.6: <prefix>/data.pkl, <prefix>/data/<key> records (stored
//                 records are borrowed from the map, compressed ones inflated), optional
//                 <prefix>/byteorder ("big" → swapped to little-endian); version,
//                 .format_version, .storage_alignment, .data/serialization_id are tolerated.
//                 constants.pkl or code/ (TorchScript) → cv_code_bearing_archive.
//   torch legacy  before 1.6: magic-number pickle (0x1950a86a20f9469cfc6c), protocol 1001 pickle,
//                 sys_info pickle, the object pickle, the storage-key list pickle, then for each
//                 key in that order an int64 LE element count and the raw bytes.
//   .npy          format 1/2/3, every numeric dtype; Fortran order becomes C order (as a strided
//                 view), big-endian data is swapped; object arrays → npy_object_array.
//   .npz          a zip of .npy members (stored or deflated); tensor names are the member names
//                 without ".npy".
//
// Structure rules (torch): the pickled object is a dict, a tensor (named "tensor"), a list or tuple
// (names "0", "1", ...) or a whole model (below). When it has a "state_dict" entry
// holding a dict (Lightning and Stable Diffusion .ckpt), that entry is converted and every other
// top-level entry is listed in `others` (with its kind; entries that hold tensors say so: they are
// not converted). Dicts, lists and tuples holding tensors are flattened with "." (dict keys; list
// and tuple indices), as state_dict keys already are. Every value that is not a tensor is listed
// in `others`, never silently dropped.
//
// Whole models (`torch.save(model)`): the pickle machine rebuilds the module tree symbolically
// (stkit/pickle/machine.hpp, whole_model: classes are opaque records, nothing is imported or
// called) and the converter takes exactly what `model.state_dict()` returns: dotted names
// ("encoder.layers.0.linear1.weight"), each module's parameters then persistent buffers then
// submodules, None entries and buffers named in _non_persistent_buffers_set left out, a tied
// parameter under every name that holds it (then written once, as an alias, below). A model may
// also sit inside a dict ({"model": model, "epoch": 3}: "model.*"). The modules' classes are listed
// in `model_classes`. Refused: a class or any other global on the dangerous list
// (stkit/scan/dangerous.hpp), a module whose state_dict hooks are registered (they would change
// the result), a module that contains itself. A class's get_extra_state() is code: not reproduced.
// Objects that are not modules are listed in `others`.
//
// Aliases: tensors that are the *same view* of the same storage (same bytes, dtype, shape, strides:
// tied weights) are written once. The kept name is the smallest in byte-wise order — the Hub's
// rule (`sorted(names)[0]` in safetensors.torch._remove_duplicate_names) — and each dropped name is
// recorded as `"alias": "kept"`. Views that only partly overlap are each written (copied), where the
// Hub would drop or refuse them. Zero-byte tensors are never aliases (the Hub skips them too).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stkit/error.hpp"
#include "stkit/format/dtype.hpp"
#include "stkit/format/writer.hpp"
#include "stkit/pickle/machine.hpp"

namespace stkit::convert {

enum class source_format : uint8_t { torch_zip, torch_legacy, numpy_npy, numpy_npz };

// "torch zip", "torch legacy", "npy", "npz".
[[nodiscard]] std::string_view source_format_name(source_format format) noexcept;

// The bytes behind one or more tensors: a torch storage, or an .npy member's data.
struct source_storage {
    std::string key;                   // record key ("0"), legacy key, or npz member name
    std::span<const std::byte> bytes;  // borrowed from the input map, or from `owned`
    std::vector<std::byte> owned;      // inflated bytes of a compressed record
    uint64_t file_offset = no_offset;  // where `bytes` start in the input (stored data), for messages
    bool big_endian = false;           // elements must be byte-swapped when written
    bool releasable = false;           // borrowed from a file map whose pages may be dropped
    std::string member;                // zip member of a stored record, for messages
    std::span<const std::byte> record; // the whole stored record (`bytes` may follow an .npy header)
    std::optional<uint32_t> unchecked_crc;  // load_options::defer_stored_crc: the record's CRC-32

    source_storage() = default;
    source_storage(source_storage&&) noexcept = default;
    source_storage& operator=(source_storage&&) noexcept = default;
    source_storage(const source_storage&) = delete;  // `bytes` may point into `owned`
    source_storage& operator=(const source_storage&) = delete;
};

// One tensor to write: a strided view of a storage, with checked bounds.
struct source_tensor {
    std::string name;
    dtype type = dtype::u8;
    std::vector<uint64_t> shape;
    std::vector<uint64_t> stride;  // in elements, one per dimension
    uint64_t offset = 0;           // in elements, from the start of the storage
    uint32_t storage = 0;          // index into checkpoint::storages
    uint64_t byte_size = 0;        // elements × element size
    bool contiguous = true;        // row-major and dense: bytes are one run from the storage
};

// A value that is not a tensor (an epoch, hyper-parameters, a string...).
struct non_tensor_entry {
    std::string name;   // dotted path ("epoch", "hyper_parameters")
    std::string kind;   // "int", "float", "str", "dict", "list", "none", ...
    std::string value;  // a short rendering ("3", "dict of 4 entries", "holds 12 tensors, not converted")
};

struct alias_entry {
    std::string alias;  // the dropped name
    std::string kept;   // the name whose data it shares
};

struct checkpoint {
    source_format format = source_format::torch_zip;
    std::vector<source_storage> storages;
    std::vector<source_tensor> tensors;  // to write, in source order (aliases already removed)
    std::vector<alias_entry> aliases;    // sorted by alias
    std::vector<non_tensor_entry> others;
    std::string unwrapped;               // "state_dict" when a nested checkpoint was unwrapped
    std::vector<std::string> model_classes;  // whole models: the modules' classes, sorted
    int pickle_protocol = -1;            // torch inputs: the object pickle's protocol
};

struct load_options {
    pickle::pickle_limits limits;
    uint64_t max_decompressed_bytes = uint64_t{16} << 30;  // compressed zip records, npz members
    // data.pkl holds names, shapes and storage keys only: a few MB even for 100,000 tensors. A
    // larger one (a compressed bomb, or a payload hiding in bulk) is refused before inflating it.
    uint64_t max_pickle_bytes = uint64_t{256} << 20;       // decompressed_limit, on data.pkl
    std::string npy_name = "array";  // the tensor name for a lone .npy (the CLI passes the stem)
    // The input is a read-only file map (mapped_file): pages already read may be dropped with
    // madvise(MADV_DONTNEED), so converting a file larger than memory keeps a small resident set.
    // Never set it for a buffer of your own: anonymous memory would read back as zeros.
    bool release_consumed_pages = false;
    // Stored zip records are not CRC-checked while loading: each keeps its recorded CRC in
    // source_storage::unchecked_crc for the caller to check as it reads the bytes anyway (convert
    // computes it while copying, and links no output before it matches). Set it only when the
    // caller checks before trusting the bytes.
    bool defer_stored_crc = false;
};

// Recognises the input by content and loads it. Errors: cv_unrecognized_input; those of the
// loaders below.
[[nodiscard]] result<checkpoint> load_checkpoint(std::span<const std::byte> file,
                                                 const load_options& options = {});

// Errors: zip_* (the archive), cv_code_bearing_archive, cv_invalid_checkpoint (no data.pkl, root
// not a dict, bad keys), pk_* (the pickle; pk_global_refused names "module.name" and the offset,
// and the detail lists every offending global the pickle holds), cv_storage_missing,
// cv_storage_size_mismatch, cv_unsupported_dtype, cv_unsupported_tensor, cv_view_out_of_bounds,
// cv_duplicate_name, cv_no_tensors.
[[nodiscard]] result<checkpoint> load_torch_zip(std::span<const std::byte> file,
                                                const load_options& options = {});
// Errors: as load_torch_zip (except zip_*), plus cv_invalid_checkpoint for a wrong magic number,
// protocol, sys_info or key list, and truncated for short storage data.
[[nodiscard]] result<checkpoint> load_torch_legacy(std::span<const std::byte> file,
                                                   const load_options& options = {});
// One tensor named options.npy_name. Errors: npy_* (npy_object_array, npy_unsupported_dtype for
// types safetensors lacks), truncated.
[[nodiscard]] result<checkpoint> load_npy(std::span<const std::byte> file,
                                          const load_options& options = {});
// Errors: zip_*, npy_* (named by member), decompress_failed, decompressed_limit, cv_no_tensors,
// cv_duplicate_name.
[[nodiscard]] result<checkpoint> load_npz(std::span<const std::byte> file,
                                          const load_options& options = {});

// Streams one tensor's bytes in row-major order, little-endian, to `sink`, in chunks of at most
// `chunk_bytes` (contiguous little-endian data is handed out zero-copy from the storage; strided or
// swapped data is gathered into a buffer of that size, never the whole tensor). Pages of a
// `releasable` storage are released as they are consumed. Errors: those of `sink`.
using stkit::byte_sink;  // std::function<result<void>(std::span<const std::byte>)>
[[nodiscard]] result<void> stream_tensor(const checkpoint& source, const source_tensor& tensor,
                                         std::size_t chunk_bytes, const byte_sink& sink);

}  // namespace stkit::convert
