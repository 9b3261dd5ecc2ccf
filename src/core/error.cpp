// The message table for error_code (include/stkit/error.hpp): one row per code, in enum order.
#include "stkit/error.hpp"

#include <array>

namespace stkit {
namespace {

struct error_row {
    error_code code;
    std::string_view name;
    std::string_view message;
};

constexpr error_row error_table[] = {
    {error_code::ok, "ok", "no error"},
    {error_code::invalid_argument, "invalid_argument", "invalid argument"},
    {error_code::io_open_failed, "io_open_failed", "cannot open file"},
    {error_code::io_read_failed, "io_read_failed", "cannot read file"},
    {error_code::io_write_failed, "io_write_failed", "cannot write file"},
    {error_code::io_map_failed, "io_map_failed", "cannot map file into memory"},
    {error_code::io_sync_failed, "io_sync_failed", "cannot flush file to disk"},
    {error_code::io_rename_failed, "io_rename_failed", "cannot move the finished file into place"},
    {error_code::output_exists, "output_exists", "output file already exists (use --force to overwrite)"},
    {error_code::truncated, "truncated", "unexpected end of data"},
    {error_code::allocation_limit, "allocation_limit", "allocation limit exceeded"},
    {error_code::digest_failed, "digest_failed", "cannot compute digest"},
    {error_code::st_file_too_small, "st_file_too_small", "file is shorter than the 8-byte header length"},
    {error_code::st_header_too_large, "st_header_too_large", "header length exceeds the limit"},
    {error_code::st_header_incomplete, "st_header_incomplete", "header length runs past the end of the file"},
    {error_code::st_header_invalid_utf8, "st_header_invalid_utf8", "header is not valid UTF-8"},
    {error_code::st_header_invalid_json, "st_header_invalid_json", "header is not valid JSON"},
    {error_code::st_header_not_object, "st_header_not_object", "header is not a single JSON object"},
    {error_code::st_header_too_deep, "st_header_too_deep", "header JSON is nested too deeply"},
    {error_code::st_duplicate_key, "st_duplicate_key", "duplicate key in header"},
    {error_code::st_tensor_not_object, "st_tensor_not_object", "tensor entry is not a JSON object"},
    {error_code::st_missing_dtype, "st_missing_dtype", "tensor entry has no dtype"},
    {error_code::st_missing_shape, "st_missing_shape", "tensor entry has no shape"},
    {error_code::st_missing_offsets, "st_missing_offsets", "tensor entry has no data_offsets"},
    {error_code::st_invalid_dtype, "st_invalid_dtype", "unknown dtype"},
    {error_code::st_invalid_shape, "st_invalid_shape", "shape must be an array of non-negative 64-bit integers"},
    {error_code::st_invalid_offsets, "st_invalid_offsets", "data_offsets must be exactly two non-negative 64-bit integers"},
    {error_code::st_metadata_not_object, "st_metadata_not_object", "__metadata__ is not a JSON object"},
    {error_code::st_metadata_value_not_string, "st_metadata_value_not_string", "__metadata__ value is not a string"},
    {error_code::st_reserved_name, "st_reserved_name", "tensor uses the reserved name __metadata__"},
    {error_code::st_shape_overflow, "st_shape_overflow", "shape times dtype size overflows 64 bits"},
    {error_code::st_partial_byte, "st_partial_byte", "tensor size is not a whole number of bytes"},
    {error_code::st_size_mismatch, "st_size_mismatch", "data_offsets span does not match shape and dtype"},
    {error_code::st_offsets_reversed, "st_offsets_reversed", "data_offsets end is before begin"},
    {error_code::st_offsets_gap, "st_offsets_gap", "tensors are not contiguous: gap between tensors"},
    {error_code::st_offsets_overlap, "st_offsets_overlap", "tensors overlap"},
    {error_code::st_data_size_mismatch, "st_data_size_mismatch", "data buffer size does not equal the end of the last tensor"},
    {error_code::st_tensor_limit, "st_tensor_limit", "too many tensors"},
    {error_code::st_tensor_not_found, "st_tensor_not_found", "no tensor with that name"},
    {error_code::st_slice_rank_mismatch, "st_slice_rank_mismatch", "slice has a different number of dimensions than the tensor"},
    {error_code::st_slice_out_of_range, "st_slice_out_of_range", "slice range is outside the tensor"},
    {error_code::st_slice_not_byte_aligned, "st_slice_not_byte_aligned", "slice of a sub-byte dtype does not fall on byte boundaries"},
    {error_code::st_buffer_too_small, "st_buffer_too_small", "destination buffer is too small"},
    {error_code::st_write_duplicate_name, "st_write_duplicate_name", "tensor name declared twice"},
    {error_code::st_write_reserved_name, "st_write_reserved_name", "tensor name __metadata__ is reserved"},
    {error_code::st_write_invalid_name, "st_write_invalid_name", "tensor name is not valid UTF-8"},
    {error_code::st_write_byte_count_mismatch, "st_write_byte_count_mismatch", "bytes supplied do not match shape and dtype"},
    {error_code::st_write_out_of_order, "st_write_out_of_order", "tensor data supplied out of order"},
    {error_code::st_write_incomplete, "st_write_incomplete", "not every declared tensor was written"},
    {error_code::st_index_invalid_json, "st_index_invalid_json", "index file is not valid JSON"},
    {error_code::st_index_missing_weight_map, "st_index_missing_weight_map", "index file has no weight_map object"},
    {error_code::st_index_invalid_entry, "st_index_invalid_entry", "weight_map entry is not a string"},
    {error_code::st_index_shard_missing_tensor, "st_index_shard_missing_tensor", "tensor listed in weight_map is not in its shard"},
    {error_code::st_index_duplicate_tensor, "st_index_duplicate_tensor", "tensor appears in more than one shard"},
    {error_code::st_index_unlisted_tensor, "st_index_unlisted_tensor", "shard holds a tensor that weight_map does not list"},
    {error_code::st_index_invalid_shard_name, "st_index_invalid_shard_name", "shard file name is not a plain file name"},
    {error_code::pk_truncated, "pk_truncated", "pickle ends in the middle of an opcode"},
    {error_code::pk_unknown_opcode, "pk_unknown_opcode", "unknown pickle opcode"},
    {error_code::pk_invalid_protocol, "pk_invalid_protocol", "unsupported pickle protocol"},
    {error_code::pk_invalid_frame, "pk_invalid_frame", "invalid pickle FRAME"},
    {error_code::pk_invalid_operand, "pk_invalid_operand", "pickle opcode applied to an operand of the wrong kind"},
    {error_code::pk_invalid_string, "pk_invalid_string", "invalid string literal in pickle"},
    {error_code::pk_stack_underflow, "pk_stack_underflow", "pickle stack underflow"},
    {error_code::pk_mark_missing, "pk_mark_missing", "pickle opcode needs a MARK that is not there"},
    {error_code::pk_memo_missing, "pk_memo_missing", "pickle memo key not defined"},
    {error_code::pk_no_stop, "pk_no_stop", "pickle ends without STOP"},
    {error_code::pk_stack_limit, "pk_stack_limit", "pickle stack depth limit exceeded"},
    {error_code::pk_memo_limit, "pk_memo_limit", "pickle memo size limit exceeded"},
    {error_code::pk_opcode_limit, "pk_opcode_limit", "pickle opcode count limit exceeded"},
    {error_code::pk_string_limit, "pk_string_limit", "pickle string or bytes length limit exceeded"},
    {error_code::pk_allocation_limit, "pk_allocation_limit", "pickle total allocation limit exceeded"},
    {error_code::pk_depth_limit, "pk_depth_limit", "pickle object nesting limit exceeded"},
    {error_code::pk_global_refused, "pk_global_refused", "pickle imports a global outside the allowlist"},
    {error_code::pk_build_refused, "pk_build_refused", "pickle BUILD on an object that does not accept state"},
    {error_code::pk_call_refused, "pk_call_refused", "pickle calls something that is not an allowed constructor"},
    {error_code::pk_persistent_id_refused, "pk_persistent_id_refused", "pickle persistent id is not a storage reference"},
    {error_code::pk_extension_refused, "pk_extension_refused", "pickle uses the extension registry"},
    {error_code::zip_not_zip, "zip_not_zip", "not a zip archive"},
    {error_code::zip_invalid_directory, "zip_invalid_directory", "zip central directory is malformed"},
    {error_code::zip_invalid_local_header, "zip_invalid_local_header", "zip local file header is malformed"},
    {error_code::zip_member_not_found, "zip_member_not_found", "zip archive has no such member"},
    {error_code::zip_unsupported_compression, "zip_unsupported_compression", "zip member uses an unsupported compression method"},
    {error_code::zip_encrypted, "zip_encrypted", "zip member is encrypted"},
    {error_code::zip_crc_mismatch, "zip_crc_mismatch", "zip member CRC-32 does not match its data"},
    {error_code::zip_name_mismatch, "zip_name_mismatch", "zip local header name differs from the central directory name"},
    {error_code::zip_duplicate_member, "zip_duplicate_member", "zip archive has two members with the same name"},
    {error_code::zip_member_limit, "zip_member_limit", "zip archive member count limit exceeded"},
    {error_code::decompressed_limit, "decompressed_limit", "decompressed size limit exceeded"},
    {error_code::decompress_failed, "decompress_failed", "compressed data is corrupt"},
    {error_code::tar_invalid, "tar_invalid", "archive (tar, 7z or compressed stream) is malformed"},
    {error_code::archive_encrypted, "archive_encrypted", "archive is encrypted and cannot be read"},
    {error_code::npy_invalid_magic, "npy_invalid_magic", "not a NumPy .npy file"},
    {error_code::npy_unsupported_version, "npy_unsupported_version", "unsupported .npy format version"},
    {error_code::npy_invalid_header, "npy_invalid_header", ".npy header is malformed"},
    {error_code::npy_unsupported_dtype, "npy_unsupported_dtype", "unsupported NumPy dtype"},
    {error_code::npy_object_array, "npy_object_array", "NumPy object array (would need pickle to load)"},
    {error_code::npy_size_mismatch, "npy_size_mismatch", ".npy data size does not match shape and dtype"},
    {error_code::cv_unrecognized_input, "cv_unrecognized_input", "input is not a recognised checkpoint format"},
    {error_code::cv_code_bearing_archive, "cv_code_bearing_archive", "archive carries code (TorchScript) and is refused"},
    {error_code::cv_invalid_checkpoint, "cv_invalid_checkpoint", "checkpoint structure is not a tensor dictionary"},
    {error_code::cv_storage_missing, "cv_storage_missing", "tensor storage record is missing"},
    {error_code::cv_storage_size_mismatch, "cv_storage_size_mismatch", "storage record size does not match its element count"},
    {error_code::cv_view_out_of_bounds, "cv_view_out_of_bounds", "tensor view reaches outside its storage"},
    {error_code::cv_unsupported_tensor, "cv_unsupported_tensor", "tensor kind cannot be represented in safetensors"},
    {error_code::cv_unsupported_dtype, "cv_unsupported_dtype", "tensor dtype cannot be represented in safetensors"},
    {error_code::cv_big_endian, "cv_big_endian", "checkpoint was saved big-endian"},
    {error_code::cv_no_tensors, "cv_no_tensors", "checkpoint holds no tensors"},
    {error_code::cv_duplicate_name, "cv_duplicate_name", "two tensors map to the same name"},
    {error_code::cv_verify_failed, "cv_verify_failed", "written file does not match the source"},
    {error_code::cv_index_invalid, "cv_index_invalid", "pytorch_model.bin.index.json is malformed"},
    {error_code::cv_ambiguous_archive, "cv_ambiguous_archive",
     "archive reads as different checkpoints in different loaders"},
    {error_code::cv_git_not_worktree, "cv_git_not_worktree", "folder is not in a git working tree"},
    {error_code::cv_git_no_head, "cv_git_no_head", "git HEAD has no commit to branch from"},
    {error_code::cv_git_dirty, "cv_git_dirty", "git working tree has uncommitted changes"},
    {error_code::cv_git_branch_exists, "cv_git_branch_exists", "git branch already exists"},
    {error_code::cv_git_no_identity, "cv_git_no_identity", "no git identity configured (user.name and user.email)"},
    {error_code::cv_git_has_safetensors, "cv_git_has_safetensors", "folder already holds safetensors files"},
    {error_code::cv_git_failed, "cv_git_failed", "git operation failed"},
    {error_code::scan_depth_limit, "scan_depth_limit", "nesting depth limit exceeded while scanning"},
    {error_code::scan_size_limit, "scan_size_limit", "size budget exceeded while scanning"},
    {error_code::gguf_invalid_magic, "gguf_invalid_magic", "GGUF magic \"GGUF\" missing"},
    {error_code::gguf_unsupported_version, "gguf_unsupported_version", "GGUF version is not 1, 2 or 3"},
    {error_code::gguf_invalid_type, "gguf_invalid_type", "GGUF value type is not one of the 13 the spec defines"},
    {error_code::gguf_kv_limit, "gguf_kv_limit", "GGUF key-value count exceeds the limit"},
    {error_code::gguf_tensor_limit, "gguf_tensor_limit", "GGUF tensor count exceeds the limit"},
    {error_code::gguf_array_limit, "gguf_array_limit", "GGUF array item count exceeds the limit"},
    {error_code::gguf_string_limit, "gguf_string_limit", "GGUF string length exceeds the limit"},
    {error_code::gguf_depth_limit, "gguf_depth_limit", "GGUF arrays nested deeper than the limit"},
    {error_code::audit_git_failed, "audit_git_failed", "git repository cannot be read"},
    {error_code::audit_invalid_shard, "audit_invalid_shard", "invalid --shard (expected K/N with 1 <= K <= N)"},
    {error_code::audit_merge_invalid, "audit_merge_invalid", "audit JSON to merge is malformed"},
};

static_assert(std::size(error_table) == error_code_count,
              "every error_code needs one row in error_table");

constexpr bool table_in_enum_order() {
    for (std::size_t i = 0; i < std::size(error_table); ++i)
        if (static_cast<std::size_t>(error_table[i].code) != i) return false;
    return true;
}
static_assert(table_in_enum_order(), "error_table rows must follow the enum order");

const error_row* find_row(error_code code) noexcept {
    auto index = static_cast<std::size_t>(code);
    return index < std::size(error_table) ? &error_table[index] : nullptr;
}

}  // namespace

std::string_view error_message(error_code code) noexcept {
    const error_row* row = find_row(code);
    return row ? row->message : std::string_view("unknown error");
}

std::string_view error_code_name(error_code code) noexcept {
    const error_row* row = find_row(code);
    return row ? row->name : std::string_view("unknown");
}

std::string error::to_string() const {
    std::string text;
    if (!file.empty()) {
        text += file;
        text += ": ";
    }
    if (!name.empty()) {
        text += "'";
        text += name;
        text += "': ";
    }
    if (has_offset()) {
        text += "byte ";
        text += std::to_string(offset);
        text += ": ";
    }
    text += error_message(code);
    if (!detail.empty()) {
        text += " (";
        text += detail;
        text += ")";
    }
    return text;
}

}  // namespace stkit
