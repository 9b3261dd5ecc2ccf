// torch.save's legacy layout (PyTorch < 1.6, or _use_new_zipfile_serialization=False):
//
//   pickle  magic number 0x1950a86a20f9469cfc6c
//   pickle  protocol version 1001
//   pickle  sys_info dict (ignored: torch writes storages little-endian on every host)
//   pickle  the object; storages appear as persistent ids ('storage', type, key, location, numel,
//           view metadata)
//   pickle  the storage keys, a list of str, in the order the storages follow
//   for each key: int64 LE element count, then count × element size raw bytes
#include <map>
#include <string>

#include "convert/internal.hpp"
#include "stkit/detail/checked.hpp"
#include "stkit/detail/cursor.hpp"

namespace stkit::convert {
namespace {

using pickle::node;
using pickle::node_kind;

constexpr uint8_t legacy_magic_le[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr int64_t legacy_protocol_version = 1001;

error invalid(std::string detail, uint64_t offset, std::string name = {}) {
    return make_error(error_code::cv_invalid_checkpoint, std::move(detail), offset, std::move(name));
}

bool is_magic(const node& root) noexcept {
    if (root.kind != node_kind::big_integer) return false;
    std::string_view bytes = root.text;
    while (bytes.size() > sizeof legacy_magic_le && bytes.back() == '\0') bytes.remove_suffix(1);
    if (bytes.size() != sizeof legacy_magic_le) return false;
    for (std::size_t i = 0; i < bytes.size(); ++i)
        if (static_cast<uint8_t>(bytes[i]) != legacy_magic_le[i]) return false;
    return true;
}

// Runs the pickle that starts at `offset` (absolute) of `file`.
result<pickle::pickle_run> run_at(std::span<const std::byte> file, uint64_t offset,
                                  const pickle::pickle_limits& limits) {
    if (offset >= file.size())
        return make_error(error_code::truncated, "file ends before the next pickle", offset);
    return detail::run_restricted(file.subspan(offset), offset, limits);
}

}  // namespace

result<checkpoint> load_torch_legacy(std::span<const std::byte> file, const load_options& options) {
    STKIT_TRY(auto magic, run_at(file, 0, options.limits));
    if (magic.root >= magic.nodes.size() || !is_magic(magic.nodes[magic.root]))
        return make_error(error_code::cv_unrecognized_input,
                          "a pickle, but not a torch.save file (no magic number)", 0);
    STKIT_TRY(auto version, run_at(file, magic.end_offset, options.limits));
    const node& version_node = version.nodes[version.root];
    if (version_node.kind != node_kind::integer || version_node.integer != legacy_protocol_version)
        return invalid("protocol version is not 1001", magic.end_offset);
    STKIT_TRY(auto sys_info, run_at(file, version.end_offset, options.limits));
    if (sys_info.nodes[sys_info.root].kind != node_kind::dict)
        return invalid("sys_info is not a dict", version.end_offset);
    const uint64_t object_offset = sys_info.end_offset;
    STKIT_TRY(auto object, run_at(file, object_offset, options.limits));
    STKIT_TRY(auto keys, run_at(file, object.end_offset, options.limits));
    const node& key_list = keys.nodes[keys.root];
    if (key_list.kind != node_kind::list) return invalid("storage key list is not a list", object.end_offset);

    // Element size and count of each key, from the object's persistent ids.
    std::map<std::string, const pickle::storage_ref*, std::less<>> declared;
    for (const pickle::storage_ref& storage : object.storages) declared.emplace(storage.key, &storage);

    checkpoint out;
    out.format = source_format::torch_legacy;
    std::map<std::string, uint32_t, std::less<>> by_key;
    stkit::detail::byte_cursor cursor(file.subspan(keys.end_offset), keys.end_offset);
    for (pickle::node_id id : key_list.items) {
        const node& key = keys.nodes[id];
        if (key.kind != node_kind::string) return invalid("storage key is not a str", key.offset);
        auto found = declared.find(key.text);
        if (found == declared.end())
            return invalid("storage listed but used by no tensor", key.offset, key.text);
        if (by_key.count(key.text)) return invalid("storage listed twice", key.offset, key.text);
        const pickle::storage_ref& storage = *found->second;
        const uint64_t count_offset = cursor.offset();
        STKIT_TRY(int64_t count, cursor.i64le());
        if (count < 0 || static_cast<uint64_t>(count) != storage.numel)
            return make_error(error_code::cv_storage_size_mismatch,
                              "data says " + std::to_string(count) + " elements, the pickle " +
                                  std::to_string(storage.numel),
                              count_offset, key.text);
        unsigned element = pickle::torch_scalar_size(storage.element);
        auto bytes = stkit::detail::checked_mul(storage.numel, element);
        if (element == 0 || !bytes)
            return make_error(error_code::cv_unsupported_dtype, "storage element type unknown",
                              count_offset, key.text);
        source_storage loaded;
        loaded.key = key.text;
        loaded.file_offset = cursor.offset();
        loaded.releasable = options.release_consumed_pages;
        if (*bytes > cursor.remaining())
            return make_error(error_code::truncated,
                              "storage needs " + std::to_string(*bytes) + " bytes, " +
                                  std::to_string(cursor.remaining()) + " remain",
                              cursor.offset(), key.text);
        STKIT_TRY(loaded.bytes, cursor.take(static_cast<std::size_t>(*bytes)));
        by_key.emplace(key.text, static_cast<uint32_t>(out.storages.size()));
        out.storages.push_back(std::move(loaded));
    }

    detail::storage_resolver resolve = [&](const pickle::storage_ref& storage,
                                           uint64_t offset) -> result<uint32_t> {
        auto found = by_key.find(storage.key);
        if (found == by_key.end())
            return make_error(error_code::cv_storage_missing,
                              "storage " + storage.key + " is not in the key list", offset);
        return found->second;
    };
    STKIT_TRY_VOID(detail::collect_torch_tensors(object, resolve, out));
    return out;
}

}  // namespace stkit::convert
