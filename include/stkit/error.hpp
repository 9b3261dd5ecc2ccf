// stkit/error.hpp — the one error vocabulary of the library.
//
// Every fallible function in stkit returns `result<T>`: either a value or an `error`. Nothing in
// the library throws, prints or aborts on bad input (see STYLE.md). An `error` carries:
//   code    one flat enum value, one per rejection rule (`error_code` below)
//   detail  the specifics of this occurrence ("expected 12 bytes, found 8")
//   offset  the absolute byte offset in the input where the problem is, when one applies
//   name    the tensor, archive member or pickle global involved, when one applies
//   file    the path of the input, filled in by the layer that knows it
// The fixed sentence for each code lives in one table (src/core/error.cpp); `error_message(code)`
// returns it and a test checks that every code has one.
#pragma once

#include <cstdint>
#include <limits>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace stkit {

// Grouped by subsystem; the prefix says which. Add new codes at the end of their group and add the
// message to src/core/error.cpp (a static_assert and a test keep the two in step).
enum class error_code : uint16_t {
    ok = 0,

    // General and I/O.
    invalid_argument,
    io_open_failed,
    io_read_failed,
    io_write_failed,
    io_map_failed,
    io_sync_failed,
    io_rename_failed,
    output_exists,
    truncated,
    allocation_limit,
    digest_failed,

    // format/: safetensors files, the reader.
    st_file_too_small,
    st_header_too_large,
    st_header_incomplete,
    st_header_invalid_utf8,
    st_header_invalid_json,
    st_header_not_object,
    st_header_too_deep,
    st_duplicate_key,
    st_tensor_not_object,
    st_missing_dtype,
    st_missing_shape,
    st_missing_offsets,
    st_invalid_dtype,
    st_invalid_shape,
    st_invalid_offsets,
    st_metadata_not_object,
    st_metadata_value_not_string,
    st_reserved_name,
    st_shape_overflow,
    st_partial_byte,
    st_size_mismatch,
    st_offsets_reversed,
    st_offsets_gap,
    st_offsets_overlap,
    st_data_size_mismatch,
    st_tensor_limit,
    st_tensor_not_found,
    st_slice_rank_mismatch,
    st_slice_out_of_range,
    st_slice_not_byte_aligned,
    st_buffer_too_small,
    // format/: the writer.
    st_write_duplicate_name,
    st_write_reserved_name,
    st_write_invalid_name,
    st_write_byte_count_mismatch,
    st_write_out_of_order,
    st_write_incomplete,
    // format/: sharded checkpoints (model.safetensors.index.json).
    st_index_invalid_json,
    st_index_missing_weight_map,
    st_index_invalid_entry,
    st_index_shard_missing_tensor,
    st_index_duplicate_tensor,
    st_index_unlisted_tensor,
    st_index_invalid_shard_name,

    // pickle/: the restricted pickle machine.
    pk_truncated,
    pk_unknown_opcode,
    pk_invalid_protocol,
    pk_invalid_frame,
    pk_invalid_operand,
    pk_invalid_string,
    pk_stack_underflow,
    pk_mark_missing,
    pk_memo_missing,
    pk_no_stop,
    pk_stack_limit,
    pk_memo_limit,
    pk_opcode_limit,
    pk_string_limit,
    pk_allocation_limit,
    pk_depth_limit,
    pk_global_refused,
    pk_build_refused,
    pk_call_refused,
    pk_persistent_id_refused,
    pk_extension_refused,

    // containers/: zip, tar, npy, compression.
    zip_not_zip,
    zip_invalid_directory,
    zip_invalid_local_header,
    zip_member_not_found,
    zip_unsupported_compression,
    zip_encrypted,
    zip_crc_mismatch,
    zip_name_mismatch,
    zip_duplicate_member,
    zip_member_limit,
    decompressed_limit,
    decompress_failed,
    tar_invalid,
    archive_encrypted,
    npy_invalid_magic,
    npy_unsupported_version,
    npy_invalid_header,
    npy_unsupported_dtype,
    npy_object_array,
    npy_size_mismatch,

    // convert/.
    cv_unrecognized_input,
    cv_code_bearing_archive,
    cv_invalid_checkpoint,
    cv_storage_missing,
    cv_storage_size_mismatch,
    cv_view_out_of_bounds,
    cv_unsupported_tensor,
    cv_unsupported_dtype,
    cv_big_endian,
    cv_no_tensors,
    cv_duplicate_name,
    cv_verify_failed,
    cv_index_invalid,
    cv_ambiguous_archive,
    // convert/: the conversion commit (stkit/convert/commit.hpp).
    cv_git_not_worktree,
    cv_git_no_head,
    cv_git_dirty,
    cv_git_branch_exists,
    cv_git_no_identity,
    cv_git_has_safetensors,
    cv_git_failed,

    // scan/.
    scan_depth_limit,
    scan_size_limit,
    // scan/: GGUF metadata (stkit/scan/gguf.hpp).
    gguf_invalid_magic,
    gguf_unsupported_version,
    gguf_invalid_type,
    gguf_kv_limit,
    gguf_tensor_limit,
    gguf_array_limit,
    gguf_string_limit,
    gguf_depth_limit,

    // audit/.
    audit_git_failed,
    audit_invalid_shard,
    audit_merge_invalid,
};

// Number of codes; keep equal to the last enumerator + 1.
inline constexpr std::size_t error_code_count =
    static_cast<std::size_t>(error_code::audit_merge_invalid) + 1;

// The fixed sentence for `code` ("header length exceeds the limit"). Never empty.
[[nodiscard]] std::string_view error_message(error_code code) noexcept;
// The enumerator's name ("st_header_too_large"), for JSON output and tests. Never empty.
[[nodiscard]] std::string_view error_code_name(error_code code) noexcept;

inline constexpr uint64_t no_offset = std::numeric_limits<uint64_t>::max();

struct error {
    error_code code = error_code::ok;
    std::string detail;
    uint64_t offset = no_offset;
    std::string name;
    std::string file;

    [[nodiscard]] bool has_offset() const noexcept { return offset != no_offset; }
    // "FILE: tensor 'NAME': byte OFFSET: MESSAGE (DETAIL)"; parts that do not apply are left out.
    [[nodiscard]] std::string to_string() const;
    // Returns *this with `file` set, so a caller can say `return std::move(e).in_file(path);`.
    [[nodiscard]] error in_file(std::string path) && {
        if (file.empty()) file = std::move(path);
        return std::move(*this);
    }
};

[[nodiscard]] inline error make_error(error_code code, std::string detail = {},
                                      uint64_t offset = no_offset, std::string name = {}) {
    return error{code, std::move(detail), offset, std::move(name), {}};
}

// A value or an error. Deliberately small: what the library needs of std::expected (C++23).
template <class T>
class [[nodiscard]] result {
    static_assert(!std::is_reference_v<T>, "result<T&> is not supported; use a pointer");

public:
    result(const T& value) : has_value_(true) { new (&value_) T(value); }
    result(T&& value) : has_value_(true) { new (&value_) T(std::move(value)); }
    result(stkit::error err) : has_value_(false) { new (&error_) stkit::error(std::move(err)); }
    result(const result& other) : has_value_(other.has_value_) {
        if (has_value_) new (&value_) T(other.value_);
        else new (&error_) stkit::error(other.error_);
    }
    result(result&& other) noexcept(std::is_nothrow_move_constructible_v<T>)
        : has_value_(other.has_value_) {
        if (has_value_) new (&value_) T(std::move(other.value_));
        else new (&error_) stkit::error(std::move(other.error_));
    }
    result& operator=(result other) noexcept(std::is_nothrow_move_constructible_v<T>) {
        destroy();
        has_value_ = other.has_value_;
        if (has_value_) new (&value_) T(std::move(other.value_));
        else new (&error_) stkit::error(std::move(other.error_));
        return *this;
    }
    ~result() { destroy(); }

    [[nodiscard]] bool ok() const noexcept { return has_value_; }
    explicit operator bool() const noexcept { return has_value_; }

    // Precondition for the accessors: ok() (value) or !ok() (error); checked in debug builds.
    T& value() & { return value_; }
    const T& value() const& { return value_; }
    T&& value() && { return std::move(value_); }
    T& operator*() & { return value_; }
    const T& operator*() const& { return value_; }
    T&& operator*() && { return std::move(value_); }
    T* operator->() { return &value_; }
    const T* operator->() const { return &value_; }

    const stkit::error& error() const& { return error_; }
    stkit::error&& error() && { return std::move(error_); }

private:
    void destroy() noexcept {
        if (has_value_) value_.~T();
        else error_.~error();
    }
    bool has_value_;
    union {
        T value_;
        stkit::error error_;
    };
};

template <>
class [[nodiscard]] result<void> {
public:
    result() = default;
    result(stkit::error err) : has_error_(true), error_(std::move(err)) {}
    [[nodiscard]] bool ok() const noexcept { return !has_error_; }
    explicit operator bool() const noexcept { return !has_error_; }
    const stkit::error& error() const& { return error_; }
    stkit::error&& error() && { return std::move(error_); }

private:
    bool has_error_ = false;
    stkit::error error_;
};

}  // namespace stkit

// Internal helpers for propagating errors. STKIT_ prefix per STYLE.md; not part of the API.
#define STKIT_CONCAT_INNER(a, b) a##b
#define STKIT_CONCAT(a, b) STKIT_CONCAT_INNER(a, b)

// STKIT_TRY(auto x, f()); declares x from f()'s value, or returns f()'s error from the caller.
#define STKIT_TRY(declaration, expression)                                      \
    auto STKIT_CONCAT(stkit_try_, __LINE__) = (expression);                     \
    if (!STKIT_CONCAT(stkit_try_, __LINE__).ok())                               \
        return std::move(STKIT_CONCAT(stkit_try_, __LINE__)).error();           \
    declaration = std::move(STKIT_CONCAT(stkit_try_, __LINE__)).value()

// STKIT_TRY_VOID(f()); returns f()'s error from the caller, if any.
#define STKIT_TRY_VOID(expression)                                              \
    do {                                                                        \
        auto stkit_try_void_result = (expression);                              \
        if (!stkit_try_void_result.ok()) return std::move(stkit_try_void_result).error(); \
    } while (0)

// Debug-only internal invariant check (never used for input validation).
#ifdef NDEBUG
#define STKIT_DEBUG_ASSERT(condition) ((void)0)
#else
#include <cassert>
#define STKIT_DEBUG_ASSERT(condition) assert(condition)
#endif
