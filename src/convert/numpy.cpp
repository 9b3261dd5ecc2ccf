// NumPy inputs: a lone .npy, or an .npz (a zip of .npy members, stored or deflated).
// Fortran-order arrays become strided views (column-major strides), which the writer streams out in
// C order like any other non-contiguous view; big-endian data is swapped while streaming.
#include "convert/internal.hpp"
#include "stkit/containers/npy.hpp"

namespace stkit::convert {
namespace {

// Adds `storage` (already holding the whole .npy file) and its array as tensor `name`.
result<void> add_array(source_storage storage, std::string name, uint64_t file_offset,
                       checkpoint& out) {
    auto parsed = npy_parse(storage.bytes);
    if (!parsed.ok()) {
        error failure = std::move(parsed).error();
        if (failure.name.empty()) failure.name = name;
        if (failure.has_offset() && file_offset != no_offset) failure.offset += file_offset;
        return failure;
    }
    const npy_array& array = *parsed;
    if (array.object)
        return make_error(error_code::npy_object_array,
                          "dtype '" + array.descr + "' holds Python objects, loaded by pickle",
                          file_offset, name);
    if (!array.type)
        return make_error(error_code::npy_unsupported_dtype,
                          "dtype '" + array.descr + "' has no safetensors equivalent", file_offset,
                          name);
    source_tensor tensor;
    tensor.name = std::move(name);
    tensor.type = *array.type;
    tensor.shape = array.shape;
    tensor.stride.assign(array.shape.size(), 0);
    // C order: the last dimension varies fastest; Fortran order: the first does. Products are
    // bounded by the data size npy_parse checked.
    uint64_t step = 1;
    for (std::size_t i = 0; i < array.shape.size(); ++i) {
        std::size_t d = array.fortran_order ? i : array.shape.size() - 1 - i;
        tensor.stride[d] = step;
        step *= array.shape[d] == 0 ? 1 : array.shape[d];
    }
    storage.key = tensor.name;
    storage.big_endian = array.big_endian;
    storage.bytes = array.data;
    if (storage.file_offset != no_offset) storage.file_offset += array.data_offset;
    tensor.storage = static_cast<uint32_t>(out.storages.size());
    out.storages.push_back(std::move(storage));
    out.tensors.push_back(std::move(tensor));
    return {};
}

}  // namespace

result<checkpoint> load_npy(std::span<const std::byte> file, const load_options& options) {
    checkpoint out;
    out.format = source_format::numpy_npy;
    source_storage storage;
    storage.bytes = file;
    storage.file_offset = 0;
    storage.releasable = options.release_consumed_pages;
    STKIT_TRY_VOID(add_array(std::move(storage), options.npy_name, 0, out));
    STKIT_TRY_VOID(detail::finish_plan(out));
    return out;
}

namespace detail {

result<checkpoint> load_npz_archive(const zip_archive& zip, const load_options& options) {
    checkpoint out;
    out.format = source_format::numpy_npz;
    for (const zip_member& member : zip.members()) {
        std::string name = member.name;
        if (name.ends_with("/")) continue;  // a folder entry
        if (!name.ends_with(".npy"))
            return make_error(error_code::cv_invalid_checkpoint, "npz member is not an .npy",
                              member.local_header_offset, name);
        name.resize(name.size() - 4);
        source_storage storage;
        STKIT_TRY_VOID(load_member(zip, member, options, storage));
        uint64_t base = storage.file_offset;
        STKIT_TRY_VOID(add_array(std::move(storage), std::move(name), base, out));
    }
    STKIT_TRY_VOID(finish_plan(out));
    return out;
}

}  // namespace detail

result<checkpoint> load_npz(std::span<const std::byte> file, const load_options& options) {
    STKIT_TRY(auto zip, detail::open_zip(file, options));
    return detail::load_npz_archive(zip, options);
}

}  // namespace stkit::convert
