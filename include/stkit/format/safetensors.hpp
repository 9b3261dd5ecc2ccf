// stkit/format/safetensors.hpp — the strict, zero-copy safetensors reader: single files, slicing,
// and sharded checkpoints (model.safetensors.index.json).
//
// Byte layout of a safetensors file:
//
//   offset 0       u64 little-endian N         length of the header
//   offset 8       N bytes of UTF-8 JSON        one object (JSON whitespace may surround it)
//   offset 8+N     data buffer                  the tensors' bytes, back to back
//
// The header object maps each tensor name to {"dtype": NAME, "shape": [u64...], "data_offsets":
// [begin, end]} (offsets relative to the data buffer), plus an optional "__metadata__" object of
// string → string. A file is accepted only if every rule holds; each rule has its own error code
// (stkit/error.hpp, group `st_*`):
//   st_file_too_small        fewer than 8 bytes
//   st_header_too_large      N > read_options::max_header_bytes (default 100,000,000)
//   st_header_incomplete     8 + N > file size
//   st_header_invalid_utf8   the header is not UTF-8
//   st_header_invalid_json   not JSON, or anything but whitespace around the object (NUL padding too)
//   st_header_not_object     the JSON value is not an object
//   st_header_too_deep       nesting deeper than read_options::max_json_depth
//   st_duplicate_key         a key repeated in any object (the reference keeps the last: a
//                            parser-differential hazard, so stkit refuses)
//   st_tensor_limit          more tensors than read_options::max_tensors
//   st_metadata_not_object / st_metadata_value_not_string / st_reserved_name (a tensor entry
//                            named "__metadata__")
//   st_tensor_not_object / st_missing_dtype / st_missing_shape / st_missing_offsets
//   st_invalid_dtype         not one of the 22 exact, case-sensitive names
//   st_invalid_shape / st_invalid_offsets   entries must be JSON unsigned integers fitting u64 (no
//                            floats, exponents or negatives); data_offsets has exactly two
//   st_shape_overflow        product(shape) × bits overflows 64 bits
//   st_partial_byte          product(shape) × bits is not a whole number of bytes
//   st_offsets_reversed      end < begin
//   st_size_mismatch         end − begin ≠ product(shape) × bits / 8
//   st_offsets_gap / st_offsets_overlap   sorted by offset, tensors must tile [0, data size)
//   st_data_size_mismatch    the last end ≠ the data buffer's size (no trailing bytes: polyglots
//                            are refused)
// Unknown extra fields inside a tensor entry are accepted (but still checked for duplicate keys).
//
// Errors carry the absolute byte offset in the file where one is known (for a tensor entry, the
// position of its key in the header when it can be located; for data rules, 8 + N + the offset) and
// the tensor's name.
//
// The whole header is validated before any tensor byte is touched (plan, then map). Views borrow
// from the mapped file or the caller's buffer: the safetensors_file must outlive every view, and
// accessors that would return views into a temporary are deleted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stkit/error.hpp"
#include "stkit/file.hpp"
#include "stkit/format/dtype.hpp"

namespace stkit {

// Named limits, each with its own error code, and how open() maps the file.
struct read_options {
    uint64_t max_header_bytes = 100'000'000;  // st_header_too_large (also caps index files)
    uint32_t max_json_depth = 16;             // st_header_too_deep; `{}` has depth 1, a valid
                                              // tensor entry with its shape array depth 3
    uint64_t max_tensors = 10'000'000;        // st_tensor_limit
    // copy_on_write makes tensor_writable() hand out the tensors' bytes writable: a private
    // mapping, so writes stay in this process and never reach the file (sharded_model::open passes
    // it on to every shard).
    map_mode map = map_mode::read_only;
};

// One tensor of an open file. Every member borrows from its safetensors_file.
struct tensor_view {
    std::string_view name;             // decoded (JSON escapes resolved)
    dtype type = dtype::u8;
    std::span<const uint64_t> shape;   // empty for a scalar
    uint64_t data_begin = 0;           // data_offsets, relative to the data buffer
    uint64_t data_end = 0;
    std::span<const std::byte> data;   // the tensor's bytes (zero-copy), size data_end - data_begin

    [[nodiscard]] uint64_t element_count() const noexcept;  // product(shape); 1 for a scalar
    [[nodiscard]] uint64_t byte_size() const noexcept { return data_end - data_begin; }
};

// "__metadata__", sorted by key.
using metadata_map = std::map<std::string, std::string, std::less<>>;

class safetensors_file {
public:
    // Maps `path` read-only and validates it. Errors: io_open_failed, io_map_failed, and every
    // st_* reader code above; error.file is set to `path`.
    [[nodiscard]] static result<safetensors_file> open(const std::filesystem::path& path,
                                                       const read_options& options = {});
    // Validates a caller's buffer, which must outlive the returned object and its views.
    // Errors: every st_* reader code above.
    [[nodiscard]] static result<safetensors_file> from_buffer(std::span<const std::byte> bytes,
                                                              const read_options& options = {});

    safetensors_file() = default;
    safetensors_file(safetensors_file&&) noexcept = default;
    safetensors_file& operator=(safetensors_file&&) noexcept = default;
    safetensors_file(const safetensors_file&) = delete;
    safetensors_file& operator=(const safetensors_file&) = delete;

    // Tensors in file order (ascending data offset; zero-size tensors at the same offset by name).
    [[nodiscard]] std::span<const tensor_view> tensors() const& noexcept { return tensors_; }
    std::span<const tensor_view> tensors() && = delete;
    [[nodiscard]] std::size_t tensor_count() const noexcept { return tensors_.size(); }
    // The tensor named `name`, or nullptr.
    [[nodiscard]] const tensor_view* tensor_find(std::string_view name) const& noexcept;
    const tensor_view* tensor_find(std::string_view name) && = delete;
    // The tensor named `name`. Errors: st_tensor_not_found (name set).
    [[nodiscard]] result<const tensor_view*> tensor_get(std::string_view name) const&;
    result<const tensor_view*> tensor_get(std::string_view name) && = delete;

    // The bytes of `tensor` (one of this file's views), writable, when the file was opened with
    // map_mode::copy_on_write; an empty span otherwise (and always for from_buffer()). Writes go to
    // this process's private copy of the pages: other views of the same bytes see them, the file
    // never does.
    [[nodiscard]] std::span<std::byte> tensor_writable(const tensor_view& tensor) const& noexcept {
        if (file_.mode() != map_mode::copy_on_write) return {};
        return file_.writable_bytes().subspan(static_cast<std::size_t>(data_offset() + tensor.data_begin),
                                              static_cast<std::size_t>(tensor.byte_size()));
    }
    std::span<std::byte> tensor_writable(const tensor_view& tensor) && = delete;

    [[nodiscard]] const metadata_map& metadata() const& noexcept { return metadata_; }
    const metadata_map& metadata() && = delete;
    [[nodiscard]] bool has_metadata() const noexcept { return has_metadata_; }

    [[nodiscard]] uint64_t header_size() const noexcept { return header_size_; }  // N
    [[nodiscard]] uint64_t data_offset() const noexcept { return 8 + header_size_; }
    [[nodiscard]] uint64_t file_size() const noexcept { return bytes_.size(); }
    // The header JSON text (N bytes, as stored) and the whole input.
    [[nodiscard]] std::string_view header_text() const& noexcept;
    std::string_view header_text() && = delete;
    [[nodiscard]] std::span<const std::byte> bytes() const& noexcept { return bytes_; }
    std::span<const std::byte> bytes() && = delete;
    // The path given to open(); empty for from_buffer().
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return file_.path(); }

private:
    friend struct safetensors_file_builder;  // src/format/reader.cpp
    mapped_file file_;                       // empty for from_buffer()
    std::span<const std::byte> bytes_;
    uint64_t header_size_ = 0;
    std::vector<tensor_view> tensors_;       // file order
    std::vector<uint32_t> by_name_;          // indexes into tensors_, sorted by name
    std::vector<char> names_;                // decoded names, back to back
    std::vector<uint64_t> shapes_;           // all shapes, back to back
    metadata_map metadata_;
    bool has_metadata_ = false;
};

// Copies a tensor's bytes into `out` (which may be larger). Returns the number of bytes written.
// Errors: st_buffer_too_small (name set).
[[nodiscard]] result<uint64_t> tensor_copy(const tensor_view& tensor, std::span<std::byte> out);

// One dimension of a slice: elements start, start + step, start + 2·step, ... below stop.
struct slice_range {
    uint64_t start = 0;
    uint64_t stop = 0;
    uint64_t step = 1;
};

// Byte size of the slice `ranges` of `tensor` (one range per dimension), copied out contiguously in
// row-major order. Errors: st_slice_rank_mismatch, st_slice_out_of_range (start > stop, stop >
// extent or step 0), st_slice_not_byte_aligned (a sub-byte dtype whose selected runs do not start
// and end on byte boundaries).
[[nodiscard]] result<uint64_t> tensor_slice_size(const tensor_view& tensor,
                                                 std::span<const slice_range> ranges);
// Copies the slice into `out` (row-major, contiguous), copying the largest contiguous inner runs
// at once. Returns the number of bytes written. Errors: those of tensor_slice_size,
// st_buffer_too_small.
[[nodiscard]] result<uint64_t> tensor_slice(const tensor_view& tensor,
                                            std::span<const slice_range> ranges,
                                            std::span<std::byte> out);

// ---- Sharded checkpoints -------------------------------------------------------------------------
//
// model.safetensors.index.json: {"metadata": {...}, "weight_map": {"tensor name": "shard file"}}.
// Shard names must be plain file names in the index's folder (no '/', '\\', "..", "." or empty).

struct shard_index {
    std::string metadata_json;  // the "metadata" value, minified; empty when absent
    // weight_map in document order.
    std::vector<std::pair<std::string, std::string>> weight_map;
    std::vector<std::string> shards;  // distinct shard names, in order of first appearance
};

// Parses an index document. Errors: st_index_invalid_json (also not an object, trailing content,
// invalid UTF-8, duplicate keys, too deep), st_index_missing_weight_map (absent or not an object),
// st_index_invalid_entry (a value that is not a string; name set), st_index_invalid_shard_name
// (name set), st_header_too_large (longer than options.max_header_bytes).
[[nodiscard]] result<shard_index> parse_shard_index(std::string_view json_text,
                                                    const read_options& options = {});

// One tensor of a sharded model: the view and which shard holds it.
struct sharded_tensor {
    const tensor_view* tensor = nullptr;
    std::size_t shard = 0;  // index into sharded_model::shards()
};

class sharded_model {
public:
    // Opens the index and every shard. Errors: io_open_failed/io_read_failed for the index, those of
    // parse_shard_index, those of safetensors_file::open for each shard (file set),
    // st_index_shard_missing_tensor (a weight_map entry absent from its shard), st_index_duplicate_tensor
    // (a tensor in two shards), st_index_unlisted_tensor (a shard tensor weight_map does not list,
    // or lists under another shard).
    [[nodiscard]] static result<sharded_model> open(const std::filesystem::path& index_path,
                                                    const read_options& options = {});

    // All tensors: shards in order of first appearance in weight_map, each in file order.
    [[nodiscard]] std::span<const sharded_tensor> tensors() const& noexcept { return tensors_; }
    std::span<const sharded_tensor> tensors() && = delete;
    [[nodiscard]] std::size_t tensor_count() const noexcept { return tensors_.size(); }
    // The tensor named `name` in whichever shard holds it, or nullptr.
    [[nodiscard]] const sharded_tensor* tensor_find(std::string_view name) const& noexcept;
    const sharded_tensor* tensor_find(std::string_view name) && = delete;

    [[nodiscard]] std::span<const safetensors_file> shards() const& noexcept { return shards_; }
    std::span<const safetensors_file> shards() && = delete;
    [[nodiscard]] const shard_index& index() const& noexcept { return index_; }
    const shard_index& index() && = delete;

private:
    shard_index index_;
    std::vector<safetensors_file> shards_;  // parallel to index_.shards
    std::vector<sharded_tensor> tensors_;
    std::vector<uint32_t> by_name_;  // indexes into tensors_, sorted by name
};

}  // namespace stkit
