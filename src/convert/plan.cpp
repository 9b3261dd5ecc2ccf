// The plan checks shared by every input kind (view bounds, names, aliases) and the streaming of a
// planned tensor's bytes in row-major little-endian order.

#include <algorithm>
#include <cstring>
#include <map>
#include <tuple>

#include "convert/internal.hpp"
#include "stkit/file.hpp"
#include "stkit/detail/checked.hpp"

namespace stkit::convert {

std::string_view source_format_name(source_format format) noexcept {
    switch (format) {
        case source_format::torch_zip: return "torch zip";
        case source_format::torch_legacy: return "torch legacy";
        case source_format::numpy_npy: return "npy";
        case source_format::numpy_npz: return "npz";
    }
    return "unknown";
}

namespace detail {
namespace {

using stkit::detail::checked_add;
using stkit::detail::checked_mul;

// Sets byte_size and contiguous, and checks that the view lies inside its storage.
result<void> check_view(const checkpoint& source, source_tensor& tensor) {
    const uint64_t element = dtype_size(tensor.type);
    auto out_of_bounds = [&](std::string detail) {
        return make_error(error_code::cv_view_out_of_bounds, std::move(detail), no_offset,
                          tensor.name);
    };
    auto elements = stkit::detail::checked_product(tensor.shape);
    auto bytes = elements ? checked_mul(*elements, element) : std::nullopt;
    if (!bytes) return out_of_bounds("shape × element size overflows 64 bits");
    tensor.byte_size = *bytes;
    // Row-major density; torch ignores the stride of a dimension of extent 1.
    tensor.contiguous = true;
    uint64_t expected = 1;
    for (std::size_t d = tensor.shape.size(); d-- > 0;) {
        if (tensor.shape[d] != 1 && tensor.stride[d] != expected) tensor.contiguous = false;
        expected *= tensor.shape[d] == 0 ? 1 : tensor.shape[d];  // bounded by *elements
    }
    if (*elements == 0) {
        tensor.contiguous = true;
        return {};
    }
    std::optional<uint64_t> last = tensor.offset;
    for (std::size_t d = 0; d < tensor.shape.size() && last; ++d) {
        auto reach = checked_mul(tensor.shape[d] - 1, tensor.stride[d]);
        last = reach ? checked_add(*last, *reach) : std::nullopt;
    }
    auto end_element = last ? checked_add(*last, 1) : std::nullopt;
    auto end_byte = end_element ? checked_mul(*end_element, element) : std::nullopt;
    if (!end_byte) return out_of_bounds("view extent overflows 64 bits");
    uint64_t available = source.storages[tensor.storage].bytes.size();
    if (*end_byte > available)
        return out_of_bounds("view needs bytes up to " + std::to_string(*end_byte) +
                             " of a storage of " + std::to_string(available) + " bytes");
    return {};
}

}  // namespace

unsigned swap_unit(dtype type) noexcept { return type == dtype::c64 ? 4 : dtype_size(type); }

result<void> finish_plan(checkpoint& out) {
    if (out.tensors.empty())
        return make_error(error_code::cv_no_tensors, "nothing to convert");
    for (source_tensor& tensor : out.tensors) {
        if (tensor.storage >= out.storages.size())
            return make_error(error_code::cv_storage_missing, {}, no_offset, tensor.name);
        STKIT_TRY_VOID(check_view(out, tensor));
    }

    std::vector<const source_tensor*> by_name;
    for (const source_tensor& tensor : out.tensors) by_name.push_back(&tensor);
    std::sort(by_name.begin(), by_name.end(),
              [](const source_tensor* a, const source_tensor* b) { return a->name < b->name; });
    for (std::size_t i = 1; i < by_name.size(); ++i)
        if (by_name[i]->name == by_name[i - 1]->name)
            return make_error(error_code::cv_duplicate_name,
                              "two entries flatten to this name", no_offset, by_name[i]->name);

    // Identical views of one storage are one tensor: keep the smallest name (by_name is sorted, so
    // the first of each group seen), as safetensors.torch._remove_duplicate_names does.
    using view_key = std::tuple<uint32_t, uint64_t, dtype, std::vector<uint64_t>,
                                std::vector<uint64_t>>;
    std::map<view_key, std::string> kept;
    std::vector<std::string> dropped;
    for (const source_tensor* tensor : by_name) {
        if (tensor->byte_size == 0) continue;
        view_key key{tensor->storage, tensor->offset, tensor->type, tensor->shape, tensor->stride};
        auto [slot, inserted] = kept.emplace(std::move(key), tensor->name);
        if (!inserted) {
            out.aliases.push_back({tensor->name, slot->second});
            dropped.push_back(tensor->name);
        }
    }
    std::sort(out.aliases.begin(), out.aliases.end(),
              [](const alias_entry& a, const alias_entry& b) { return a.alias < b.alias; });
    std::sort(dropped.begin(), dropped.end());
    std::erase_if(out.tensors, [&](const source_tensor& tensor) {
        return std::binary_search(dropped.begin(), dropped.end(), tensor.name);
    });
    return {};
}

uint32_t record_crc(const source_storage& storage) noexcept {
    if (!storage.releasable) return zip_crc32(storage.record);
    // In chunks whose pages are released once summed, so a multi-GB record never becomes
    // resident as a whole.
    uint32_t crc = 0;
    for (auto rest = storage.record; !rest.empty();) {
        auto chunk = rest.first(std::min<std::size_t>(rest.size(), std::size_t{8} << 20));
        populate_pages(chunk);
        crc = zip_crc32(chunk, crc);
        release_pages(chunk);
        rest = rest.subspan(chunk.size());
    }
    return crc;
}

result<void> check_record_crc(const source_storage& storage, uint32_t expected, std::optional<uint32_t> computed) {
    if ((computed ? *computed : record_crc(storage)) == expected) return {};
    return make_error(error_code::zip_crc_mismatch, "stored record", storage.file_offset, storage.member);
}

result<void> load_member(const zip_archive& zip, const zip_member& member, const load_options& options,
                         source_storage& storage) {
    if (member.method == 0) {
        STKIT_TRY(storage.bytes, zip.stored_bytes(member));
        storage.record = storage.bytes;
        storage.file_offset = member.data_offset;
        storage.releasable = options.release_consumed_pages;
        storage.member = member.name;
        if (options.defer_stored_crc) {
            storage.unchecked_crc = member.crc32;
            return {};
        }
        return check_record_crc(storage, member.crc32, std::nullopt);
    }
    STKIT_TRY(storage.owned, zip.read(member));
    storage.bytes = storage.owned;
    return {};
}

}  // namespace detail

namespace {

void swap_in_place(std::span<std::byte> bytes, unsigned unit) noexcept {
    if (unit <= 1) return;
    for (std::size_t i = 0; i + unit <= bytes.size(); i += unit)
        std::reverse(bytes.begin() + static_cast<std::ptrdiff_t>(i),
                     bytes.begin() + static_cast<std::ptrdiff_t>(i + unit));
}

}  // namespace

result<void> stream_tensor(const checkpoint& source, const source_tensor& tensor,
                           std::size_t chunk_bytes, const byte_sink& sink) {
    if (tensor.byte_size == 0) return {};
    const source_storage& storage = source.storages[tensor.storage];
    const std::size_t element = dtype_size(tensor.type);
    const unsigned unit = storage.big_endian ? detail::swap_unit(tensor.type) : 1;
    chunk_bytes = std::max(chunk_bytes - chunk_bytes % element, element);

    // The innermost run of elements that is contiguous in the storage: trailing dimensions whose
    // strides are row-major dense (plan checks made every product below fit in 64 bits).
    std::size_t rank = tensor.shape.size();
    std::size_t inner_dims = 0;
    uint64_t run_elements = 1;
    while (inner_dims < rank) {
        std::size_t d = rank - 1 - inner_dims;
        if (tensor.shape[d] != 1 && tensor.stride[d] != run_elements) break;
        run_elements *= tensor.shape[d];
        ++inner_dims;
    }
    const uint64_t run_bytes = run_elements * element;
    const std::size_t outer_rank = rank - inner_dims;

    std::vector<std::byte> buffer;
    std::size_t filled = 0;
    auto flush = [&]() -> result<void> {
        if (filled == 0) return {};
        swap_in_place(std::span(buffer).first(filled), unit);
        STKIT_TRY_VOID(sink(std::span<const std::byte>(buffer.data(), filled)));
        filled = 0;
        return {};
    };
    // Emits `bytes` (one contiguous run of the storage) through the buffer, or directly.
    auto emit = [&](std::span<const std::byte> bytes) -> result<void> {
        if (unit <= 1 && filled == 0 && bytes.size() >= chunk_bytes) {
            while (bytes.size() >= chunk_bytes) {
                if (storage.releasable) populate_pages(bytes.first(chunk_bytes));
                STKIT_TRY_VOID(sink(bytes.first(chunk_bytes)));
                if (storage.releasable) release_pages(bytes.first(chunk_bytes));
                bytes = bytes.subspan(chunk_bytes);
            }
        }
        while (!bytes.empty()) {
            if (buffer.empty()) buffer.resize(chunk_bytes);
            std::size_t take = std::min(bytes.size(), chunk_bytes - filled);
            std::memcpy(buffer.data() + filled, bytes.data(), take);
            filled += take;
            bytes = bytes.subspan(take);
            if (filled == chunk_bytes) STKIT_TRY_VOID(flush());
        }
        return {};
    };

    // Flushes the buffer, then releases the pages of the storage this view reached.
    auto finish = [&]() -> result<void> {
        STKIT_TRY_VOID(flush());
        if (storage.releasable) {
            uint64_t begin = tensor.offset * element;  // bounds checked by the plan
            release_pages(storage.bytes.subspan(
                begin, tensor.contiguous ? tensor.byte_size : storage.bytes.size() - begin));
        }
        return {};
    };
    std::vector<uint64_t> index(outer_rank, 0);
    while (true) {
        uint64_t position = tensor.offset;
        for (std::size_t d = 0; d < outer_rank; ++d) position += index[d] * tensor.stride[d];
        STKIT_TRY_VOID(emit(storage.bytes.subspan(position * element, run_bytes)));
        std::size_t d = outer_rank;
        while (d > 0) {
            --d;
            if (++index[d] < tensor.shape[d]) break;
            index[d] = 0;
            if (d == 0) return finish();
        }
        if (outer_rank == 0) return finish();
    }
}

}  // namespace stkit::convert
