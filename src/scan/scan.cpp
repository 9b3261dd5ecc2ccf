// The scanner's dispatch: detect each buffer, then scan it the way its loader would read it.
// Containers recurse with a depth and byte budget (scan_options).
#include "stkit/scan/scan.hpp"

#include <algorithm>

#include "scan/internal.hpp"
#include "stkit/containers/archive.hpp"
#include "stkit/containers/npy.hpp"
#include "stkit/file.hpp"

namespace stkit {
namespace detail {
namespace {

finding at_member(verdict severity, std::string category, std::string message, const std::string& member,
                  uint64_t offset = no_offset) {
    finding f;
    f.severity = severity;
    f.category = std::move(category);
    f.message = std::move(message);
    f.member = member;
    f.offset = offset;
    return f;
}

std::string join(const std::string& outer, std::string_view inner) {
    if (outer.empty()) return std::string(inner);
    return outer + "/" + std::string(inner);
}

// How many folders below the extraction folder `path` ends, starting `depth` deep; -1 when it
// climbs out on the way.
long folder_depth(std::string_view path, long depth) {
    while (!path.empty()) {
        std::size_t end = path.find_first_of("/\\");
        std::string_view part = path.substr(0, end);
        if (part == "..") {
            if (--depth < 0) return -1;
        } else if (!part.empty() && part != ".") {
            ++depth;
        }
        if (end == std::string_view::npos) break;
        path.remove_prefix(end + 1);
    }
    return depth;
}

// A symlink or hardlink target that leaves the folder its entry is extracted into. A hardlink
// names a path from the archive's root, a symlink one from its own folder.
bool link_escapes(const archive_entry_info& info) {
    std::string_view link = info.link;
    if (link.empty()) return false;
    if (link.front() == '/' || link.front() == '\\' || (link.size() >= 2 && link[1] == ':')) return true;
    long start = 0;
    if (info.kind == archive_entry_kind::symlink) {
        std::size_t slash = std::string_view(info.name).find_last_of("/\\");
        start = slash == std::string_view::npos ? 0 : folder_depth(std::string_view(info.name).substr(0, slash), 0);
        if (start < 0) return true;
    }
    return folder_depth(link, start) < 0;
}

void scan_archive(scan_state& state, std::span<const std::byte> bytes, const std::string& member,
                  unsigned depth, bool torch_tar) {
    archive_limits limits;
    limits.max_total_bytes = state.options.max_total_bytes - std::min(state.bytes_used, state.options.max_total_bytes);
    limits.every_entry = true;
    auto walked = archive_for_each(bytes, limits, [&](const archive_entry_info& info, std::span<const std::byte> data) {
        std::string inner = join(member, info.name.empty() ? std::string_view("(stream)") : info.name);
        if (escapes_folder(info.name))
            state.add(at_member(verdict::dangerous, "path-traversal",
                                "member name '" + info.name + "' writes outside the extraction folder", inner));
        if ((info.kind == archive_entry_kind::symlink || info.kind == archive_entry_kind::hardlink) && link_escapes(info))
            state.add(at_member(verdict::dangerous, "path-traversal",
                                std::string(info.kind == archive_entry_kind::symlink ? "symbolic" : "hard") +
                                    " link to '" + info.link + "' points outside the extraction folder",
                                inner));
        if (info.encrypted) {
            state.add(at_member(verdict::suspicious, "encrypted", "encrypted, not scanned", inner));
            return true;
        }
        if (!info.regular) return true;
        if (!state.charge(data.size(), inner)) return false;
        // torch's tar layout interleaves pickles and raw storage bytes in these members; the reach
        // analysis reads them as a stream of pickles either way.
        bool legacy = torch_tar && (info.name == "storages" || info.name == "pickle");
        if (legacy) scan_pickle_reach(state, data, inner, depth + 1, true);
        else scan_buffer(state, data, inner, depth + 1);
        return true;
    });
    if (!walked.ok()) {
        const error& e = walked.error();
        if (e.code == error_code::archive_encrypted)
            state.add(at_member(verdict::suspicious, "encrypted", "encrypted, not scanned: " + e.to_string(), member));
        else
            state.add(at_member(e.code == error_code::decompressed_limit ? verdict::suspicious : verdict::error,
                                e.code == error_code::decompressed_limit ? "limit" : "malformed-archive",
                                "archive not fully read: " + e.to_string(), member));
    }
}

}  // namespace

void scan_state::add(finding f) {
    if (f.severity > report.overall) report.overall = f.severity;
    report.findings.push_back(std::move(f));
}

bool scan_state::charge(uint64_t bytes, const std::string& member) {
    if (bytes > options.max_total_bytes || bytes_used > options.max_total_bytes - bytes) {
        add(at_member(verdict::suspicious, "limit",
                      std::string(error_message(error_code::scan_size_limit)) + ": not all content was scanned",
                      member));
        bytes_used = options.max_total_bytes;
        return false;
    }
    bytes_used += bytes;
    return true;
}

void scan_npy(scan_state& state, std::span<const std::byte> bytes, const std::string& member, unsigned depth) {
    auto npy = npy_parse(bytes);
    if (!npy.ok()) {
        state.add(at_member(verdict::error, "malformed", "npy: " + npy.error().to_string(), member));
        return;
    }
    if (!npy->object) return;
    state.add(at_member(verdict::suspicious, "object-array",
                        "object array: numpy.load(allow_pickle=True) unpickles its data", member,
                        npy->data_offset));
    scan_pickle_reach(state, npy->data, member, depth + 1, false);
}

bool escapes_folder(std::string_view path) noexcept {
    if (path.empty()) return false;
    if (path.front() == '/' || path.front() == '\\') return true;  // absolute, or \\server\share
    if (path.size() >= 2 && path[1] == ':') return true;             // C:, C:\\...
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t end = path.find_first_of("/\\", start);
        if (end == std::string_view::npos) end = path.size();
        if (path.substr(start, end - start) == "..") return true;
        start = end + 1;
    }
    return false;
}

detection scan_buffer(scan_state& state, std::span<const std::byte> bytes, const std::string& member,
                      unsigned depth, const detection* known) {
    if (depth > state.options.max_depth) {
        state.add(at_member(verdict::suspicious, "limit",
                            std::string(error_message(error_code::scan_depth_limit)) + ": content not scanned",
                            member));
        return {};
    }
    std::vector<std::byte> inner;
    uint64_t budget = state.options.max_total_bytes - std::min(state.bytes_used, state.options.max_total_bytes);
    std::optional<error> inflate_error;
    detection found = known ? *known : detect_with(bytes, budget, &inner, &inflate_error, state.file_map);
    if (depth > 0 && found.format != file_format::unknown)
        state.add(at_member(verdict::safe, "member", std::string(file_format_name(found.format)) + ": " + found.detail,
                            member));
    if (!inner.empty() || inflate_error) {
        // A compression wrapper: what it holds is scanned for what it is (a streaming loader gets
        // the prefix before a corrupt point, so that is scanned too).
        if (inflate_error) {
            bool limit = inflate_error->code == error_code::decompressed_limit;
            state.add(at_member(verdict::suspicious, limit ? "limit" : "malformed",
                                limit ? std::string(error_message(error_code::scan_size_limit)) +
                                            ": compressed content not fully inflated"
                                      : "compressed content could not be fully inflated: " + inflate_error->to_string(),
                                member));
        }
        if (!inner.empty() && state.charge(inner.size(), member)) scan_buffer(state, inner, member, depth + 1);
    } else {
        // What the format's own loader reads. Every enumerator is listed: a format added later
        // must be placed here, and none of these cases decides a verdict by itself.
        switch (found.format) {
            case file_format::unknown:
                // Frozen GraphDefs have no magic, and an ONNX model with a field detection does
                // not know still loads: both are looked for in what nobody identified.
                scan_tf_graph(state, bytes, member);
                scan_onnx(state, bytes, member);
                break;
            case file_format::onnx: scan_onnx(state, bytes, member); break;
            case file_format::tf_savedmodel: scan_tf_graph(state, bytes, member); break;
            case file_format::gguf: scan_gguf(state, bytes, member); break;
            case file_format::safetensors:
            case file_format::tflite:
            case file_format::git_lfs_pointer:
            case file_format::pickle:
            case file_format::joblib:
            case file_format::torch_legacy:
            case file_format::compressed_pickle:
            case file_format::gzip: break;
            case file_format::safetensors_invalid:
                state.add(at_member(verdict::error, "malformed", found.detail, member));
                break;
            case file_format::torch_zip:
            case file_format::torchscript:
            case file_format::keras_v3:
            case file_format::skops:
            case file_format::numpy_npz:
            case file_format::zip: scan_zip(state, bytes, member, depth); break;
            case file_format::numpy_npy: scan_npy(state, bytes, member, depth); break;
            case file_format::hdf5: scan_hdf5(state, bytes, member); break;
            case file_format::tar:
            case file_format::sevenzip:
            case file_format::torch_tar:
                scan_archive(state, bytes, member, depth, found.format == file_format::torch_tar);
                break;
        }
    }
    // What pickle.load, numpy.load(allow_pickle=True) or joblib.load would do with these bytes,
    // whatever they are called and whatever they looked like above.
    scan_pickle_reach(state, bytes, member, depth, found.format == file_format::torch_legacy);
    return found;
}

}  // namespace detail

std::string_view verdict_name(verdict value) noexcept {
    switch (value) {
        case verdict::safe: return "safe";
        case verdict::suspicious: return "suspicious";
        case verdict::dangerous: return "dangerous";
        case verdict::error: return "error";
    }
    return "error";
}

file_report scan_bytes(std::span<const std::byte> bytes, std::string name, const scan_options& options,
                       std::span<const std::byte> releasable) {
    file_report report;
    report.path = std::move(name);
    detail::scan_state state{options, report};
    state.file_map = releasable;
    report.format = detail::scan_buffer(state, bytes, "", 0);
    if (report.overall == verdict::error && !report.failure) {
        for (const finding& f : report.findings)
            if (f.severity == verdict::error) {
                report.failure = make_error(error_code::invalid_argument, f.message, f.offset, f.member);
                break;
            }
    }
    return report;
}

file_report scan_path(const std::filesystem::path& path, const scan_options& options) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        // A SavedModel folder: its graph, saved_model.pb, is scanned for ops; its variables are
        // tensors. Only the folder's .pb is scanned here; callers walk other files themselves.
        auto detected = detect_path(path);
        file_report report = detected.ok() ? scan_path(path / "saved_model.pb", options) : file_report{};
        report.path = path.string();
        if (!detected.ok()) {
            report.overall = verdict::error;
            report.failure = detected.error();
            return report;
        }
        report.format = *detected;
        for (finding& f : report.findings)
            if (f.member.empty()) f.member = "saved_model.pb";
        return report;
    }
    auto file = mapped_file::open(path);
    if (!file.ok()) {
        file_report report;
        report.path = path.string();
        report.overall = verdict::error;
        report.failure = std::move(file).error().in_file(path.string());
        return report;
    }
    file->advise_random();
    return scan_bytes(file->bytes(), path.string(), options, file->bytes());
}

}  // namespace stkit
