// torch.save's zip layout (PyTorch ≥ 1.6), and recognising an input by content.
#include <map>
#include <string>

#include "convert/internal.hpp"
#include "stkit/detail/checked.hpp"
#include "stkit/pickle/reach.hpp"

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

error ambiguity(std::string detail, const zip_member& member, uint64_t offset) {
    return make_error(error_code::cv_ambiguous_archive, std::move(detail), offset, member.name);
}

// What the scanner reports as evasion, the converter refuses: a torch zip that another reader
// (Python's zipfile, an older torch, a scanner) could read as something else, or that carries a
// pickle besides data.pkl. Converting it would bless one reading of an archive built to have two.
result<void> check_unambiguous(const zip_archive& zip, const std::string& prefix, const load_options& options) {
    for (const zip_anomaly& anomaly : zip.anomalies()) {
        // Bytes before the first member or after the directory are how self-extracting and
        // concatenated files look; every reader still sees the same members.
        if (anomaly.kind == zip_anomaly_kind::data_before_first || anomaly.kind == zip_anomaly_kind::trailing_data)
            continue;
        const zip_member* member = zip.find(anomaly.member);
        std::string detail = "zip anomaly: " + anomaly.detail;
        if (anomaly.kind == zip_anomaly_kind::duplicate_name) detail = "two members named '" + anomaly.member + "'";
        if (anomaly.kind == zip_anomaly_kind::name_mismatch) detail = "local and central names differ (" + anomaly.detail + ")";
        if (!member) return make_error(error_code::cv_ambiguous_archive, detail, anomaly.offset, anomaly.member);
        return ambiguity(detail, *member, anomaly.offset);
    }
    for (const zip_member& member : zip.members()) {
        std::string_view relative = std::string_view(member.name).substr(std::min(prefix.size(), member.name.size()));
        if (relative == "data.pkl" || member.name.ends_with('/')) continue;
        if (relative.ends_with(".pkl") || relative.ends_with(".pickle"))
            return ambiguity("a pickle member besides data.pkl", member, member.local_header_offset);
        std::vector<std::byte> owned;
        std::span<const std::byte> content;
        if (member.method == 0) {
            STKIT_TRY(content, zip.stored_bytes(member));
        } else {
            if (member.uncompressed_size > options.max_pickle_bytes && !starts_with(relative, "data/")) continue;
            STKIT_TRY(owned, zip.read(member));
            content = owned;
        }
        pickle::reach_options reach;
        reach.collect_staged = false;
        reach.base_offset = member.method == 0 ? member.data_offset : 0;
        pickle::reach_result run = pickle::reach_analyse(content, reach);
        // Tensor data may start like a pickle by chance (float bytes 0x80 0x02 are PROTO 2, 0x82
        // is EXT1); it never reaches a named import.
        bool named_import = false;
        for (const pickle::reach_import& seen : run.imports) named_import = named_import || !seen.extension;
        bool tensor_record = starts_with(relative, "data/");
        bool pickle_content = named_import || (!tensor_record && run.looks_like_pickle(content.size()));
        if (pickle_content)
            return ambiguity("pickle content in a member torch does not unpickle", member, member.data_offset);
    }
    return {};
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
    if (run.end_offset < base + pickle_bytes.size())
        return make_error(error_code::cv_ambiguous_archive,
                          std::to_string(base + pickle_bytes.size() - run.end_offset) +
                              " bytes after data.pkl's STOP: loaders that read on would run them",
                          run.end_offset, pickle_member->name);
    STKIT_TRY_VOID(check_unambiguous(zip, prefix, options));

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
        STKIT_TRY_VOID(load_member(zip, *member, options, loaded));
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
