// The parse of a safetensors file into its tensor table (not installed). reader.cpp runs it: the
// header is read by the fast path when it is in the usual shape (canonical_header.hpp), else by
// the general JSON path (header_json.cpp, simdjson's on-demand parser); both hand each tensor to
// add_tensor(), which applies the rules, and check_layout() then proves the offsets before any view
// is made.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "stkit/format/safetensors.hpp"

namespace stkit {

// A friend of safetensors_file, so the parse fills its private members directly.
struct safetensors_file_builder {
    safetensors_file& file;
    const read_options& options;
    std::string_view header = {};
    uint64_t header_offset = 8;

    // Where each tensor's shape begins in shapes_ (it ends where the next begins), and where each
    // name copied into names_ begins, until those vectors stop growing. Names borrowed from the
    // header are set in the views at once: the header does not move.
    std::vector<std::size_t> shape_begins = {};
    struct copied_name {
        std::size_t tensor;
        std::size_t begin;
    };
    std::vector<copied_name> copied_names = {};
    // The first rule a tensor or the metadata breaks. JSON that is not valid anywhere in the header
    // still wins over it (as when the whole document was parsed before any rule was applied), so
    // the parse reads on after it.
    std::optional<error> problem = {};

    // --- reader.cpp ---
    [[nodiscard]] result<void> parse(std::span<const std::byte> bytes);
    [[nodiscard]] uint64_t key_offset(std::string_view name) const;
    [[nodiscard]] error tensor_error(error_code code, std::string detail, std::string_view name) const;
    // Keeps the first rule broken; false when the parse must end here (`failure` is not a rule).
    bool note(error failure);
    // Applies every rule of one tensor entry and, when they hold, adds it. `name` must stay valid
    // (borrowed from the header) or is copied when `borrowed` is empty. Shape extents are those
    // appended to shapes_ from `shape_begin`.
    [[nodiscard]] result<void> add_tensor(std::string_view name, std::string_view borrowed, dtype type,
                                          std::size_t shape_begin, uint64_t begin, uint64_t end);
    // The fast path's entries (canonical_header.hpp); false ends the fast path (the general path
    // takes the header over).
    bool fast_metadata_begin();
    void fast_metadata(std::string_view key, std::string_view value);
    bool fast_tensor(std::string_view name, std::string_view dtype_name, std::span<const uint64_t> shape,
                     uint64_t begin, uint64_t end);
    void discard_table();
    [[nodiscard]] result<void> finish_table();
    [[nodiscard]] result<void> check_layout();

    // --- header_json.cpp: the general path ---
    // Reads the whole header with simdjson's on-demand parser. `readable_after` bytes follow the
    // header in the buffer (simdjson may read up to its padding past the end).
    [[nodiscard]] result<void> parse_json_header(std::size_t readable_after);
    [[nodiscard]] result<void> parse_metadata(simdjson::ondemand::value value);
    [[nodiscard]] result<void> parse_tensor(std::string_view name, simdjson::ondemand::value value,
                                            std::string_view borrowed);
    [[nodiscard]] error json_error(simdjson::error_code failure) const;
    simdjson::error_code read_u64(simdjson::ondemand::value value, uint64_t& out, bool& rule, uint32_t depth);
    simdjson::error_code read_shape(simdjson::ondemand::value value, std::string_view name, std::optional<error>& rule);
    simdjson::error_code read_offsets(simdjson::ondemand::value value, std::string_view name, uint64_t (&offsets)[2],
                                      std::optional<error>& rule);
    simdjson::error_code walk(simdjson::ondemand::value value, std::string& repeated, uint32_t depth) const;

    // The fast path's last dtype name (in the header) and its dtype.
    std::string_view last_dtype_name = {};
    dtype last_dtype = dtype::u8;
    std::vector<std::string> unknown_keys = {};
    std::string dtype_text = {};
};

}  // namespace stkit
