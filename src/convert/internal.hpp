// Shared internals of convert/: the pickle walk, the plan checks and page hints.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "stkit/containers/zip.hpp"
#include "stkit/convert/checkpoint.hpp"
#include "stkit/pickle/machine.hpp"

namespace stkit::convert::detail {

// The safetensors dtype of a torch element type; nullopt for complex128, complex32, quantized.
[[nodiscard]] std::optional<dtype> dtype_from_torch(pickle::torch_scalar type) noexcept;
// Bytes swapped together when converting big-endian data (a C64 is two F32 halves).
[[nodiscard]] unsigned swap_unit(dtype type) noexcept;

// Runs one pickle in restricted mode. When a global is refused, runs it again as a whole model
// (machine_options::whole_model), refusing any global on the dangerous list; when that is refused
// too, its refusal is returned unless the first refused global is itself dangerous. Otherwise the
// pickle is run again in analysis mode so the error's detail lists *every* global outside the
// allowlist with its offset, not only the first.
[[nodiscard]] result<pickle::pickle_run> run_restricted(std::span<const std::byte> data,
                                                       uint64_t base_offset,
                                                       const pickle::pickle_limits& limits);

// Maps a persistent-id storage reference to an index into checkpoint::storages (loading or
// borrowing the bytes on first use). `offset` is the pickle offset, for messages.
using storage_resolver =
    std::function<result<uint32_t>(const pickle::storage_ref& storage, uint64_t offset)>;

// Walks the pickled object (see checkpoint.hpp for the structure rules) into `out.tensors` and
// `out.others`, then runs finish_plan. Errors: cv_invalid_checkpoint, cv_unsupported_dtype,
// cv_unsupported_tensor, the resolver's, finish_plan's.
[[nodiscard]] result<void> collect_torch_tensors(const pickle::pickle_run& run,
                                                 const storage_resolver& resolve, checkpoint& out);

// Checks every view against its storage (checked arithmetic), sets byte sizes and contiguity,
// refuses duplicate names, removes aliases. Errors: cv_view_out_of_bounds, cv_duplicate_name,
// cv_no_tensors.
[[nodiscard]] result<void> finish_plan(checkpoint& out);

// The member's bytes: zero-copy for stored members (CRC-checked now, or left to the caller with
// options.defer_stored_crc; pages released as they are summed with release_consumed_pages),
// inflated for deflated ones. Errors: those of zip_archive::read / stored_bytes, zip_crc_mismatch.
[[nodiscard]] result<void> load_member(const zip_archive& zip, const zip_member& member,
                                       const load_options& options, source_storage& storage);

// The CRC-32 of a stored record's bytes (in chunks whose pages are released, when releasable).
[[nodiscard]] uint32_t record_crc(const source_storage& storage) noexcept;
// Compares a stored record's CRC, `computed` already or computed now, with `expected`.
// Errors: zip_crc_mismatch naming the member and its data offset.
[[nodiscard]] result<void> check_record_crc(const source_storage& storage, uint32_t expected,
                                            std::optional<uint32_t> computed);


// Opens a zip with the decompression cap of `options`. Errors: those of zip_archive::open.
[[nodiscard]] result<zip_archive> open_zip(std::span<const std::byte> file,
                                           const load_options& options);

// Internal entry points on an already opened archive (load_checkpoint opens it once).
[[nodiscard]] result<checkpoint> load_torch_archive(const zip_archive& zip,
                                                    const load_options& options);
[[nodiscard]] result<checkpoint> load_npz_archive(const zip_archive& zip,
                                                  const load_options& options);

}  // namespace stkit::convert::detail
