// Format detection by content (stkit/scan/detect.hpp). Order matters: formats with exact magic
// first, then wrappers (zip, tar, compression), then pickle (protocol 0/1 has no magic), then the
// protobuf checks, and last the zip whose directory is found only from the end (prepended data).
#include <algorithm>
#include <array>
#include <cstring>

#include "scan/internal.hpp"
#include "stkit/containers/archive.hpp"
#include "stkit/containers/decompress.hpp"
#include "stkit/containers/npy.hpp"
#include "stkit/detail/cursor.hpp"
#include "stkit/file.hpp"
#include "stkit/format/safetensors.hpp"
#include "stkit/pickle/reach.hpp"

namespace stkit {
namespace detail {
namespace {

bool starts_with(std::span<const std::byte> bytes, std::string_view magic, std::size_t at = 0) {
    return bytes.size() >= at + magic.size() && as_text(bytes.subspan(at, magic.size())) == magic;
}

constexpr std::string_view hdf5_magic{"\x89HDF\r\n\x1a\n", 8};
constexpr std::string_view lfs_magic = "version https://git-lfs.github.com/spec/v1\n";
// torch's legacy files start with pickle.dump(MAGIC_NUMBER): PROTO n, LONG1 10 bytes, STOP.
constexpr std::array<uint8_t, 13> legacy_magic_tail = {0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                                       0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
// Opcodes the format label may look at for a pickle without PROTO: past this it is called a pickle.
constexpr uint64_t sniff_opcodes = 10'000;

// HDF5's superblock may sit at 0, 512, 1024, 2048... (a user block before it).
std::optional<uint64_t> hdf5_offset(std::span<const std::byte> bytes) {
    for (uint64_t at = 0; at < bytes.size(); at = at == 0 ? 512 : at * 2) {
        if (starts_with(bytes, hdf5_magic, at)) return at;
        if (at > (uint64_t{1} << 40)) break;
    }
    return std::nullopt;
}

bool is_lfs_pointer(std::span<const std::byte> bytes) {
    if (bytes.size() > 1024 || !starts_with(bytes, lfs_magic)) return false;
    std::string_view text = as_text(bytes);
    return text.find("\noid sha256:") != std::string_view::npos &&
           text.find("\nsize ") != std::string_view::npos;
}

// safetensors is claimed only on the evidence its loader needs: the header length fits the file
// and the header is a JSON object. Then a broken rule is a broken safetensors file; anything else
// (a .mo catalogue whose 9th byte happens to be '{') is not safetensors at all.
std::optional<detection> detect_safetensors(std::span<const std::byte> bytes) {
    byte_cursor cursor(bytes);
    auto length = cursor.u64le();
    if (!length.ok() || *length > cursor.remaining()) return std::nullopt;
    auto parsed = safetensors_file::from_buffer(bytes);
    if (parsed.ok())
        return detection{file_format::safetensors,
                         "safetensors with " + std::to_string(parsed->tensors().size()) + " tensors"};
    const error& e = parsed.error();
    switch (e.code) {
        case error_code::st_file_too_small:
        case error_code::st_header_incomplete:
        case error_code::st_header_invalid_utf8:
        case error_code::st_header_invalid_json:
        case error_code::st_header_not_object: return std::nullopt;
        default: break;
    }
    std::string detail = "safetensors: " + std::string(error_code_name(e.code));
    if (e.has_offset()) detail += " at byte " + std::to_string(e.offset);
    if (!e.detail.empty()) detail += " (" + e.detail + ")";
    return detection{file_format::safetensors_invalid, detail};
}

// A tar by its ustar magic; torch's oldest layout has members "sys_info", "pickle", "storages",
// "tensors".
std::optional<detection> detect_tar(std::span<const std::byte> bytes) {
    if (!starts_with(bytes, "ustar", 257)) return std::nullopt;
    bool pickle = false, storages = false;
    archive_limits limits;
    limits.headers_only = true;
    (void)archive_for_each(bytes, limits, [&](const archive_entry_info& info, std::span<const std::byte>) {
        pickle = pickle || info.name == "pickle";
        storages = storages || info.name == "storages";
        return true;
    });
    if (pickle && storages) return detection{file_format::torch_tar, "torch.save tar layout"};
    return detection{file_format::tar, "tar archive"};
}

// A pickle stream by how an unpickler runs it. Protocols 2–5 start with PROTO; protocols 0 and 1
// have no magic, so the first load is run (briefly): it is a pickle when it reaches STOP or an
// import. This only names the format: the verdict comes from the full analysis, run on every
// buffer whatever its name.
std::optional<detection> detect_pickle(std::span<const std::byte> bytes, std::span<const std::byte> releasable) {
    if (bytes.size() < 2) return std::nullopt;
    bool proto = static_cast<uint8_t>(bytes[0]) == 0x80 && static_cast<uint8_t>(bytes[1]) <= 5;
    int protocol = proto ? static_cast<uint8_t>(bytes[1]) : 0;
    if (!proto) {
        pickle::reach_options options;
        options.read_on = false;
        options.collect_staged = false;
        options.limits.max_opcodes = sniff_opcodes;
        options.releasable = releasable;
        pickle::reach_result run = pickle::reach_analyse(bytes, options);
        bool long_enough = run.limit && run.limit->code == error_code::pk_opcode_limit;
        if (!run.looks_like_pickle(bytes.size()) && !long_enough) return std::nullopt;
        protocol = run.pickles.empty() ? 0 : run.pickles.front().protocol;
    }
    std::string description = "pickle protocol " + std::to_string(protocol) + (proto ? "" : " (no PROTO opcode)");
    if (proto && bytes.size() >= 2 + legacy_magic_tail.size() &&
        std::memcmp(bytes.data() + 2, legacy_magic_tail.data(), legacy_magic_tail.size()) == 0)
        return detection{file_format::torch_legacy, "torch.save legacy layout, " + description};
    std::string_view head = as_text(bytes.first(std::min<std::size_t>(bytes.size(), 16u << 20)));
    if (head.find("joblib.numpy_pickle") != std::string_view::npos && head.find("NumpyArrayWrapper") != std::string_view::npos)
        return detection{file_format::joblib, "joblib, " + description};
    return detection{file_format::pickle, description};
}

}  // namespace

detection detect_zip_layout(const zip_archive& zip) {
    bool data_pkl = false, torchscript = false, config = false, schema = false, all_npy = true;
    for (const zip_member& m : zip.members()) {
        std::string_view name = m.name;
        std::size_t slash = name.find('/');
        std::string_view inner = slash == std::string_view::npos ? name : name.substr(slash + 1);
        data_pkl = data_pkl || inner == "data.pkl" || name == "data.pkl";
        torchscript = torchscript || inner == "constants.pkl" || inner.starts_with("code/");
        config = config || name == "config.json";
        schema = schema || name == "schema.json";
        all_npy = all_npy && name.ends_with(".npy");
    }
    std::string count = std::to_string(zip.members().size()) + " members";
    if (torchscript) return {file_format::torchscript, "TorchScript archive, " + count};
    if (data_pkl) return {file_format::torch_zip, "torch.save zip, " + count};
    if (schema) return {file_format::skops, "skops archive, " + count};
    // Keras 3 writes config.json, metadata.json and model.weights.h5; the config alone is loaded.
    if (config) return {file_format::keras_v3, "Keras 3 archive, " + count};
    if (all_npy && !zip.members().empty()) return {file_format::numpy_npz, "npz, " + count};
    return {file_format::zip, "zip archive, " + count};
}

detection detect_with(std::span<const std::byte> bytes, uint64_t max_inflate,
                      std::vector<std::byte>* inner, std::optional<error>* inflate_error,
                      std::span<const std::byte> releasable) {
    if (bytes.empty()) return {file_format::unknown, "empty file"};
    if (is_lfs_pointer(bytes)) return {file_format::git_lfs_pointer, "Git LFS pointer"};
    if (bytes.size() >= 9 && static_cast<char>(bytes[8]) == '{')
        if (auto found = detect_safetensors(bytes)) return *found;
    if (starts_with(bytes, "PK\x03\x04") || starts_with(bytes, "PK\x05\x06")) {
        auto zip = zip_archive::open(bytes);
        if (zip.ok()) return detect_zip_layout(*zip);
        return {file_format::zip, "zip archive with an unreadable directory: " +
                                      std::string(error_code_name(zip.error().code))};
    }
    if (starts_with(bytes, "\x93NUMPY")) {
        auto npy = npy_parse(bytes);
        if (!npy.ok()) return {file_format::numpy_npy, "npy with an invalid header: " +
                                                           std::string(error_code_name(npy.error().code))};
        return {file_format::numpy_npy, npy->object ? "npy with object dtype (pickled data)"
                                                    : "npy " + npy->descr};
    }
    if (starts_with(bytes, hdf5_magic)) return {file_format::hdf5, "HDF5"};
    if (starts_with(bytes, "GGUF") && bytes.size() >= 8) {
        byte_cursor cursor(bytes.subspan(4, 4));
        auto version = cursor.u32le();
        if (version.ok() && *version >= 1 && *version <= 3)
            return {file_format::gguf, "GGUF version " + std::to_string(*version)};
    }
    if (starts_with(bytes, "TFL3", 4)) return {file_format::tflite, "TFLite flatbuffer"};
    if (starts_with(bytes, "7z\xbc\xaf\x27\x1c")) return {file_format::sevenzip, "7z archive"};
    if (auto tar = detect_tar(bytes)) return *tar;
    if (auto pickle = detect_pickle(bytes, releasable)) return *pickle;
    if (compression codec = detect_compression(bytes.first(std::min<std::size_t>(bytes.size(), 64)));
        codec != compression::none) {
        partial_decompression inflated = decompress_prefix(bytes, codec, max_inflate);
        std::string how = "compressed with " + std::string(compression_name(codec));
        // A magic number alone is not evidence (two bytes of text can look like a zlib header);
        // decoded output is, and so is a stream that decoded past the budget.
        bool decoded = !inflated.bytes.empty() ||
                       (inflated.failure && inflated.failure->code == error_code::decompressed_limit);
        if (decoded || codec == compression::gzip || codec == compression::xz) {
            std::span<const std::byte> view(inflated.bytes);
            detection found{codec == compression::gzip ? file_format::gzip : file_format::unknown, how};
            if (auto pickle = detect_pickle(view, {})) {
                found = pickle->format == file_format::joblib
                            ? detection{file_format::joblib, "joblib, " + how}
                            : detection{file_format::compressed_pickle, pickle->detail + ", " + how};
            } else if (starts_with(view, "ustar", 257)) {
                found = {file_format::tar, "tar archive, " + how};
            } else if (codec == compression::gzip) {
                found.detail = "gzip stream";
            }
            if (inflated.failure) {
                found.detail += " (" + std::string(error_code_name(inflated.failure->code)) + " after " +
                                std::to_string(inflated.bytes.size()) + " bytes)";
                if (inflate_error) *inflate_error = std::move(inflated.failure);
            }
            if (inner) *inner = std::move(inflated.bytes);
            return found;
        }
    }
    std::string onnx_detail;
    if (onnx_model_check(bytes, onnx_detail)) return {file_format::onnx, onnx_detail};
    if (savedmodel_check(bytes)) return {file_format::tf_savedmodel, "SavedModel protobuf"};
    if (auto at = hdf5_offset(bytes)) return {file_format::hdf5, "HDF5 after a " + std::to_string(*at) + "-byte user block"};
    // A zip found from its end: data prepended to an archive still loads with most readers.
    if (auto zip = zip_archive::open(bytes); zip.ok()) {
        detection found = detect_zip_layout(*zip);
        found.detail += ", with data before the first member";
        return found;
    }
    return {file_format::unknown, "unrecognised content"};
}

}  // namespace detail

std::string_view file_format_name(file_format format) noexcept {
    switch (format) {
        case file_format::unknown: return "unknown";
        case file_format::safetensors: return "safetensors";
        case file_format::safetensors_invalid: return "safetensors-invalid";
        case file_format::torch_zip: return "torch-zip";
        case file_format::torch_legacy: return "torch-legacy";
        case file_format::torch_tar: return "torch-tar";
        case file_format::torchscript: return "torchscript";
        case file_format::pickle: return "pickle";
        case file_format::joblib: return "joblib";
        case file_format::numpy_npy: return "npy";
        case file_format::numpy_npz: return "npz";
        case file_format::hdf5: return "hdf5";
        case file_format::keras_v3: return "keras";
        case file_format::skops: return "skops";
        case file_format::onnx: return "onnx";
        case file_format::gguf: return "gguf";
        case file_format::tf_savedmodel: return "tf-savedmodel";
        case file_format::tflite: return "tflite";
        case file_format::zip: return "zip";
        case file_format::tar: return "tar";
        case file_format::gzip: return "gzip";
        case file_format::sevenzip: return "7z";
        case file_format::compressed_pickle: return "compressed-pickle";
        case file_format::git_lfs_pointer: return "git-lfs-pointer";
    }
    return "unknown";
}

bool file_format_can_carry_code(file_format format) noexcept {
    switch (format) {
        case file_format::torch_zip:
        case file_format::torch_legacy:
        case file_format::torch_tar:
        case file_format::torchscript:
        case file_format::pickle:
        case file_format::joblib:
        case file_format::hdf5:      // Keras .h5 Lambda layers
        case file_format::keras_v3:  // Lambda layers, registered objects
        case file_format::skops:     // imports the types its schema names
        case file_format::gguf:      // chat templates, rendered unsandboxed by some loaders
        case file_format::compressed_pickle:
        case file_format::numpy_npy:  // object arrays
        case file_format::numpy_npz:
        case file_format::zip:  // members can be anything
        case file_format::tar:
        case file_format::gzip:
        case file_format::sevenzip:
        case file_format::onnx:           // external data anywhere on disk, custom operators
        case file_format::tf_savedmodel: return true;  // ops that call Python or open files
        default: return false;
    }
}

detection detect_format(std::span<const std::byte> bytes, std::span<const std::byte> releasable) {
    return detail::detect_with(bytes, uint64_t{1} << 30, nullptr, nullptr, releasable);
}

result<detection> detect_path(const std::filesystem::path& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        if (std::filesystem::is_regular_file(path / "saved_model.pb", ec))
            return detection{file_format::tf_savedmodel, "SavedModel folder"};
        return make_error(error_code::io_open_failed, "a folder without saved_model.pb", no_offset,
                          path.string());
    }
    STKIT_TRY(mapped_file file, mapped_file::open(path));
    return detect_format(file.bytes(), file.bytes());
}

}  // namespace stkit
