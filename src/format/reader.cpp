// The safetensors reader: validates the whole header (plan), then hands out views into the bytes
// (map). See stkit/format/safetensors.hpp for the rules and their error codes, and builder.hpp for
// how the parse is split: this file runs it, holds the fast path's visitor, the rules of one tensor
// entry and the layout check.
#include <algorithm>
#include <cstring>
#include <string>

#include "format/builder.hpp"
#include "format/canonical_header.hpp"
#include "format/json_util.hpp"
#include "format/sorted_runs.hpp"
#include "stkit/detail/checked.hpp"
#include "stkit/detail/cursor.hpp"

namespace stkit {

uint64_t tensor_view::element_count() const noexcept {
    return detail::checked_product(shape).value_or(0);  // validated at open: never overflows
}

namespace {

// The fast path's entries go to the builder exactly as the general path's do.
class fast_visitor final : public detail::canonical_header_visitor {
public:
    explicit fast_visitor(safetensors_file_builder& builder) : builder_(builder) {}
    void metadata_begin() override { stopped_ = stopped_ || !builder_.fast_metadata_begin(); }
    void metadata(std::string_view key, std::string_view value) override { builder_.fast_metadata(key, value); }
    bool tensor(std::string_view name, std::string_view dtype, std::span<const uint64_t> shape, uint64_t begin,
                uint64_t end) override {
        return builder_.fast_tensor(name, dtype, shape, begin, end);
    }
    [[nodiscard]] bool stopped() const noexcept { return stopped_; }

private:
    safetensors_file_builder& builder_;
    bool stopped_ = false;
};

}  // namespace

uint64_t safetensors_file_builder::key_offset(std::string_view name) const {
    std::size_t at = detail::locate_key(header, name);
    return header_offset + (at == std::string_view::npos ? 0 : at);
}

error safetensors_file_builder::tensor_error(error_code code, std::string detail, std::string_view name) const {
    return make_error(code, std::move(detail), key_offset(name), std::string(name));
}

bool safetensors_file_builder::fast_metadata_begin() {
    bool again = file.has_metadata_;
    file.has_metadata_ = true;
    return !again || note(tensor_error(error_code::st_duplicate_key, "key repeated", "__metadata__"));
}

void safetensors_file_builder::fast_metadata(std::string_view key, std::string_view value) {
    auto [it, inserted] = file.metadata_.emplace(std::string(key), std::string(value));
    if (!inserted) note(tensor_error(error_code::st_duplicate_key, "metadata key '" + it->first + "' repeated", "__metadata__"));
}

bool safetensors_file_builder::fast_tensor(std::string_view name, std::string_view dtype_name,
                                           std::span<const uint64_t> shape, uint64_t begin, uint64_t end) {
    // Past the limit, or a reserved name: the general path says how, with the same code.
    if (file.tensors_.size() >= options.max_tensors || name == "__metadata__") return false;
    // Headers name few dtypes, one after another: the last one read is looked up once.
    if (dtype_name != last_dtype_name) {
        auto type = dtype_from_name(dtype_name);
        if (!type) {
            note(tensor_error(error_code::st_invalid_dtype, "'" + std::string(dtype_name) + "'", name));
            return true;
        }
        last_dtype_name = dtype_name;
        last_dtype = *type;
    }
    std::size_t shape_begin = file.shapes_.size();
    file.shapes_.insert(file.shapes_.end(), shape.begin(), shape.end());
    auto added = add_tensor(name, name, last_dtype, shape_begin, begin, end);
    if (!added.ok()) {
        file.shapes_.resize(shape_begin);
        note(std::move(added).error());
    }
    return true;
}

bool safetensors_file_builder::note(error failure) {
    bool json_level = failure.code == error_code::st_header_invalid_json ||
                      failure.code == error_code::st_header_invalid_utf8 ||
                      failure.code == error_code::st_header_too_deep || failure.code == error_code::allocation_limit;
    if (json_level) problem = std::move(failure);
    else if (!problem) problem = std::move(failure);
    return !json_level;
}

result<void> safetensors_file_builder::add_tensor(std::string_view name, std::string_view borrowed, dtype type,
                                                  std::size_t shape_begin, uint64_t begin, uint64_t end) {
    uint64_t elements = 1;
    bool overflow = false;
    for (std::size_t i = shape_begin; i < file.shapes_.size(); ++i)
        overflow |= __builtin_mul_overflow(elements, file.shapes_[i], &elements);
    uint64_t bits;
    if (overflow || __builtin_mul_overflow(elements, uint64_t{dtype_bits(type)}, &bits))
        return tensor_error(error_code::st_shape_overflow, {}, name);
    if (bits % 8 != 0)
        return tensor_error(error_code::st_partial_byte,
                            std::to_string(elements) + " elements of " + std::to_string(dtype_bits(type)) + " bits", name);
    if (end < begin)
        return tensor_error(error_code::st_offsets_reversed, "[" + std::to_string(begin) + ", " + std::to_string(end) + "]",
                            name);
    if (end - begin != bits / 8)
        return tensor_error(error_code::st_size_mismatch,
                            "expected " + std::to_string(bits / 8) + " bytes, offsets span " + std::to_string(end - begin),
                            name);
    tensor_view view;
    view.type = type;
    view.data_begin = begin;
    view.data_end = end;
    if (borrowed.data() != nullptr) {
        view.name = borrowed;
    } else {
        copied_names.push_back({file.tensors_.size(), file.names_.size()});
        file.names_.insert(file.names_.end(), name.begin(), name.end());
    }
    file.tensors_.push_back(view);
    shape_begins.push_back(shape_begin);
    return {};
}

void safetensors_file_builder::discard_table() {
    file.tensors_.clear();
    file.shapes_.clear();
    file.names_.clear();
    file.metadata_.clear();
    file.has_metadata_ = false;
    shape_begins.clear();
    copied_names.clear();
    problem.reset();
}

result<void> safetensors_file_builder::finish_table() {
    if (problem) return std::move(*problem);
    // names_ and shapes_ no longer grow: the views can point into them now.
    auto& tensors = file.tensors_;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        std::size_t shape_end = i + 1 < tensors.size() ? shape_begins[i + 1] : file.shapes_.size();
        tensors[i].shape = std::span<const uint64_t>(file.shapes_.data() + shape_begins[i], shape_end - shape_begins[i]);
    }
    for (std::size_t i = 0; i < copied_names.size(); ++i) {
        std::size_t name_end = i + 1 < copied_names.size() ? copied_names[i + 1].begin : file.names_.size();
        tensors[copied_names[i].tensor].name =
            std::string_view(file.names_.data() + copied_names[i].begin, name_end - copied_names[i].begin);
    }
    return check_layout();
}

result<void> safetensors_file_builder::parse(std::span<const std::byte> bytes) {
    detail::byte_cursor cursor(bytes, 0, error_code::st_file_too_small);
    STKIT_TRY(uint64_t header_size, cursor.u64le());
    if (header_size > options.max_header_bytes)
        return make_error(error_code::st_header_too_large,
                          std::to_string(header_size) + " bytes, limit " + std::to_string(options.max_header_bytes), 0);
    if (header_size > cursor.remaining())
        return make_error(error_code::st_header_incomplete,
                          std::to_string(header_size) + " bytes declared, " + std::to_string(cursor.remaining()) + " follow",
                          0);
    STKIT_TRY(header, cursor.take_text(static_cast<std::size_t>(header_size)));
    file.bytes_ = bytes;
    file.header_size_ = header_size;
    std::size_t guess = std::min<std::size_t>(header.size() / 64 + 1, options.max_tensors);
    file.tensors_.reserve(guess);
    file.shapes_.reserve(guess * 2);
    shape_begins.reserve(guess);

    // Plan: every entry is checked before any tensor byte is looked at. The usual shape of header
    // is read by the fast path; anything else, and every header that is not valid JSON, by simdjson.
    if (options.max_json_depth >= 3 && detail::valid_utf8(header)) {
        fast_visitor visitor(*this);
        if (detail::read_canonical_header(header, visitor) && !visitor.stopped()) return finish_table();
        discard_table();
    }
    if (auto read = parse_json_header(cursor.remaining()); !read.ok()) return std::move(read).error();
    return finish_table();
}

result<void> safetensors_file_builder::check_layout() {
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
    auto name_compare = [&](uint32_t a, uint32_t b) { return tensors[a].name.compare(tensors[b].name); };
    if (auto repeated = detail::sort_distinct_merging_runs(by_name, name_compare))
        return tensor_error(error_code::st_duplicate_key, "tensor name repeated", tensors[repeated->first].name);

    uint64_t data_start = header_offset + file.header_size_;
    uint64_t data_size = file.bytes_.size() - data_start;
    uint64_t expected = 0;
    const tensor_view* past_end = nullptr;  // the first tensor the data buffer does not hold whole
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
        if (expected > data_size) {  // reported below, before any view is made
            past_end = &tensor;
            break;
        }
    }
    // A truncated file names the first tensor cut short, so the user knows what is missing.
    if (expected != data_size)
        return make_error(error_code::st_data_size_mismatch,
                          "tensors end at " + std::to_string(expected) + ", data buffer holds " +
                              std::to_string(data_size),
                          data_start + std::min(expected, data_size),
                          past_end ? std::string(past_end->name) : std::string());
    // Map: only now, with every offset proven inside the buffer, make the byte views.
    auto data = file.bytes_.subspan(static_cast<std::size_t>(data_start));
    for (tensor_view& tensor : tensors)
        tensor.data = data.subspan(static_cast<std::size_t>(tensor.data_begin),
                                   static_cast<std::size_t>(tensor.byte_size()));
    return {};
}

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
