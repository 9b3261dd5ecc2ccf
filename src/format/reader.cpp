// The safetensors reader: validates the whole header (plan), then hands out views into the bytes
// (map). See stkit/format/safetensors.hpp for the rules and their error codes.
#include <algorithm>
#include <cstring>
#include <string>

#include "format/json_util.hpp"
#include "format/sorted_runs.hpp"
#include "stkit/detail/checked.hpp"
#include "stkit/detail/cursor.hpp"
#include "stkit/format/safetensors.hpp"

namespace stkit {

uint64_t tensor_view::element_count() const noexcept {
    return detail::checked_product(shape).value_or(0);  // validated at open: never overflows
}

// Builds a safetensors_file; a friend so the parse can fill its private members directly.
struct safetensors_file_builder {
    safetensors_file& file;
    const read_options& options;
    std::string_view header;
    uint64_t header_offset = 8;

    // Where in the file the entry for `name` starts (the header start if it cannot be located).
    [[nodiscard]] uint64_t key_offset(std::string_view name) const {
        std::size_t at = detail::locate_key(header, name);
        return header_offset + (at == std::string_view::npos ? 0 : at);
    }
    [[nodiscard]] error tensor_error(error_code code, std::string detail, std::string_view name) const {
        return make_error(code, std::move(detail), key_offset(name), std::string(name));
    }

    // Reads a JSON unsigned integer (no floats, exponents or negatives; simdjson refuses numbers
    // beyond 64 bits as a whole).
    static bool read_u64(simdjson::dom::element value, uint64_t& out) {
        auto type = value.type();
        if (type != simdjson::dom::element_type::INT64 && type != simdjson::dom::element_type::UINT64)
            return false;
        return !value.get_uint64().get(out);
    }

    struct pending_shape {
        std::size_t name_begin;
        std::size_t shape_begin;
        std::size_t shape_size;
    };

    [[nodiscard]] result<void> parse_metadata(simdjson::dom::element value) {
        file.has_metadata_ = true;
        simdjson::dom::object object;
        if (value.get_object().get(object))
            return tensor_error(error_code::st_metadata_not_object, {}, "__metadata__");
        for (simdjson::dom::key_value_pair field : object) {
            std::string_view text;
            if (field.value.get_string().get(text)) {
                // An object with a tensor's fields under the reserved key is a tensor named
                // __metadata__, not metadata.
                bool tensor_like = field.key == "data_offsets" || field.key == "shape";
                return tensor_error(tensor_like ? error_code::st_reserved_name
                                                : error_code::st_metadata_value_not_string,
                                    "key '" + std::string(field.key) + "'", "__metadata__");
            }
            auto [it, inserted] = file.metadata_.emplace(std::string(field.key), std::string(text));
            if (!inserted)
                return tensor_error(error_code::st_duplicate_key,
                                    "metadata key '" + it->first + "' repeated", "__metadata__");
        }
        return {};
    }

    [[nodiscard]] result<void> parse_tensor(std::string_view name, simdjson::dom::element value,
                                            std::vector<pending_shape>& pending) {
        simdjson::dom::object object;
        if (value.get_object().get(object))
            return tensor_error(error_code::st_tensor_not_object, {}, name);
        simdjson::dom::element dtype_value, shape_value, offsets_value;
        bool has_dtype = false, has_shape = false, has_offsets = false;
        for (simdjson::dom::key_value_pair field : object) {
            bool* seen = nullptr;
            if (field.key == "dtype") { seen = &has_dtype; dtype_value = field.value; }
            else if (field.key == "shape") { seen = &has_shape; shape_value = field.value; }
            else if (field.key == "data_offsets") { seen = &has_offsets; offsets_value = field.value; }
            if (seen) {
                if (*seen)
                    return tensor_error(error_code::st_duplicate_key,
                                        "field '" + std::string(field.key) + "' repeated", name);
                *seen = true;
            }
        }
        if (object.size() > 3 || !has_dtype || !has_shape || !has_offsets) {
            // Unknown fields are allowed, but not repeated keys anywhere within them.
            bool found = false;
            std::string_view key = detail::find_duplicate_key(value, found);
            if (found)
                return tensor_error(error_code::st_duplicate_key,
                                    "key '" + std::string(key) + "' repeated", name);
        }
        if (!has_dtype) return tensor_error(error_code::st_missing_dtype, {}, name);
        if (!has_shape) return tensor_error(error_code::st_missing_shape, {}, name);
        if (!has_offsets) return tensor_error(error_code::st_missing_offsets, {}, name);

        std::string_view dtype_text;
        if (dtype_value.get_string().get(dtype_text))
            return tensor_error(error_code::st_invalid_dtype, "dtype is not a string", name);
        auto type = dtype_from_name(dtype_text);
        if (!type)
            return tensor_error(error_code::st_invalid_dtype, "'" + std::string(dtype_text) + "'", name);

        simdjson::dom::array shape_array;
        if (shape_value.get_array().get(shape_array))
            return tensor_error(error_code::st_invalid_shape, "shape is not an array", name);
        std::size_t shape_begin = file.shapes_.size();
        uint64_t elements = 1;
        bool overflow = false;
        for (simdjson::dom::element extent_value : shape_array) {
            uint64_t extent;
            if (!read_u64(extent_value, extent))
                return tensor_error(error_code::st_invalid_shape, "entry is not an unsigned integer", name);
            overflow |= __builtin_mul_overflow(elements, extent, &elements);
            file.shapes_.push_back(extent);
        }
        simdjson::dom::array offsets_array;
        uint64_t offsets[2];
        std::size_t offset_count = 0;
        if (offsets_value.get_array().get(offsets_array))
            return tensor_error(error_code::st_invalid_offsets, "data_offsets is not an array", name);
        for (simdjson::dom::element offset_value : offsets_array) {
            if (offset_count == 2)
                return tensor_error(error_code::st_invalid_offsets, "more than two entries", name);
            if (!read_u64(offset_value, offsets[offset_count]))
                return tensor_error(error_code::st_invalid_offsets, "entry is not an unsigned integer", name);
            ++offset_count;
        }
        if (offset_count != 2)
            return tensor_error(error_code::st_invalid_offsets, "fewer than two entries", name);

        uint64_t bits;
        if (overflow || __builtin_mul_overflow(elements, uint64_t{dtype_bits(*type)}, &bits))
            return tensor_error(error_code::st_shape_overflow, {}, name);
        if (bits % 8 != 0)
            return tensor_error(error_code::st_partial_byte,
                                std::to_string(elements) + " elements of " + std::to_string(dtype_bits(*type)) + " bits",
                                name);
        if (offsets[1] < offsets[0])
            return tensor_error(error_code::st_offsets_reversed,
                                "[" + std::to_string(offsets[0]) + ", " + std::to_string(offsets[1]) + "]", name);
        if (offsets[1] - offsets[0] != bits / 8)
            return tensor_error(error_code::st_size_mismatch,
                                "expected " + std::to_string(bits / 8) + " bytes, offsets span " +
                                    std::to_string(offsets[1] - offsets[0]),
                                name);

        std::size_t name_begin = file.names_.size();
        file.names_.insert(file.names_.end(), name.begin(), name.end());
        tensor_view view;
        view.type = *type;
        view.data_begin = offsets[0];
        view.data_end = offsets[1];
        file.tensors_.push_back(view);
        pending.push_back({name_begin, shape_begin, file.shapes_.size() - shape_begin});
        return {};
    }

    [[nodiscard]] result<void> parse(std::span<const std::byte> bytes) {
        detail::byte_cursor cursor(bytes, 0, error_code::st_file_too_small);
        STKIT_TRY(uint64_t header_size, cursor.u64le());
        if (header_size > options.max_header_bytes)
            return make_error(error_code::st_header_too_large,
                              std::to_string(header_size) + " bytes, limit " +
                                  std::to_string(options.max_header_bytes),
                              0);
        if (header_size > cursor.remaining())
            return make_error(error_code::st_header_incomplete,
                              std::to_string(header_size) + " bytes declared, " +
                                  std::to_string(cursor.remaining()) + " follow",
                              0);
        STKIT_TRY(header, cursor.take_text(static_cast<std::size_t>(header_size)));
        file.bytes_ = bytes;
        file.header_size_ = header_size;

        simdjson::dom::element document;
        if (auto failure = detail::parse_json(header, options.max_json_depth).get(document); failure) {
            switch (failure) {
                case simdjson::UTF8_ERROR:
                    return make_error(error_code::st_header_invalid_utf8, {},
                                      header_offset + detail::utf8_error_position(header));
                case simdjson::DEPTH_ERROR:
                    return make_error(error_code::st_header_too_deep,
                                      "limit " + std::to_string(options.max_json_depth), header_offset);
                case simdjson::MEMALLOC:
                    return make_error(error_code::allocation_limit, "JSON parser buffers", header_offset);
                default:
                    return make_error(error_code::st_header_invalid_json,
                                      simdjson::error_message(failure), header_offset);
            }
        }
        simdjson::dom::object root;
        if (document.get_object().get(root))
            return make_error(error_code::st_header_not_object, {}, header_offset);

        // Plan: every entry is checked before any tensor byte is looked at.
        std::size_t entries = root.size();
        if (entries > options.max_tensors + 1)
            return make_error(error_code::st_tensor_limit,
                              "limit " + std::to_string(options.max_tensors), header_offset);
        file.tensors_.reserve(entries);
        file.names_.reserve(header.size());  // decoded names are never longer than their JSON
        file.shapes_.reserve(entries * 2);
        std::vector<pending_shape> pending;
        pending.reserve(entries);
        for (simdjson::dom::key_value_pair entry : root) {
            if (entry.key == "__metadata__") {
                if (file.has_metadata_)
                    return tensor_error(error_code::st_duplicate_key, "key repeated", entry.key);
                STKIT_TRY_VOID(parse_metadata(entry.value));
                continue;
            }
            if (file.tensors_.size() >= options.max_tensors)
                return tensor_error(error_code::st_tensor_limit,
                                    "limit " + std::to_string(options.max_tensors), entry.key);
            STKIT_TRY_VOID(parse_tensor(entry.key, entry.value, pending));
        }
        // names_ and shapes_ no longer grow: the views can point into them now.
        for (std::size_t i = 0; i < file.tensors_.size(); ++i) {
            std::size_t name_end = i + 1 < pending.size() ? pending[i + 1].name_begin : file.names_.size();
            file.tensors_[i].name = std::string_view(file.names_.data() + pending[i].name_begin,
                                                     name_end - pending[i].name_begin);
            file.tensors_[i].shape = std::span<const uint64_t>(
                file.shapes_.data() + pending[i].shape_begin, pending[i].shape_size);
        }
        STKIT_TRY_VOID(check_layout());
        return {};
    }

    [[nodiscard]] result<void> check_layout() {
        auto& tensors = file.tensors_;
        auto by_offset = [](const tensor_view& a, const tensor_view& b) {
            if (a.data_begin != b.data_begin) return a.data_begin < b.data_begin;
            if (a.data_end != b.data_end) return a.data_end < b.data_end;
            return a.name < b.name;
        };
        if (!std::is_sorted(tensors.begin(), tensors.end(), by_offset))
            std::sort(tensors.begin(), tensors.end(), by_offset);

        auto& by_name = file.by_name_;
        by_name.resize(tensors.size());
        for (std::size_t i = 0; i < tensors.size(); ++i) by_name[i] = static_cast<uint32_t>(i);
        auto name_less = [&](uint32_t a, uint32_t b) { return tensors[a].name < tensors[b].name; };
        detail::sort_merging_runs(by_name, name_less);
        for (std::size_t i = 1; i < by_name.size(); ++i) {
            std::string_view name = tensors[by_name[i]].name;
            if (name == tensors[by_name[i - 1]].name)
                return tensor_error(error_code::st_duplicate_key, "tensor name repeated", name);
        }

        uint64_t data_start = header_offset + file.header_size_;
        uint64_t data_size = file.bytes_.size() - data_start;
        uint64_t expected = 0;
        for (tensor_view& tensor : tensors) {
            if (tensor.data_begin != expected) {
                bool gap = tensor.data_begin > expected;
                return make_error(gap ? error_code::st_offsets_gap : error_code::st_offsets_overlap,
                                  "begins at " + std::to_string(tensor.data_begin) + ", previous ends at " +
                                      std::to_string(expected),
                                  data_start + std::min(tensor.data_begin, data_size),
                                  std::string(tensor.name));
            }
            expected = tensor.data_end;
            if (expected > data_size) break;  // reported below, before any view is made
        }
        if (expected != data_size)
            return make_error(error_code::st_data_size_mismatch,
                              "tensors end at " + std::to_string(expected) + ", data buffer holds " +
                                  std::to_string(data_size),
                              data_start + std::min(expected, data_size));
        // Map: only now, with every offset proven inside the buffer, make the byte views.
        auto data = file.bytes_.subspan(static_cast<std::size_t>(data_start));
        for (tensor_view& tensor : tensors)
            tensor.data = data.subspan(static_cast<std::size_t>(tensor.data_begin),
                                       static_cast<std::size_t>(tensor.byte_size()));
        return {};
    }
};

namespace {

result<safetensors_file> build_file(safetensors_file&& file, std::span<const std::byte> bytes,
                                    const read_options& options) {
    safetensors_file_builder builder{file, options, {}};
    STKIT_TRY_VOID(builder.parse(bytes));
    return std::move(file);
}

}  // namespace

result<safetensors_file> safetensors_file::from_buffer(std::span<const std::byte> bytes,
                                                       const read_options& options) {
    return build_file(safetensors_file{}, bytes, options);
}

result<safetensors_file> safetensors_file::open(const std::filesystem::path& path,
                                                const read_options& options) {
    auto mapped = mapped_file::open(path);
    if (!mapped.ok()) return std::move(mapped).error().in_file(path.string());
    safetensors_file file;
    file.file_ = std::move(*mapped);
    auto bytes = file.file_.bytes();
    auto built = build_file(std::move(file), bytes, options);
    if (!built.ok()) return std::move(built).error().in_file(path.string());
    return built;
}

std::string_view safetensors_file::header_text() const& noexcept {
    return std::string_view(reinterpret_cast<const char*>(bytes_.data()) + 8,
                            static_cast<std::size_t>(header_size_));
}

const tensor_view* safetensors_file::tensor_find(std::string_view name) const& noexcept {
    auto it = std::lower_bound(by_name_.begin(), by_name_.end(), name,
                               [&](uint32_t index, std::string_view key) { return tensors_[index].name < key; });
    if (it == by_name_.end() || tensors_[*it].name != name) return nullptr;
    return &tensors_[*it];
}

result<const tensor_view*> safetensors_file::tensor_get(std::string_view name) const& {
    const tensor_view* tensor = tensor_find(name);
    if (!tensor) return make_error(error_code::st_tensor_not_found, {}, no_offset, std::string(name));
    return tensor;
}

}  // namespace stkit
