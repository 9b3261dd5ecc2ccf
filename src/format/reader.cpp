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

    // Every simdjson error met while walking the header: JSON the DOM parser would refuse as a whole.
    [[nodiscard]] error json_error(simdjson::error_code failure) const {
        switch (failure) {
            case simdjson::UTF8_ERROR:
                return make_error(error_code::st_header_invalid_utf8, {},
                                  header_offset + detail::utf8_error_position(header));
            case simdjson::DEPTH_ERROR:
                return make_error(error_code::st_header_too_deep, "limit " + std::to_string(options.max_json_depth),
                                  header_offset);
            case simdjson::MEMALLOC:
                return make_error(error_code::allocation_limit, "JSON parser buffers", header_offset);
            default:
                return make_error(error_code::st_header_invalid_json, simdjson::error_message(failure), header_offset);
        }
    }

    // A JSON unsigned integer (no floats, exponents or negatives). `rule` is set when the value is a
    // valid JSON number that breaks the rule; otherwise a failure is JSON the parser refuses (an
    // integer beyond 64 bits is refused as a whole, as the DOM parser and serde_json do).
    simdjson::error_code read_u64(simdjson::ondemand::value value, uint64_t& out, bool& rule, uint32_t depth) {
        rule = false;
        simdjson::ondemand::json_type type;
        if (auto failure = value.type().get(type); failure) return failure;
        if (type != simdjson::ondemand::json_type::number) {
            rule = true;
            std::string ignored;
            if (auto failure = walk(value, ignored, depth); failure) {
                rule = false;
                return failure;
            }
            return simdjson::INCORRECT_TYPE;
        }
        if (value.get_uint64().get(out) == simdjson::SUCCESS) return simdjson::SUCCESS;
        simdjson::ondemand::number number;
        if (auto failure = value.get_number().get(number); failure) return failure;
        if (number.is_int64() && number.get_int64() == 0) {  // "-0": an integer, and zero
            out = 0;
            return simdjson::SUCCESS;
        }
        rule = true;
        return simdjson::INCORRECT_TYPE;
    }

    // A JSON string's text (the dtype): raw when it holds no escape.
    static simdjson::error_code read_string(simdjson::ondemand::value value, std::string_view& out) {
        return value.get_string().get(out);
    }

    struct pending_shape {
        std::size_t name_begin;  // in names_, or npos when the name is borrowed from the header
        std::string_view borrowed;
        std::size_t shape_begin;
        std::size_t shape_size;
    };

    [[nodiscard]] result<void> parse_metadata(simdjson::ondemand::value value) {
        file.has_metadata_ = true;
        simdjson::ondemand::json_type type;
        if (auto failure = value.type().get(type); failure) return json_error(failure);
        if (type != simdjson::ondemand::json_type::object) {
            std::string ignored;
            if (auto failure = walk(value, ignored, 2); failure) return json_error(failure);
            return tensor_error(error_code::st_metadata_not_object, {}, "__metadata__");
        }
        if (2 > options.max_json_depth) return json_error(simdjson::DEPTH_ERROR);
        simdjson::ondemand::object object;
        if (auto failure = value.get_object().get(object); failure) return json_error(failure);
        std::optional<error> problem;  // the first rule broken; the rest is still read as JSON
        for (auto field : object) {
            std::string_view key;
            if (auto failure = field.unescaped_key().get(key); failure) return json_error(failure);
            std::string key_text(key);
            simdjson::ondemand::value inner;
            if (auto failure = field.value().get(inner); failure) return json_error(failure);
            simdjson::ondemand::json_type inner_type;
            if (auto failure = inner.type().get(inner_type); failure) return json_error(failure);
            if (inner_type != simdjson::ondemand::json_type::string) {
                std::string ignored;
                if (auto failure = walk(inner, ignored, 3); failure) return json_error(failure);
                // An object with a tensor's fields under the reserved key is a tensor named
                // __metadata__, not metadata.
                bool tensor_like = key_text == "data_offsets" || key_text == "shape";
                if (!problem)
                    problem = tensor_error(tensor_like ? error_code::st_reserved_name : error_code::st_metadata_value_not_string,
                                           "key '" + key_text + "'", "__metadata__");
                continue;
            }
            std::string_view text;
            if (auto failure = inner.get_string().get(text); failure) return json_error(failure);
            auto [it, inserted] = file.metadata_.emplace(std::move(key_text), std::string(text));
            if (!inserted && !problem)
                problem = tensor_error(error_code::st_duplicate_key, "metadata key '" + it->first + "' repeated",
                                       "__metadata__");
        }
        if (problem) return std::move(*problem);
        return {};
    }

    // Codes that say the header is not JSON (or not readable as JSON here): they win over any rule a
    // tensor breaks, as when the whole document was parsed before the rules were applied.
    static bool json_level(error_code code) noexcept {
        return code == error_code::st_header_invalid_json || code == error_code::st_header_invalid_utf8 ||
               code == error_code::st_header_too_deep || code == error_code::allocation_limit ||
               code == error_code::st_tensor_limit;
    }

    [[nodiscard]] result<void> parse_tensor(std::string_view name, simdjson::ondemand::value value,
                                            std::vector<pending_shape>& pending, std::string_view borrowed) {
        simdjson::ondemand::json_type type;
        if (auto failure = value.type().get(type); failure) return json_error(failure);
        if (type != simdjson::ondemand::json_type::object) {
            std::string ignored;
            if (auto failure = walk(value, ignored, 2); failure) return json_error(failure);
            return tensor_error(error_code::st_tensor_not_object, {}, name);
        }
        if (2 > options.max_json_depth) return json_error(simdjson::DEPTH_ERROR);
        simdjson::ondemand::object object;
        if (auto failure = value.get_object().get(object); failure) return json_error(failure);
        bool has_dtype = false, has_shape = false, has_offsets = false;
        std::optional<dtype> tensor_type;
        std::string dtype_problem;
        bool dtype_not_string = false;
        std::size_t shape_begin = file.shapes_.size();
        uint64_t elements = 1;
        bool overflow = false;
        std::optional<error> shape_problem, offsets_problem;
        uint64_t offsets[2] = {0, 0};
        std::string repeated;
        // The entry is read to its end before any rule is applied: JSON that is not valid anywhere
        // in it is reported as such, as the whole-document parse did.
        for (auto field_result : object) {
            simdjson::ondemand::field field;
            if (auto failure = std::move(field_result).get(field); failure) return json_error(failure);
            bool key_borrowed;
            std::string_view key;
            if (auto failure = detail::key_text(field, key_borrowed).get(key); failure) return json_error(failure);
            simdjson::ondemand::value inner = field.value();
            bool* seen = key == "dtype" ? &has_dtype : key == "shape" ? &has_shape : key == "data_offsets" ? &has_offsets : nullptr;
            if (!seen) {  // unknown fields are allowed, but not repeated keys anywhere within them
                std::string inner_repeated;
                if (auto failure = walk(inner, inner_repeated, 3); failure) return json_error(failure);
                if (repeated.empty() && !inner_repeated.empty()) repeated = inner_repeated;
                unknown_keys_.emplace_back(key);
                continue;
            }
            if (*seen) {
                if (repeated.empty()) repeated = std::string(key);
                std::string ignored;
                if (auto failure = walk(inner, ignored, 3); failure) return json_error(failure);
                continue;
            }
            *seen = true;
            if (seen == &has_dtype) {
                simdjson::ondemand::json_type dtype_json;
                if (auto failure = inner.type().get(dtype_json); failure) return json_error(failure);
                if (dtype_json != simdjson::ondemand::json_type::string) {
                    std::string ignored;
                    if (auto failure = walk(inner, ignored, 3); failure) return json_error(failure);
                    dtype_not_string = true;
                    continue;
                }
                std::string_view dtype_text;
                if (auto failure = read_string(inner, dtype_text); failure) return json_error(failure);
                tensor_type = dtype_from_name(dtype_text);
                if (!tensor_type) dtype_problem = "'" + std::string(dtype_text) + "'";
            } else if (seen == &has_shape) {
                if (auto failure = read_shape(inner, name, elements, overflow, shape_problem); failure)
                    return json_error(failure);
            } else {
                if (auto failure = read_offsets(inner, name, offsets, offsets_problem); failure)
                    return json_error(failure);
            }
        }
        // Keys repeated within unknown fields' own objects, and unknown keys given twice.
        if (repeated.empty() && unknown_keys_.size() > 1) {
            std::sort(unknown_keys_.begin(), unknown_keys_.end());
            if (auto twice = std::adjacent_find(unknown_keys_.begin(), unknown_keys_.end()); twice != unknown_keys_.end())
                repeated = *twice;
        }
        unknown_keys_.clear();
        if (!repeated.empty())
            return tensor_error(error_code::st_duplicate_key, "key '" + repeated + "' repeated", name);
        if (!has_dtype) return tensor_error(error_code::st_missing_dtype, {}, name);
        if (!has_shape) return tensor_error(error_code::st_missing_shape, {}, name);
        if (!has_offsets) return tensor_error(error_code::st_missing_offsets, {}, name);
        if (dtype_not_string) return tensor_error(error_code::st_invalid_dtype, "dtype is not a string", name);
        if (!tensor_type) return tensor_error(error_code::st_invalid_dtype, dtype_problem, name);
        if (shape_problem) return std::move(*shape_problem);
        if (offsets_problem) return std::move(*offsets_problem);

        uint64_t bits;
        if (overflow || __builtin_mul_overflow(elements, uint64_t{dtype_bits(*tensor_type)}, &bits))
            return tensor_error(error_code::st_shape_overflow, {}, name);
        if (bits % 8 != 0)
            return tensor_error(error_code::st_partial_byte,
                                std::to_string(elements) + " elements of " + std::to_string(dtype_bits(*tensor_type)) + " bits",
                                name);
        if (offsets[1] < offsets[0])
            return tensor_error(error_code::st_offsets_reversed,
                                "[" + std::to_string(offsets[0]) + ", " + std::to_string(offsets[1]) + "]", name);
        if (offsets[1] - offsets[0] != bits / 8)
            return tensor_error(error_code::st_size_mismatch,
                                "expected " + std::to_string(bits / 8) + " bytes, offsets span " +
                                    std::to_string(offsets[1] - offsets[0]),
                                name);

        std::size_t name_begin = std::string::npos;
        if (borrowed.data() == nullptr) {
            name_begin = file.names_.size();
            file.names_.insert(file.names_.end(), name.begin(), name.end());
        }
        tensor_view view;
        view.type = *tensor_type;
        view.data_begin = offsets[0];
        view.data_end = offsets[1];
        file.tensors_.push_back(view);
        pending.push_back({name_begin, borrowed, shape_begin, file.shapes_.size() - shape_begin});
        return {};
    }

    // The shape array: every entry an unsigned integer; the element count, and whether it overflows.
    simdjson::error_code read_shape(simdjson::ondemand::value value, std::string_view name, uint64_t& elements,
                                    bool& overflow, std::optional<error>& problem) {
        simdjson::ondemand::json_type type;
        if (auto failure = value.type().get(type); failure) return failure;
        if (type != simdjson::ondemand::json_type::array) {
            problem = tensor_error(error_code::st_invalid_shape, "shape is not an array", name);
            std::string ignored;
            return walk(value, ignored, 3);
        }
        if (3 > options.max_json_depth) return simdjson::DEPTH_ERROR;
        simdjson::ondemand::array array;
        if (auto failure = value.get_array().get(array); failure) return failure;
        for (auto item : array) {
            simdjson::ondemand::value extent_value;
            if (auto failure = item.get(extent_value); failure) return failure;
            uint64_t extent = 0;
            bool rule = false;
            if (auto failure = read_u64(extent_value, extent, rule, 4); failure) {
                if (!rule) return failure;
                if (!problem) problem = tensor_error(error_code::st_invalid_shape, "entry is not an unsigned integer", name);
                continue;
            }
            overflow |= __builtin_mul_overflow(elements, extent, &elements);
            file.shapes_.push_back(extent);
        }
        return simdjson::SUCCESS;
    }

    simdjson::error_code read_offsets(simdjson::ondemand::value value, std::string_view name, uint64_t (&offsets)[2],
                                      std::optional<error>& problem) {
        simdjson::ondemand::json_type type;
        if (auto failure = value.type().get(type); failure) return failure;
        if (type != simdjson::ondemand::json_type::array) {
            problem = tensor_error(error_code::st_invalid_offsets, "data_offsets is not an array", name);
            std::string ignored;
            return walk(value, ignored, 3);
        }
        if (3 > options.max_json_depth) return simdjson::DEPTH_ERROR;
        simdjson::ondemand::array array;
        if (auto failure = value.get_array().get(array); failure) return failure;
        std::size_t count = 0;
        for (auto item : array) {
            simdjson::ondemand::value offset_value;
            if (auto failure = item.get(offset_value); failure) return failure;
            uint64_t offset = 0;
            bool rule = false;
            if (auto failure = read_u64(offset_value, offset, rule, 4); failure) {
                if (!rule) return failure;
                if (!problem) problem = tensor_error(error_code::st_invalid_offsets, "entry is not an unsigned integer", name);
            } else if (count < 2) {
                offsets[count] = offset;
            }
            ++count;
        }
        if (!problem && count > 2) problem = tensor_error(error_code::st_invalid_offsets, "more than two entries", name);
        if (!problem && count < 2) problem = tensor_error(error_code::st_invalid_offsets, "fewer than two entries", name);
        return simdjson::SUCCESS;
    }

    // Reads a whole value at nesting `depth` (the root object is 1), as the DOM parse did.
    simdjson::error_code walk(simdjson::ondemand::value value, std::string& repeated, uint32_t depth) const {
        return detail::walk_json(value, repeated, depth, options.max_json_depth);
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

        // One pass over the header with simdjson's on-demand parser: the tensor table is built as
        // the JSON is read, and no document tree is ever allocated.
        detail::padded_text padded = detail::pad_for_parsing(header, cursor.remaining());
        simdjson::ondemand::document document;
        if (auto failure = detail::iterate_json(padded.view, options.max_json_depth).get(document); failure)
            return json_error(failure);
        simdjson::ondemand::json_type root_type;
        if (auto failure = document.type().get(root_type); failure) return json_error(failure);
        if (root_type != simdjson::ondemand::json_type::object) {
            // Not an object: whether it is still valid JSON decides the code (a rare path, so the
            // whole-document parser answers it).
            simdjson::dom::element ignored;
            if (auto failure = detail::parse_json(header, options.max_json_depth).get(ignored); failure)
                return json_error(failure);
            return make_error(error_code::st_header_not_object, {}, header_offset);
        }
        simdjson::ondemand::object root;
        if (auto failure = document.get_object().get(root); failure) return json_error(failure);

        // Plan: every entry is checked before any tensor byte is looked at.
        std::size_t guess = std::min<std::size_t>(header.size() / 64 + 1, options.max_tensors);
        file.tensors_.reserve(guess);
        file.shapes_.reserve(guess * 2);
        std::vector<pending_shape> pending;
        pending.reserve(guess);
        std::optional<error> problem;  // the first rule a tensor breaks; the rest is still read as JSON
        for (auto entry_result : root) {
            simdjson::ondemand::field entry;
            if (auto failure = std::move(entry_result).get(entry); failure) return json_error(failure);
            bool borrowed = false;
            std::string_view key;
            if (auto failure = detail::key_text(entry, borrowed).get(key); failure) return json_error(failure);
            // A name borrowed from the header must stay valid as long as the file: only when the
            // header is the file's own bytes, not a padded copy.
            std::string_view keep = borrowed && !padded.copied ? key : std::string_view();
            std::string owned;
            if (!keep.data()) {
                owned.assign(key);
                key = owned;
            }
            simdjson::ondemand::value value = entry.value();
            result<void> done;
            if (key == "__metadata__") {
                if (file.has_metadata_) {
                    std::string ignored;
                    if (auto failure = walk(value, ignored, 2); failure) return json_error(failure);
                    done = tensor_error(error_code::st_duplicate_key, "key repeated", key);
                } else {
                    done = parse_metadata(value);
                }
            } else if (file.tensors_.size() >= options.max_tensors) {
                return tensor_error(error_code::st_tensor_limit, "limit " + std::to_string(options.max_tensors), key);
            } else {
                done = parse_tensor(key, value, pending, keep);
            }
            if (!done.ok()) {
                if (json_level(done.error().code)) return std::move(done).error();
                if (!problem) problem = std::move(done).error();
            }
        }
        // Read to its end: anything after the object is not a header the reference accepts.
        if (document.current_location().error() != simdjson::OUT_OF_BOUNDS)
            return make_error(error_code::st_header_invalid_json, "content after the header object", header_offset);
        if (problem) return std::move(*problem);
        // names_ and shapes_ no longer grow: the views can point into them now.
        for (std::size_t i = 0; i < file.tensors_.size(); ++i) {
            const pending_shape& p = pending[i];
            if (p.name_begin == std::string::npos) {
                file.tensors_[i].name = p.borrowed;
            } else {
                std::size_t name_end = file.names_.size();
                for (std::size_t j = i + 1; j < pending.size(); ++j)
                    if (pending[j].name_begin != std::string::npos) {
                        name_end = pending[j].name_begin;
                        break;
                    }
                file.tensors_[i].name = std::string_view(file.names_.data() + p.name_begin, name_end - p.name_begin);
            }
            file.tensors_[i].shape = std::span<const uint64_t>(file.shapes_.data() + p.shape_begin, p.shape_size);
        }
        STKIT_TRY_VOID(check_layout());
        return {};
    }

    std::vector<std::string> unknown_keys_ = {};

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
    auto mapped = mapped_file::open(path, options.map);
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
