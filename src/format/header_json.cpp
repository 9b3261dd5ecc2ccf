// The general path of the header parse (see builder.hpp): any valid JSON, read in one pass with
// simdjson's on-demand parser. Every value is read to its end, so what the whole-document parse
// refused is refused here too, with the same code: JSON errors end the parse at once, a rule a
// tensor breaks is kept (note()) and reading goes on.
#include <algorithm>

#include "format/builder.hpp"
#include "format/json_util.hpp"

namespace stkit {

namespace od = simdjson::ondemand;

error safetensors_file_builder::json_error(simdjson::error_code failure) const {
    switch (failure) {
        case simdjson::UTF8_ERROR:
            return make_error(error_code::st_header_invalid_utf8, {}, header_offset + detail::utf8_error_position(header));
        case simdjson::DEPTH_ERROR:
            return make_error(error_code::st_header_too_deep, "limit " + std::to_string(options.max_json_depth), header_offset);
        case simdjson::MEMALLOC:
            return make_error(error_code::allocation_limit, "JSON parser buffers", header_offset);
        default:
            return make_error(error_code::st_header_invalid_json, simdjson::error_message(failure), header_offset);
    }
}

simdjson::error_code safetensors_file_builder::walk(od::value value, std::string& repeated, uint32_t depth) const {
    return detail::walk_json(value, repeated, depth, options.max_json_depth);
}

// A JSON unsigned integer (no floats, exponents or negatives). `rule` is set when the value is valid
// JSON that breaks the rule; otherwise a failure is JSON the parser refuses (an integer beyond 64
// bits is refused as a whole, as the DOM parser and serde_json do).
simdjson::error_code safetensors_file_builder::read_u64(od::value value, uint64_t& out, bool& rule, uint32_t depth) {
    rule = false;
    if (value.get_uint64().get(out) == simdjson::SUCCESS) return simdjson::SUCCESS;
    od::json_type type;
    if (auto failure = value.type().get(type); failure) return failure;
    if (type != od::json_type::number) {
        std::string ignored;
        if (auto failure = walk(value, ignored, depth); failure) return failure;
        rule = true;
        return simdjson::INCORRECT_TYPE;
    }
    od::number number;
    if (auto failure = value.get_number().get(number); failure) return failure;
    if (number.is_int64() && number.get_int64() == 0) {  // "-0": an integer, and zero
        out = 0;
        return simdjson::SUCCESS;
    }
    rule = true;
    return simdjson::INCORRECT_TYPE;
}

simdjson::error_code safetensors_file_builder::read_shape(od::value value, std::string_view name,
                                                          std::optional<error>& rule) {
    od::json_type type;
    if (auto failure = value.type().get(type); failure) return failure;
    if (type != od::json_type::array) {
        rule = tensor_error(error_code::st_invalid_shape, "shape is not an array", name);
        std::string ignored;
        return walk(value, ignored, 3);
    }
    if (3 > options.max_json_depth) return simdjson::DEPTH_ERROR;
    od::array array;
    if (auto failure = value.get_array().get(array); failure) return failure;
    for (auto item : array) {
        od::value extent_value;
        if (auto failure = item.get(extent_value); failure) return failure;
        uint64_t extent = 0;
        bool broken = false;
        if (auto failure = read_u64(extent_value, extent, broken, 4); failure) {
            if (!broken) return failure;
            if (!rule) rule = tensor_error(error_code::st_invalid_shape, "entry is not an unsigned integer", name);
            continue;
        }
        file.shapes_.push_back(extent);
    }
    return simdjson::SUCCESS;
}

simdjson::error_code safetensors_file_builder::read_offsets(od::value value, std::string_view name,
                                                            uint64_t (&offsets)[2], std::optional<error>& rule) {
    od::json_type type;
    if (auto failure = value.type().get(type); failure) return failure;
    if (type != od::json_type::array) {
        rule = tensor_error(error_code::st_invalid_offsets, "data_offsets is not an array", name);
        std::string ignored;
        return walk(value, ignored, 3);
    }
    if (3 > options.max_json_depth) return simdjson::DEPTH_ERROR;
    od::array array;
    if (auto failure = value.get_array().get(array); failure) return failure;
    std::size_t count = 0;
    for (auto item : array) {
        od::value offset_value;
        if (auto failure = item.get(offset_value); failure) return failure;
        uint64_t offset = 0;
        bool broken = false;
        if (auto failure = read_u64(offset_value, offset, broken, 4); failure) {
            if (!broken) return failure;
            if (!rule) rule = tensor_error(error_code::st_invalid_offsets, "entry is not an unsigned integer", name);
        } else if (count < 2) {
            offsets[count] = offset;
        }
        ++count;
    }
    if (!rule && count > 2) rule = tensor_error(error_code::st_invalid_offsets, "more than two entries", name);
    if (!rule && count < 2) rule = tensor_error(error_code::st_invalid_offsets, "fewer than two entries", name);
    return simdjson::SUCCESS;
}

result<void> safetensors_file_builder::parse_metadata(od::value value) {
    file.has_metadata_ = true;
    od::json_type type;
    if (auto failure = value.type().get(type); failure) return json_error(failure);
    if (type != od::json_type::object) {
        std::string ignored;
        if (auto failure = walk(value, ignored, 2); failure) return json_error(failure);
        return tensor_error(error_code::st_metadata_not_object, {}, "__metadata__");
    }
    if (2 > options.max_json_depth) return json_error(simdjson::DEPTH_ERROR);
    od::object object;
    if (auto failure = value.get_object().get(object); failure) return json_error(failure);
    std::optional<error> rule;
    for (auto field : object) {
        std::string_view key;
        if (auto failure = field.unescaped_key().get(key); failure) return json_error(failure);
        std::string key_text(key);
        od::value inner;
        if (auto failure = field.value().get(inner); failure) return json_error(failure);
        od::json_type inner_type;
        if (auto failure = inner.type().get(inner_type); failure) return json_error(failure);
        if (inner_type != od::json_type::string) {
            std::string ignored;
            if (auto failure = walk(inner, ignored, 3); failure) return json_error(failure);
            // An object with a tensor's fields under the reserved key is a tensor named
            // __metadata__, not metadata.
            bool tensor_like = key_text == "data_offsets" || key_text == "shape";
            if (!rule)
                rule = tensor_error(tensor_like ? error_code::st_reserved_name : error_code::st_metadata_value_not_string,
                                    "key '" + key_text + "'", "__metadata__");
            continue;
        }
        std::string_view text;
        if (auto failure = inner.get_string().get(text); failure) return json_error(failure);
        auto [it, inserted] = file.metadata_.emplace(std::move(key_text), std::string(text));
        if (!inserted && !rule)
            rule = tensor_error(error_code::st_duplicate_key, "metadata key '" + it->first + "' repeated", "__metadata__");
    }
    if (rule) return std::move(*rule);
    return {};
}

result<void> safetensors_file_builder::parse_tensor(std::string_view name, od::value value, std::string_view borrowed) {
    od::json_type type;
    if (auto failure = value.type().get(type); failure) return json_error(failure);
    if (type != od::json_type::object) {
        std::string ignored;
        if (auto failure = walk(value, ignored, 2); failure) return json_error(failure);
        return tensor_error(error_code::st_tensor_not_object, {}, name);
    }
    if (2 > options.max_json_depth) return json_error(simdjson::DEPTH_ERROR);
    od::object object;
    if (auto failure = value.get_object().get(object); failure) return json_error(failure);
    bool has_dtype = false, has_shape = false, has_offsets = false, dtype_not_string = false;
    std::size_t shape_begin = file.shapes_.size();
    uint64_t offsets[2] = {0, 0};
    std::string repeated;  // a key given twice, at any depth
    std::optional<error> shape_rule, offsets_rule;
    // The entry is read to its end before any rule is applied.
    for (auto field_result : object) {
        od::field field;
        if (auto failure = std::move(field_result).get(field); failure) return json_error(failure);
        bool key_borrowed;
        std::string_view key;
        if (auto failure = detail::key_text(field, key_borrowed).get(key); failure) return json_error(failure);
        od::value inner = field.value();
        bool* seen = key == "dtype" ? &has_dtype : key == "shape" ? &has_shape : key == "data_offsets" ? &has_offsets : nullptr;
        if (!seen || *seen) {  // unknown fields are allowed, but no key twice anywhere
            std::string inner_repeated;
            if (auto failure = walk(inner, inner_repeated, 3); failure) return json_error(failure);
            if (repeated.empty()) repeated = seen ? std::string(key) : inner_repeated;
            if (!seen) unknown_keys.emplace_back(key);
            continue;
        }
        *seen = true;
        if (seen == &has_dtype) {
            od::json_type dtype_json;
            if (auto failure = inner.type().get(dtype_json); failure) return json_error(failure);
            if (dtype_json != od::json_type::string) {
                std::string ignored;
                if (auto failure = walk(inner, ignored, 3); failure) return json_error(failure);
                dtype_not_string = true;
                continue;
            }
            std::string_view text;
            if (auto failure = inner.get_string().get(text); failure) return json_error(failure);
            dtype_text.assign(text);  // the parser's string buffer is not ours to keep
        } else if (seen == &has_shape) {
            if (auto failure = read_shape(inner, name, shape_rule); failure) return json_error(failure);
        } else {
            if (auto failure = read_offsets(inner, name, offsets, offsets_rule); failure) return json_error(failure);
        }
    }
    if (repeated.empty() && unknown_keys.size() > 1) {
        std::sort(unknown_keys.begin(), unknown_keys.end());
        if (auto twice = std::adjacent_find(unknown_keys.begin(), unknown_keys.end()); twice != unknown_keys.end())
            repeated = *twice;
    }
    unknown_keys.clear();
    if (!repeated.empty()) return tensor_error(error_code::st_duplicate_key, "key '" + repeated + "' repeated", name);
    if (!has_dtype) return tensor_error(error_code::st_missing_dtype, {}, name);
    if (!has_shape) return tensor_error(error_code::st_missing_shape, {}, name);
    if (!has_offsets) return tensor_error(error_code::st_missing_offsets, {}, name);
    if (dtype_not_string) return tensor_error(error_code::st_invalid_dtype, "dtype is not a string", name);
    auto tensor_type = dtype_from_name(dtype_text);
    if (!tensor_type) return tensor_error(error_code::st_invalid_dtype, "'" + dtype_text + "'", name);
    if (shape_rule) return std::move(*shape_rule);
    if (offsets_rule) return std::move(*offsets_rule);
    return add_tensor(name, borrowed, *tensor_type, shape_begin, offsets[0], offsets[1]);
}

result<void> safetensors_file_builder::parse_json_header(std::size_t readable_after) {
    detail::padded_text padded = detail::pad_for_parsing(header, readable_after);
    od::document document;
    if (auto failure = detail::iterate_json(padded.view, options.max_json_depth).get(document); failure)
        return json_error(failure);
    od::json_type root_type;
    if (auto failure = document.type().get(root_type); failure) return json_error(failure);
    if (root_type != od::json_type::object) {
        // Not an object: whether it is still valid JSON decides the code (a rare path, so the
        // whole-document parser answers it).
        simdjson::dom::element ignored;
        if (auto failure = detail::parse_json(header, options.max_json_depth).get(ignored); failure)
            return json_error(failure);
        return make_error(error_code::st_header_not_object, {}, header_offset);
    }
    od::object root;
    if (auto failure = document.get_object().get(root); failure) return json_error(failure);
    for (auto entry_result : root) {
        od::field entry;
        if (auto failure = std::move(entry_result).get(entry); failure) return json_error(failure);
        bool borrowed = false;
        std::string_view key;
        if (auto failure = detail::key_text(entry, borrowed).get(key); failure) return json_error(failure);
        // A name borrowed from the header stays valid as long as the file; one from the padded
        // copy or the parser's buffer does not.
        std::string_view keep = borrowed && !padded.copied ? key : std::string_view();
        std::string owned;
        if (!keep.data()) key = owned.assign(key);
        od::value value = entry.value();
        result<void> done;
        if (key == "__metadata__") {
            if (file.has_metadata_) {
                std::string ignored;
                if (auto failure = walk(value, ignored, 2); failure) return json_error(failure);
                if (!note(tensor_error(error_code::st_duplicate_key, "key repeated", key))) return std::move(*problem);
                continue;
            }
            done = parse_metadata(value);
        } else if (file.tensors_.size() >= options.max_tensors) {
            return tensor_error(error_code::st_tensor_limit, "limit " + std::to_string(options.max_tensors), key);
        } else {
            std::size_t shapes_before = file.shapes_.size();
            done = parse_tensor(key, value, keep);
            if (!done.ok()) file.shapes_.resize(shapes_before);  // each shape ends where the next begins
        }
        if (!done.ok() && !note(std::move(done).error())) return std::move(*problem);
    }
    // Read to its end: anything after the object is not a header the reference accepts.
    if (document.current_location().error() != simdjson::OUT_OF_BOUNDS)
        return make_error(error_code::st_header_invalid_json, "content after the header object", header_offset);
    return {};
}

}  // namespace stkit
