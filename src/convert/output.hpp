// The write and verify phases of a conversion (see stkit/convert/convert.hpp).
//
// Bytes that need no change (a contiguous, little-endian tensor borrowed from the input file) are
// written from the input's map in one pass that also computes the stored record's CRC-32; the
// others are produced by stream_tensor and written. Verification is independent of the write: the
// source digest of every tensor comes from the input again (read from the file, or produced again)
// beside the write, the output digest from reading the written file back beside its fsync.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <span>
#include <vector>

#include "stkit/convert/checkpoint.hpp"
#include "stkit/digest.hpp"
#include "stkit/format/writer.hpp"

namespace stkit::convert::detail {

struct written_output {
    uint64_t tensor_bytes = 0;
    uint64_t file_bytes = 0;
    uint64_t mapped_bytes = 0;  // written straight from the input's map
};

// Bytes done of a conversion's total (written, then read back), reported to the caller's
// callback; shared by the threads of a conversion.
struct progress_counter {
    std::function<void(uint64_t done, uint64_t total)> report;
    uint64_t total = 0;
    std::atomic<uint64_t> done{0};
    void add(uint64_t bytes) {
        uint64_t now = done += bytes;
        if (report) report(now, total);
    }
};

// A tensor's bytes in the input map when they can be written as they are; nullopt when they must
// be produced (strided, byte-swapped, inflated).
[[nodiscard]] std::optional<std::span<const std::byte>> mapped_tensor_bytes(
    const checkpoint& plan, const source_tensor& tensor, std::span<const std::byte> input_map) noexcept;

// Declares every planned tensor and the metadata ({"format": "pt"} and one "alias": "kept" per
// dropped alias), writes the tensors in the writer's file order, checks the CRC-32 of every stored
// record the plan left unchecked (load_options::defer_stored_crc) and flushes (no fsync).
// Errors: those of safetensors_writer, zip_crc_mismatch.
[[nodiscard]] result<written_output> write_checkpoint(const checkpoint& plan, safetensors_writer& writer,
                                                      std::span<const std::byte> input_map, std::size_t chunk_bytes,
                                                      progress_counter& progress);

// One digest per planned tensor (in plan order) of the bytes the output must hold: read with pread
// from `source` (the file `input_map` maps) where they are written from the map, produced by
// stream_tensor otherwise. Errors: io_open_failed, cv_verify_failed (a short read; name set).
[[nodiscard]] result<std::vector<xxh3_digest>> source_digests(const checkpoint& plan,
                                                              const std::filesystem::path& source,
                                                              std::span<const std::byte> input_map,
                                                              std::size_t chunk_bytes);

// Re-opens the written file: it must validate, hold exactly the planned tensors with the planned
// dtypes, shapes and sizes and the planned metadata; returns each tensor's digest (plan order) of
// the bytes read back with pread. Errors: st_* (the reader), cv_verify_failed (name set),
// io_read_failed.
[[nodiscard]] result<std::vector<xxh3_digest>> output_digests(const checkpoint& plan,
                                                              const std::filesystem::path& path,
                                                              std::size_t chunk_bytes, progress_counter& progress);

// Compares the two digest lists. Errors: cv_verify_failed naming the first tensor that differs.
[[nodiscard]] result<void> compare_digests(const checkpoint& plan, const std::vector<xxh3_digest>& source,
                                           const std::vector<xxh3_digest>& output);

}  // namespace stkit::convert::detail
