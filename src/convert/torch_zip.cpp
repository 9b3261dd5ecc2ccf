// torch.save's zip layout (PyTorch ≥ 1.6), and recognising an input by content.
#include <map>
#include <string>

#include "convert/internal.hpp"
#include "stkit/detail/checked.hpp"

namespace stkit::convert {
namespace detail {
namespace {

bool starts_with(std::string_view text, std::string_view prefix) noexcept {
    return text.substr(0, prefix.size()) == prefix;
}

// The byte size a persistent id declares: numel × the storage class's element size.
result<uint64_t> declared_bytes(const pickle::storage_ref& storage, uint64_t offset) {
    unsigned element = pickle::torch_scalar_size(storage.element);
    if (element == 0)
        return make_error(error_code::cv_unsupported_dtype, "storage of unknown element type",
                          offset, storage.key);
    auto bytes = stkit::detail::checked_mul(storage.numel, element);
    if (!bytes)
        return make_error(error_code::cv_storage_size_mismatch, "element count overflows", offset,
                          storage.key);
    return *bytes;
}

}  // namespace

result<checkpoint> load_torch_archive(const zip_archive& zip, const load_options& options) {
    const std::string prefix = zip.common_prefix();
    for (const zip_member& member : zip.members()) {
        std::string_view relative = std::string_view(member.name).substr(prefix.size());
        if (relative == "constants.pkl" || starts_with(relative, "code/"))
            return make_error(error_code::cv_code_bearing_archive,
                              "TorchScript archive: converting it would drop its code, and its "
                              "code is not something a weights file should carry",
                              member.local_header_offset, member.name);
    }
    const zip_member* pickle_member = zip.find(prefix + "data.pkl");
    if (!pickle_member)
        return make_error(error_code::cv_invalid_checkpoint, "archive has no data.pkl", no_offset,
                          prefix + "data.pkl");

    checkpoint out;
    out.format = source_format::torch_zip;
    bool big_endian = false;
    if (const zip_member* order = zip.find(prefix + "byteorder")) {
        STKIT_TRY(auto text, zip.read(*order));
        std::string_view value(reinterpret_cast<const char*>(text.data()), text.size());
        if (value == "big") big_endian = true;
        else if (value != "little")
            return make_error(error_code::cv_invalid_checkpoint, "byteorder is neither little nor big",
                              order->data_offset, order->name);
    }

    if (pickle_member->uncompressed_size > options.max_pickle_bytes)
        return make_error(error_code::decompressed_limit,
                          "data.pkl of " + std::to_string(pickle_member->uncompressed_size) +
                              " bytes, limit " + std::to_string(options.max_pickle_bytes),
                          pickle_member->local_header_offset, pickle_member->name);
    STKIT_TRY(auto pickle_bytes, zip.read(*pickle_member));
    // Offsets in messages are absolute when the pickle is stored (torch always stores it).
    uint64_t base = pickle_member->method == 0 ? pickle_member->data_offset : 0;
    STKIT_TRY(auto run, run_restricted(pickle_bytes, base, options.limits));

    std::map<std::string, uint32_t, std::less<>> by_key;
    storage_resolver resolve = [&](const pickle::storage_ref& storage,
                                   uint64_t offset) -> result<uint32_t> {
        STKIT_TRY(uint64_t expected, declared_bytes(storage, offset));
        auto found = by_key.find(storage.key);
        if (found != by_key.end()) {
            if (out.storages[found->second].bytes.size() != expected)
                return make_error(error_code::cv_storage_size_mismatch,
                                  "storage referenced with two different sizes", offset,
                                  storage.key);
            return found->second;
        }
        const std::string record = prefix + "data/" + storage.key;
        const zip_member* member = zip.find(record);
        if (!member)
            return make_error(error_code::cv_storage_missing, "no record " + record, offset);
        if (member->uncompressed_size != expected)
            return make_error(error_code::cv_storage_size_mismatch,
                              "record " + record + " holds " +
                                  std::to_string(member->uncompressed_size) + " bytes, " +
                                  std::to_string(storage.numel) + " elements need " +
                                  std::to_string(expected),
                              member->data_offset);
        source_storage loaded;
        loaded.key = storage.key;
        loaded.big_endian = big_endian;
        STKIT_TRY_VOID(load_member(zip, *member, options.release_consumed_pages, loaded));
        out.storages.push_back(std::move(loaded));
        auto index = static_cast<uint32_t>(out.storages.size() - 1);
        by_key.emplace(storage.key, index);
        return index;
    };
    STKIT_TRY_VOID(collect_torch_tensors(run, resolve, out));
    return out;
}

result<zip_archive> open_zip(std::span<const std::byte> file, const load_options& options) {
    zip_limits limits;
    limits.max_decompressed_bytes = options.max_decompressed_bytes;
    return zip_archive::open(file, limits);
}

}  // namespace detail

result<checkpoint> load_torch_zip(std::span<const std::byte> file, const load_options& options) {
    STKIT_TRY(auto zip, detail::open_zip(file, options));
    return detail::load_torch_archive(zip, options);
}

result<checkpoint> load_checkpoint(std::span<const std::byte> file, const load_options& options) {
    static constexpr std::string_view npy_magic = "\x93NUMPY";
    std::string_view head(reinterpret_cast<const char*>(file.data()), std::min<std::size_t>(file.size(), 8));
    if (head.substr(0, npy_magic.size()) == npy_magic) return load_npy(file, options);
    if (head.substr(0, 2) == "PK") {
        STKIT_TRY(auto zip, detail::open_zip(file, options));
        bool all_npy = !zip.members().empty();
        for (const zip_member& member : zip.members()) {
            std::string_view name = member.name;
            if (name.size() < 4 || name.substr(name.size() - 4) != ".npy") all_npy = false;
        }
        if (all_npy) return detail::load_npz_archive(zip, options);
        return detail::load_torch_archive(zip, options);
    }
    // Every pickle torch writes starts with PROTO (protocol ≥ 2); the legacy loader checks that
    // the first pickle is torch's magic number.
    if (!head.empty() && head[0] == '\x80') return load_torch_legacy(file, options);
    return make_error(error_code::cv_unrecognized_input,
                      "neither a torch.save file (zip or legacy) nor .npy / .npz", 0);
}

}  // namespace stkit::convert
