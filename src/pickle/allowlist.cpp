// The allowlist: the one table of globals the restricted machine understands (issue 3), the torch
// element types of storage classes and dtypes, and the protocol < 3 renames.
#include <algorithm>
#include <array>

#include "pickle/internal.hpp"

namespace stkit::pickle {
namespace {

using ag = allowed_global;
using ts = torch_scalar;

// Every global the converter accepts. The scanner treats anything else as at least suspicious, so
// an entry here is a promise that stkit can rebuild the object without executing anything.
constexpr detail::allow_entry allowlist[] = {
    {"collections", "OrderedDict", ag::ordered_dict, ts::unknown},
    {"torch._utils", "_rebuild_tensor", ag::rebuild_tensor, ts::unknown},
    {"torch._utils", "_rebuild_tensor_v2", ag::rebuild_tensor_v2, ts::unknown},
    {"torch._utils", "_rebuild_tensor_v3", ag::rebuild_tensor_v3, ts::unknown},
    {"torch._utils", "_rebuild_parameter", ag::rebuild_parameter, ts::unknown},
    {"torch._utils", "_rebuild_parameter_with_state", ag::rebuild_parameter_state, ts::unknown},
    {"torch", "Size", ag::torch_size, ts::unknown},
    {"torch", "device", ag::torch_device, ts::unknown},
    {"torch.serialization", "_get_layout", ag::get_layout, ts::unknown},
    {"_codecs", "encode", ag::codecs_encode, ts::unknown},
    {"builtins", "set", ag::set, ts::unknown},
    // Storage classes, as persistent ids name them; the element type is the storage's.
    {"torch", "FloatStorage", ag::storage_class, ts::float32},
    {"torch", "HalfStorage", ag::storage_class, ts::float16},
    {"torch", "BFloat16Storage", ag::storage_class, ts::bfloat16},
    {"torch", "DoubleStorage", ag::storage_class, ts::float64},
    {"torch", "LongStorage", ag::storage_class, ts::int64},
    {"torch", "IntStorage", ag::storage_class, ts::int32},
    {"torch", "ShortStorage", ag::storage_class, ts::int16},
    {"torch", "CharStorage", ag::storage_class, ts::int8},
    {"torch", "ByteStorage", ag::storage_class, ts::uint8},
    {"torch", "BoolStorage", ag::storage_class, ts::bool_},
    {"torch", "ComplexFloatStorage", ag::storage_class, ts::complex64},
    {"torch", "ComplexDoubleStorage", ag::storage_class, ts::complex128},
    {"torch", "UntypedStorage", ag::storage_class, ts::uint8},
    // Quantized storages parse, so the converter can refuse their tensors by dtype name.
    {"torch", "QInt8Storage", ag::storage_class, ts::qint8},
    {"torch", "QUInt8Storage", ag::storage_class, ts::quint8},
    {"torch", "QInt32Storage", ag::storage_class, ts::qint32},
    {"torch", "QUInt4x2Storage", ag::storage_class, ts::quint4x2},
    // dtype objects (a dtype pickles as the global torch.<name>), canonical names and aliases.
    {"torch", "bool", ag::torch_dtype, ts::bool_},
    {"torch", "uint8", ag::torch_dtype, ts::uint8},
    {"torch", "int8", ag::torch_dtype, ts::int8},
    {"torch", "int16", ag::torch_dtype, ts::int16},
    {"torch", "short", ag::torch_dtype, ts::int16},
    {"torch", "int32", ag::torch_dtype, ts::int32},
    {"torch", "int", ag::torch_dtype, ts::int32},
    {"torch", "int64", ag::torch_dtype, ts::int64},
    {"torch", "long", ag::torch_dtype, ts::int64},
    {"torch", "uint16", ag::torch_dtype, ts::uint16},
    {"torch", "uint32", ag::torch_dtype, ts::uint32},
    {"torch", "uint64", ag::torch_dtype, ts::uint64},
    {"torch", "float16", ag::torch_dtype, ts::float16},
    {"torch", "half", ag::torch_dtype, ts::float16},
    {"torch", "bfloat16", ag::torch_dtype, ts::bfloat16},
    {"torch", "float32", ag::torch_dtype, ts::float32},
    {"torch", "float", ag::torch_dtype, ts::float32},
    {"torch", "float64", ag::torch_dtype, ts::float64},
    {"torch", "double", ag::torch_dtype, ts::float64},
    {"torch", "complex32", ag::torch_dtype, ts::complex32},
    {"torch", "chalf", ag::torch_dtype, ts::complex32},
    {"torch", "complex64", ag::torch_dtype, ts::complex64},
    {"torch", "cfloat", ag::torch_dtype, ts::complex64},
    {"torch", "complex128", ag::torch_dtype, ts::complex128},
    {"torch", "cdouble", ag::torch_dtype, ts::complex128},
    {"torch", "float8_e4m3fn", ag::torch_dtype, ts::float8_e4m3fn},
    {"torch", "float8_e5m2", ag::torch_dtype, ts::float8_e5m2},
    {"torch", "float8_e4m3fnuz", ag::torch_dtype, ts::float8_e4m3fnuz},
    {"torch", "float8_e5m2fnuz", ag::torch_dtype, ts::float8_e5m2fnuz},
    {"torch", "qint8", ag::torch_dtype, ts::qint8},
    {"torch", "quint8", ag::torch_dtype, ts::quint8},
    {"torch", "qint32", ag::torch_dtype, ts::qint32},
    {"torch", "quint4x2", ag::torch_dtype, ts::quint4x2},
};

struct scalar_info {
    std::string_view name;
    unsigned size;
};
// Indexed by torch_scalar.
constexpr std::array<scalar_info, 25> scalars = {{
    {"unknown", 0}, {"bool", 1}, {"uint8", 1}, {"int8", 1}, {"int16", 2}, {"int32", 4},
    {"int64", 8}, {"uint16", 2}, {"uint32", 4}, {"uint64", 8}, {"float16", 2}, {"bfloat16", 2},
    {"float32", 4}, {"float64", 8}, {"complex32", 4}, {"complex64", 8}, {"complex128", 16},
    {"float8_e4m3fn", 1}, {"float8_e5m2", 1}, {"float8_e4m3fnuz", 1}, {"float8_e5m2fnuz", 1},
    {"qint8", 1}, {"quint8", 1}, {"qint32", 4}, {"quint4x2", 1},
}};
static_assert(scalars.size() == static_cast<std::size_t>(torch_scalar::quint4x2) + 1);

}  // namespace

namespace detail {

const allow_entry* find_allowed(std::string_view module, std::string_view name) noexcept {
    for (const allow_entry& entry : allowlist)
        if (entry.name == name && entry.module == module) return &entry;
    return nullptr;
}

}  // namespace detail

std::string_view torch_scalar_name(torch_scalar type) noexcept {
    auto index = static_cast<std::size_t>(type);
    return index < scalars.size() ? scalars[index].name : "unknown";
}

unsigned torch_scalar_size(torch_scalar type) noexcept {
    auto index = static_cast<std::size_t>(type);
    return index < scalars.size() ? scalars[index].size : 0;
}

std::pair<std::string, std::string> python3_name(std::string_view module, std::string_view name) {
    using detail::name_rename;
    using detail::module_rename;
    const name_rename* names_end = detail::name_renames + detail::name_rename_count;
    auto by_name = std::lower_bound(detail::name_renames, names_end, std::pair{module, name},
                                    [](const name_rename& row, const auto& key) {
                                        return std::pair{row.module, row.name} < key;
                                    });
    if (by_name != names_end && by_name->module == module && by_name->name == name)
        return {std::string(by_name->to_module), std::string(by_name->to_name)};
    const module_rename* modules_end = detail::module_renames + detail::module_rename_count;
    auto by_module = std::lower_bound(
        detail::module_renames, modules_end, module,
        [](const module_rename& row, std::string_view key) { return row.from < key; });
    if (by_module != modules_end && by_module->from == module)
        return {std::string(by_module->to), std::string(name)};
    return {std::string(module), std::string(name)};
}

allowed_global classify_global(std::string_view module, std::string_view name) noexcept {
    const detail::allow_entry* entry = detail::find_allowed(module, name);
    return entry ? entry->kind : allowed_global::not_allowed;
}

}  // namespace stkit::pickle
