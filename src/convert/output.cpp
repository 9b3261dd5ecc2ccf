// Writing a planned checkpoint with the streaming safetensors writer, and verifying the result by
// digests computed independently on both sides (see output.hpp).
#include "convert/output.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "convert/internal.hpp"
#include "stkit/file.hpp"
#include "stkit/format/safetensors.hpp"

namespace stkit::convert::detail {
namespace {

// Tensors read from the input map are written in pieces of this size: small enough to stay in
// cache between the sums and the write, large enough that the per-piece system calls cost nothing.
constexpr std::size_t copy_piece = std::size_t{8} << 20;
// A record's CRC is computed while writing a tensor that ends it and starts at most this far in.
constexpr std::ptrdiff_t crc_prefix_limit = 64 << 10;

std::map<std::string, std::string> planned_metadata(const checkpoint& plan) {
    std::map<std::string, std::string> metadata{{"format", "pt"}};
    for (const alias_entry& alias : plan.aliases) metadata.emplace(alias.alias, alias.kept);
    return metadata;
}

error mismatch(const source_tensor& tensor, std::string detail) {
    return make_error(error_code::cv_verify_failed, std::move(detail), no_offset, tensor.name);
}

// Digest of `length` bytes of `fd` from `offset`, read with pread into `buffer`: no map, no page
// faults, a resident set of one buffer whatever the size.
result<xxh3_digest> digest_range(int fd, uint64_t offset, uint64_t length, std::vector<std::byte>& buffer,
                                 progress_counter* progress = nullptr) {
    xxh3_128 hasher;
    while (length > 0) {
        std::size_t want = static_cast<std::size_t>(std::min<uint64_t>(length, buffer.size()));
        ssize_t got = ::pread(fd, buffer.data(), want, static_cast<off_t>(offset));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0)
            return make_error(error_code::io_read_failed,
                              got < 0 ? std::strerror(errno) : "file ends early", offset);
        hasher.update(std::span(buffer.data(), static_cast<std::size_t>(got)));
        if (progress) progress->add(static_cast<uint64_t>(got));
        offset += static_cast<uint64_t>(got);
        length -= static_cast<uint64_t>(got);
    }
    return hasher.finish();
}

}  // namespace

std::optional<std::span<const std::byte>> mapped_tensor_bytes(const checkpoint& plan, const source_tensor& tensor,
                                                      std::span<const std::byte> input_map) noexcept {
    const source_storage& storage = plan.storages[tensor.storage];
    if (!tensor.contiguous || storage.big_endian || !storage.owned.empty() || tensor.byte_size == 0)
        return std::nullopt;
    std::span<const std::byte> bytes =
        storage.bytes.subspan(static_cast<std::size_t>(tensor.offset * dtype_size(tensor.type)),
                              static_cast<std::size_t>(tensor.byte_size));  // bounds checked by the plan
    // Only bytes that lie in the input file's map have pages to populate and release.
    auto begin = reinterpret_cast<uintptr_t>(input_map.data());
    auto at = reinterpret_cast<uintptr_t>(bytes.data());
    if (at < begin || at - begin > input_map.size() || bytes.size() > input_map.size() - (at - begin))
        return std::nullopt;
    return bytes;
}

result<written_output> write_checkpoint(const checkpoint& plan, safetensors_writer& writer,
                                        std::span<const std::byte> input_map, std::size_t chunk_bytes,
                                        progress_counter& progress) {
    std::map<std::string_view, const source_tensor*> by_name;
    for (const source_tensor& tensor : plan.tensors) {
        STKIT_TRY_VOID(writer.declare(tensor.name, tensor.type, tensor.shape));
        by_name.emplace(tensor.name, &tensor);
    }
    for (auto& [key, value] : planned_metadata(plan)) STKIT_TRY_VOID(writer.set_metadata(key, value));
    STKIT_TRY(auto order, writer.layout());
    // CRCs of stored records computed while their bytes were written (a tensor that is its whole
    // record); the others are computed after the write, before anything is linked into place.
    std::vector<std::optional<uint32_t>> record_crcs(plan.storages.size());
    written_output written;
    for (const planned_tensor& slot : order) {
        const source_tensor& tensor = *by_name.at(slot.name);
        const source_storage& storage = plan.storages[tensor.storage];
        if (auto bytes = mapped_tensor_bytes(plan, tensor, input_map)) {
            // One pass over the input's pages: populated in one call per piece, summed (the record's
            // CRC) while in cache, written from the map, released. A kernel copy (copy_file_range)
            // was tried here: it needs a second pass for the CRC, and was 45 % slower whenever the
            // tensor's offsets in the input and the output differ within a page, which is most
            // tensors. (The source digest is not summed here but by source_digests, which reads
            // the input again on the other core while this loop writes.)
            // The record's CRC is computed here when the tensor is its tail (all of it, or all
            // after an .npy header): the CRC of the few bytes before, continued over the tensor.
            const std::byte* record_end = storage.record.data() + storage.record.size();
            const bool whole_record = storage.unchecked_crc && bytes->data() >= storage.record.data() &&
                                      bytes->data() - storage.record.data() <= crc_prefix_limit &&
                                      bytes->data() + bytes->size() == record_end;
            uint32_t crc = whole_record ? zip_crc32(storage.record.first(
                                             static_cast<std::size_t>(bytes->data() - storage.record.data())))
                                       : 0;
            for (std::size_t at = 0; at < bytes->size(); at += copy_piece) {
                auto piece = bytes->subspan(at, std::min(copy_piece, bytes->size() - at));
                populate_pages(piece);
                if (whole_record) crc = zip_crc32(piece, crc);
                STKIT_TRY_VOID(writer.append(slot.name, piece));
                if (storage.releasable) release_pages(piece);
                progress.add(piece.size());
            }
            if (whole_record) record_crcs[tensor.storage] = crc;
            written.mapped_bytes += tensor.byte_size;
        } else {
            STKIT_TRY_VOID(writer.write_tensor(slot.name, [&](const byte_sink& sink) {
                return stream_tensor(plan, tensor, chunk_bytes, [&](std::span<const std::byte> chunk) {
                    auto sent = sink(chunk);
                    if (sent.ok()) progress.add(chunk.size());
                    return sent;
                });
            }));
        }
        written.tensor_bytes += tensor.byte_size;
    }
    for (std::size_t i = 0; i < plan.storages.size(); ++i)
        if (const source_storage& storage = plan.storages[i]; storage.unchecked_crc)
            STKIT_TRY_VOID(check_record_crc(storage, *storage.unchecked_crc, record_crcs[i]));
    STKIT_TRY_VOID(writer.flush());
    written.file_bytes = writer.bytes_written();
    return written;
}

result<std::vector<xxh3_digest>> source_digests(const checkpoint& plan, const std::filesystem::path& source,
                                                std::span<const std::byte> input_map, std::size_t chunk_bytes) {
    int fd = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return make_error(error_code::io_open_failed, std::strerror(errno)).in_file(source.string());
    std::vector<xxh3_digest> digests;
    digests.reserve(plan.tensors.size());
    std::vector<std::byte> buffer(chunk_bytes);
    result<void> failure;
    for (const source_tensor& tensor : plan.tensors) {
        if (auto bytes = mapped_tensor_bytes(plan, tensor, input_map)) {
            auto offset = static_cast<uint64_t>(bytes->data() - input_map.data());
            auto digest = digest_range(fd, offset, tensor.byte_size, buffer);
            if (!digest.ok()) {
                failure = mismatch(tensor, "source: " + digest.error().to_string());
                break;
            }
            digests.push_back(*digest);
            continue;
        }
        xxh3_128 hasher;
        failure = stream_tensor(plan, tensor, chunk_bytes, [&](std::span<const std::byte> chunk) -> result<void> {
            hasher.update(chunk);
            return {};
        });
        if (!failure.ok()) break;
        digests.push_back(hasher.finish());
    }
    ::close(fd);
    if (!failure.ok()) return std::move(failure).error();
    return digests;
}

result<std::vector<xxh3_digest>> output_digests(const checkpoint& plan, const std::filesystem::path& path,
                                                std::size_t chunk_bytes, progress_counter& progress) {
    STKIT_TRY(auto file, safetensors_file::open(path));
    if (file.tensor_count() != plan.tensors.size())
        return make_error(error_code::cv_verify_failed,
                          "holds " + std::to_string(file.tensor_count()) + " tensors, planned " +
                              std::to_string(plan.tensors.size()));
    auto metadata = planned_metadata(plan);
    if (!std::equal(metadata.begin(), metadata.end(), file.metadata().begin(), file.metadata().end()))
        return make_error(error_code::cv_verify_failed, "metadata differs from the plan");
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return make_error(error_code::io_open_failed, std::strerror(errno)).in_file(path.string());
    std::vector<xxh3_digest> digests;
    digests.reserve(plan.tensors.size());
    std::vector<std::byte> buffer(chunk_bytes);
    result<void> failure;
    for (const source_tensor& tensor : plan.tensors) {
        const tensor_view* written = file.tensor_find(tensor.name);
        if (!written) failure = mismatch(tensor, "missing from the output");
        else if (written->type != tensor.type) failure = mismatch(tensor, "dtype differs");
        else if (!std::equal(written->shape.begin(), written->shape.end(), tensor.shape.begin(), tensor.shape.end()))
            failure = mismatch(tensor, "shape differs");
        else if (written->byte_size() != tensor.byte_size) failure = mismatch(tensor, "size differs");
        if (!failure.ok()) break;
        auto offset = static_cast<uint64_t>(written->data.data() - file.bytes().data());
        auto digest = digest_range(fd, offset, tensor.byte_size, buffer, &progress);
        if (!digest.ok()) {
            failure = mismatch(tensor, "output: " + digest.error().to_string());
            break;
        }
        digests.push_back(*digest);
    }
    ::close(fd);
    if (!failure.ok()) return std::move(failure).error();
    return digests;
}

result<void> compare_digests(const checkpoint& plan, const std::vector<xxh3_digest>& source,
                             const std::vector<xxh3_digest>& output) {
    for (std::size_t i = 0; i < plan.tensors.size(); ++i)
        if (i >= source.size() || i >= output.size() || source[i] != output[i])
            return mismatch(plan.tensors[i], "bytes read back differ from the source (XXH3-128)");
    return {};
}

}  // namespace stkit::convert::detail
