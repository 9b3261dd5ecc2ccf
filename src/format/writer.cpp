// The streaming safetensors writer. See stkit/format/writer.hpp.
#include "stkit/format/writer.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

#include "format/json_util.hpp"
#include "stkit/detail/checked.hpp"

namespace stkit {
namespace {

// serde_json's escaping, hand-written because byte identity with the reference matters and JSON
// libraries differ in what they escape (nlohmann escapes DEL and can \u-escape non-ASCII).
void append_json_string(std::string& out, std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (byte < 0x20) {
                    out += "\\u00";
                    out += hex[byte >> 4];
                    out += hex[byte & 0xF];
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}

void append_u64(std::string& out, uint64_t value) {
    std::array<char, 24> digits;
    auto end = std::to_chars(digits.data(), digits.data() + digits.size(), value).ptr;
    out.append(digits.data(), end);
}

result<void> check_name(std::string_view name, error_code invalid, error_code reserved) {
    // An empty name is a valid JSON key: the reader and the reference accept it, so the writer
    // must too, or a file could not be rewritten (found by the read → write → read fuzz target).
    if (!detail::valid_utf8(name)) return make_error(invalid, "not UTF-8", no_offset, std::string(name));
    if (name == "__metadata__") return make_error(reserved, {}, no_offset, std::string(name));
    return {};
}

result<uint64_t> byte_size_of(std::string_view name, dtype type, std::span<const uint64_t> shape) {
    auto elements = detail::checked_product(shape);
    auto bits = elements ? detail::checked_mul(*elements, dtype_bits(type)) : std::nullopt;
    if (!bits) return make_error(error_code::st_shape_overflow, {}, no_offset, std::string(name));
    if (*bits % 8 != 0) return make_error(error_code::st_partial_byte, {}, no_offset, std::string(name));
    return *bits / 8;
}

}  // namespace

std::string build_header(std::span<const planned_tensor> tensors,
                         std::span<const std::pair<std::string, std::string>> metadata, empty_metadata when_empty) {
    std::string out;
    out.reserve(64 + tensors.size() * 96);
    out += '{';
    bool first = true;
    if (!metadata.empty() || when_empty == empty_metadata::written) {
        out += "\"__metadata__\":{";
        for (std::size_t i = 0; i < metadata.size(); ++i) {
            if (i) out += ',';
            append_json_string(out, metadata[i].first);
            out += ':';
            append_json_string(out, metadata[i].second);
        }
        out += '}';
        first = false;
    }
    for (const planned_tensor& tensor : tensors) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, tensor.name);
        out += ":{\"dtype\":\"";
        out += dtype_name(tensor.type);
        out += "\",\"shape\":[";
        for (std::size_t i = 0; i < tensor.shape.size(); ++i) {
            if (i) out += ',';
            append_u64(out, tensor.shape[i]);
        }
        out += "],\"data_offsets\":[";
        append_u64(out, tensor.data_begin);
        out += ',';
        append_u64(out, tensor.data_end);
        out += "]}";
    }
    out += '}';
    out.append((8 - out.size() % 8) % 8, ' ');
    return out;
}

result<void> plan_layout(std::vector<planned_tensor>& tensors) {
    for (const planned_tensor& tensor : tensors)
        STKIT_TRY_VOID(check_name(tensor.name, error_code::st_write_invalid_name,
                                  error_code::st_write_reserved_name));
    std::sort(tensors.begin(), tensors.end(), [](const planned_tensor& a, const planned_tensor& b) {
        if (a.type != b.type) return a.type > b.type;
        return a.name < b.name;
    });
    // Names are unique across dtypes too, so check them in name order.
    std::vector<std::string_view> names;
    names.reserve(tensors.size());
    for (const planned_tensor& tensor : tensors) names.push_back(tensor.name);
    std::sort(names.begin(), names.end());
    if (auto repeated = std::adjacent_find(names.begin(), names.end()); repeated != names.end())
        return make_error(error_code::st_write_duplicate_name, {}, no_offset, std::string(*repeated));
    uint64_t offset = 0;
    for (planned_tensor& tensor : tensors) {
        STKIT_TRY(uint64_t size, byte_size_of(tensor.name, tensor.type, tensor.shape));
        auto end = detail::checked_add(offset, size);
        if (!end) return make_error(error_code::st_shape_overflow, "data exceeds 64 bits", no_offset, tensor.name);
        tensor.data_begin = offset;
        tensor.data_end = *end;
        offset = *end;
    }
    return {};
}

result<safetensors_writer> safetensors_writer::create(const std::filesystem::path& destination,
                                                      bool overwrite) {
    STKIT_TRY(output_file out, output_file::create(destination, overwrite));
    safetensors_writer writer;
    writer.out_ = std::move(out);
    return writer;
}

result<void> safetensors_writer::declare(std::string name, dtype type, std::vector<uint64_t> shape) {
    if (laid_out_) return make_error(error_code::invalid_argument, "declare() after layout()", no_offset, name);
    STKIT_TRY_VOID(check_name(name, error_code::st_write_invalid_name, error_code::st_write_reserved_name));
    STKIT_TRY_VOID(byte_size_of(name, type, shape));
    if (!declared_names_.insert(name).second)
        return make_error(error_code::st_write_duplicate_name, {}, no_offset, std::move(name));
    tensors_.push_back({std::move(name), type, std::move(shape), 0, 0});
    return {};
}

result<void> safetensors_writer::set_metadata(std::string key, std::string value) {
    if (laid_out_) return make_error(error_code::invalid_argument, "set_metadata() after layout()", no_offset, key);
    if (!detail::valid_utf8(key) || !detail::valid_utf8(value))
        return make_error(error_code::st_write_invalid_name, "metadata key or value is not UTF-8",
                          no_offset, key);
    auto at = std::lower_bound(metadata_.begin(), metadata_.end(), key,
                               [](const auto& entry, const std::string& k) { return entry.first < k; });
    if (at != metadata_.end() && at->first == key)
        return make_error(error_code::st_write_duplicate_name, "metadata key given twice", no_offset, key);
    metadata_.insert(at, {std::move(key), std::move(value)});
    return {};
}

result<std::span<const planned_tensor>> safetensors_writer::layout() {
    if (laid_out_) return make_error(error_code::invalid_argument, "layout() called twice");
    STKIT_TRY_VOID(plan_layout(tensors_));
    std::string header = build_header(tensors_, metadata_, empty_metadata_);
    std::array<std::byte, 8> length;
    uint64_t size = header.size();
    for (int i = 0; i < 8; ++i) length[i] = static_cast<std::byte>(size >> (8 * i));
    STKIT_TRY_VOID(out_.write(length));
    STKIT_TRY_VOID(out_.write(header));
    laid_out_ = true;
    current_ = 0;
    current_done_ = 0;
    declared_names_.clear();
    return std::span<const planned_tensor>(tensors_);
}

result<void> safetensors_writer::advance_to(std::string_view name) {
    if (!laid_out_)
        return make_error(error_code::st_write_out_of_order, "layout() not called", no_offset, std::string(name));
    if (current_ < tensors_.size() && tensors_[current_].name == name) return {};
    std::size_t next = current_ + 1;
    while (next < tensors_.size() && tensors_[next].name != name && tensors_[next].byte_size() == 0) ++next;
    if (next >= tensors_.size() || tensors_[next].name != name)
        return make_error(error_code::st_write_out_of_order,
                          current_ < tensors_.size() ? "expected '" + tensors_[current_].name + "'" : "all written",
                          no_offset, std::string(name));
    if (current_done_ != tensors_[current_].byte_size())
        return make_error(error_code::st_write_byte_count_mismatch,
                          std::to_string(current_done_) + " of " + std::to_string(tensors_[current_].byte_size()) +
                              " bytes supplied before moving on",
                          no_offset, tensors_[current_].name);
    current_ = next;
    current_done_ = 0;
    return {};
}

result<void> safetensors_writer::append(std::string_view name, std::span<const std::byte> bytes) {
    STKIT_TRY_VOID(advance_to(name));
    const planned_tensor& tensor = tensors_[current_];
    if (bytes.size() > tensor.byte_size() - current_done_)
        return make_error(error_code::st_write_byte_count_mismatch,
                          std::to_string(current_done_ + bytes.size()) + " bytes for a tensor of " +
                              std::to_string(tensor.byte_size()),
                          no_offset, tensor.name);
    STKIT_TRY_VOID(out_.write(bytes));
    current_done_ += bytes.size();
    return {};
}

result<void> safetensors_writer::write_tensor(std::string_view name, std::span<const std::byte> bytes) {
    STKIT_TRY_VOID(advance_to(name));
    const planned_tensor& tensor = tensors_[current_];
    if (current_done_ != 0 || bytes.size() != tensor.byte_size())
        return make_error(error_code::st_write_byte_count_mismatch,
                          std::to_string(bytes.size()) + " bytes for a tensor of " + std::to_string(tensor.byte_size()),
                          no_offset, tensor.name);
    return append(name, bytes);
}

result<void> safetensors_writer::flush() { return out_.flush(); }

result<void> safetensors_writer::write_tensor(std::string_view name, const tensor_producer& produce) {
    STKIT_TRY_VOID(advance_to(name));
    if (current_done_ != 0)
        return make_error(error_code::st_write_byte_count_mismatch, "tensor already started", no_offset,
                          std::string(name));
    std::string owned_name(name);  // the producer's chunks must all belong to this tensor
    byte_sink sink = [&](std::span<const std::byte> chunk) { return append(owned_name, chunk); };
    STKIT_TRY_VOID(produce(sink));
    const planned_tensor& tensor = tensors_[current_];
    if (current_done_ != tensor.byte_size())
        return make_error(error_code::st_write_byte_count_mismatch,
                          std::to_string(current_done_) + " of " + std::to_string(tensor.byte_size()) + " bytes produced",
                          no_offset, tensor.name);
    return {};
}

result<void> safetensors_writer::finish() {
    if (finished_) return {};
    if (!laid_out_) STKIT_TRY_VOID(layout());
    for (std::size_t i = current_; i < tensors_.size(); ++i) {
        uint64_t done = i == current_ ? current_done_ : 0;
        if (done != tensors_[i].byte_size())
            return make_error(error_code::st_write_incomplete,
                              std::to_string(done) + " of " + std::to_string(tensors_[i].byte_size()) + " bytes",
                              no_offset, tensors_[i].name);
    }
    STKIT_TRY_VOID(out_.finish());
    finished_ = true;
    return {};
}

result<void> safetensors_writer::commit() {
    STKIT_TRY_VOID(finish());
    return out_.commit();
}

}  // namespace stkit
