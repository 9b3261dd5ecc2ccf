// stkit/format/writer.hpp — the streaming safetensors writer, byte-identical to the reference
// (Hugging Face's Rust) serializer.
//
// Layout produced (see safetensors.hpp for the format): tensors are ordered by dtype in descending
// enum order (U64, I64, F64, C64, F32, U32, I32, BF16, F16, U16, I16, F8_E5M2FNUZ, F8_E4M3FNUZ,
// F8_E8M0, F8_E4M3, F8_E5M2, I8, U8, F6_E3M2, F6_E2M3, F4, BOOL), then by name byte-wise
// ascending. The header is compact JSON: "__metadata__" first (when it has an entry, or when asked
// for an empty one: empty_metadata) with
// its keys sorted, then each tensor in file order as
// {"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}; strings escaped as serde_json does (\" \\ \b
//  \f \n \r \t, other control characters \u00XX in lowercase hex, everything else raw UTF-8).
// The header is padded with spaces to a multiple of 8 bytes. An empty file is `{}` + 6 spaces.
//
// Use:
//   1. create(destination, overwrite)
//   2. declare(name, dtype, shape) for every tensor; set_metadata(key, value) as needed
//   3. layout(): fixes the order, writes the header, returns the tensors in file order
//   4. supply each tensor's bytes in that order: append() in one or more chunks, write_tensor()
//      with a whole span, or write_tensor() with a producer callback
//   5. finish(): checks completeness, fsyncs; temp_path() can then be re-opened for verification
//   6. commit(): atomic rename into place (refuses to replace unless `overwrite`)
// Tensor bytes are never buffered beyond output_file's small write buffer, so multi-GB files are
// written in constant memory. Destroying the writer before commit() leaves no file behind.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "stkit/error.hpp"
#include "stkit/file.hpp"
#include "stkit/format/dtype.hpp"

namespace stkit {

// A declared tensor with its place in the file.
struct planned_tensor {
    std::string name;
    dtype type = dtype::u8;
    std::vector<uint64_t> shape;
    uint64_t data_begin = 0;  // data_offsets, relative to the data buffer
    uint64_t data_end = 0;
    [[nodiscard]] uint64_t byte_size() const noexcept { return data_end - data_begin; }
};

// Called by a producer with consecutive chunks of one tensor's bytes.
using byte_sink = std::function<result<void>(std::span<const std::byte>)>;
// Supplies one tensor's bytes by calling the sink (any number of times); returns its own error to
// abort the write.
using tensor_producer = std::function<result<void>(const byte_sink& sink)>;

// Builds the header (JSON plus padding, without the 8-byte length) for tensors already in file order
// with offsets assigned, and metadata sorted by key. Used by the writer; exposed for tests and tools
// that need the exact bytes.
// Whether "__metadata__" is written when there is no entry. The reference writes it for metadata
// given as an empty dict (`"__metadata__":{}`) and leaves it out only when no metadata was given;
// Python callers say which with `metadata=None` or `metadata={}`.
enum class empty_metadata { omitted, written };

[[nodiscard]] std::string build_header(std::span<const planned_tensor> tensors,
                                       std::span<const std::pair<std::string, std::string>> metadata,
                                       empty_metadata when_empty = empty_metadata::omitted);

// Sorts `tensors` into the reference order and assigns contiguous data offsets from 0. Errors:
// st_write_invalid_name (not UTF-8), st_write_reserved_name, st_write_duplicate_name,
// st_shape_overflow, st_partial_byte (element count × bits not a whole number of bytes).
[[nodiscard]] result<void> plan_layout(std::vector<planned_tensor>& tensors);

class safetensors_writer {
public:
    // Errors: those of output_file::create (output_exists, io_open_failed).
    [[nodiscard]] static result<safetensors_writer> create(const std::filesystem::path& destination,
                                                           bool overwrite = false);

    safetensors_writer() = default;
    safetensors_writer(safetensors_writer&&) noexcept = default;
    safetensors_writer& operator=(safetensors_writer&&) noexcept = default;

    // Declares a tensor (before layout()). Errors: st_write_invalid_name, st_write_reserved_name,
    // st_write_duplicate_name, st_shape_overflow, st_partial_byte (name set), invalid_argument
    // after layout().
    [[nodiscard]] result<void> declare(std::string name, dtype type, std::vector<uint64_t> shape);
    // Adds a metadata entry (before layout()). Errors: st_write_invalid_name (key or value not UTF-8),
    // st_write_duplicate_name (key given twice), invalid_argument after layout().
    [[nodiscard]] result<void> set_metadata(std::string key, std::string value);
    // Writes "__metadata__" even when no entry is set (before layout(); see empty_metadata).
    void write_empty_metadata() noexcept { empty_metadata_ = empty_metadata::written; }

    // Fixes the file order and writes the header. Returns the tensors in file order (valid until the
    // writer is destroyed). Errors: io_write_failed, invalid_argument if called twice.
    [[nodiscard]] result<std::span<const planned_tensor>> layout();

    // Appends a chunk of tensor `name`'s bytes. `name` must be the tensor in progress, or the next one
    // in file order once the one in progress is complete (zero-size tensors in between are completed
    // automatically). Errors: st_write_out_of_order (not the tensor in progress or next, or before
    // layout()), st_write_byte_count_mismatch (more bytes than the tensor holds, or moving on while
    // the current one is incomplete), io_write_failed.
    [[nodiscard]] result<void> append(std::string_view name, std::span<const std::byte> bytes);
    // Writes all of tensor `name`'s bytes at once. Errors: those of append(), and
    // st_write_byte_count_mismatch if `bytes` is not exactly the tensor's size.
    [[nodiscard]] result<void> write_tensor(std::string_view name, std::span<const std::byte> bytes);
    // Writes tensor `name` by calling `produce`, which feeds the sink; the tensor must be complete
    // when it returns. Errors: those of append(), the producer's own, st_write_byte_count_mismatch.
    [[nodiscard]] result<void> write_tensor(std::string_view name, const tensor_producer& produce);

    // Everything written so far reaches the temporary file, without fsync: temp_path() can be read
    // back while finish() syncs. Errors: io_write_failed.
    [[nodiscard]] result<void> flush();
    // Checks every tensor is complete and fsyncs the temporary file. Errors: st_write_incomplete
    // (name of the first incomplete tensor), those of output_file::finish().
    [[nodiscard]] result<void> finish();
    // finish() if needed, then renames into place. Errors: those of finish(), output_exists,
    // io_rename_failed.
    [[nodiscard]] result<void> commit();

    // The complete temporary file after finish(), for re-opening to verify.
    [[nodiscard]] const std::filesystem::path& temp_path() const noexcept { return out_.temp_path(); }
    [[nodiscard]] const std::filesystem::path& destination() const noexcept { return out_.destination(); }
    [[nodiscard]] uint64_t bytes_written() const noexcept { return out_.bytes_written(); }
    [[nodiscard]] std::span<const planned_tensor> tensors() const noexcept { return tensors_; }

private:
    [[nodiscard]] result<void> advance_to(std::string_view name);

    output_file out_;
    std::vector<planned_tensor> tensors_;
    std::vector<std::pair<std::string, std::string>> metadata_;
    empty_metadata empty_metadata_ = empty_metadata::omitted;
    std::unordered_set<std::string> declared_names_;  // until layout()
    bool laid_out_ = false;
    bool finished_ = false;
    std::size_t current_ = 0;     // tensor in progress (file order)
    uint64_t current_done_ = 0;   // bytes supplied for it
};

// ---- Whole tensors in one call ---------------------------------------------------------------------

// A tensor given whole: what declare() takes, and its bytes (row-major, little-endian), borrowed.
struct tensor_bytes {
    std::string name;
    dtype type = dtype::u8;
    std::vector<uint64_t> shape;
    std::span<const std::byte> data;
};

// Writes `tensors` and `metadata` (both in any order) to `destination` with safetensors_writer: a
// temporary file, fsynced, linked into place. Returns the file's size. Errors: those of create(),
// declare(), set_metadata(), write_tensor() (st_write_byte_count_mismatch when a tensor's bytes do
// not fill its shape exactly) and commit().
[[nodiscard]] result<uint64_t> write_file(const std::filesystem::path& destination,
                                          std::span<const tensor_bytes> tensors,
                                          std::span<const std::pair<std::string, std::string>> metadata,
                                          bool overwrite = false,
                                          empty_metadata when_empty = empty_metadata::omitted);

// The bytes write_file() would write, in memory. Errors: those of plan_layout(), those of
// set_metadata() (st_write_invalid_name, st_write_duplicate_name), st_write_byte_count_mismatch.
[[nodiscard]] result<std::vector<std::byte>> write_buffer(
    std::span<const tensor_bytes> tensors, std::span<const std::pair<std::string, std::string>> metadata,
    empty_metadata when_empty = empty_metadata::omitted);

}  // namespace stkit
