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

void scan_archive(scan_state& state, std::span<const std::byte> bytes, const std::string& member,
                  unsigned depth, bool torch_tar) {
    archive_limits limits;
    limits.max_total_bytes = state.options.max_total_bytes - std::min(state.bytes_used, state.options.max_total_bytes);
    auto walked = archive_for_each(bytes, limits, [&](const archive_entry_info& info, std::span<const std::byte> data) {
        if (!state.charge(data.size(), join(member, info.name))) return false;
        std::string inner = join(member, info.name.empty() ? std::string_view("(gzip member)") : info.name);
        if (torch_tar && (info.name == "storages" || info.name == "pickle")) {
            // torch's tar layout interleaves pickles and raw storage bytes in these members.
            scan_pickle_stream(state, data, inner, depth + 1, true);
            return true;
        }
        scan_buffer(state, data, inner, depth + 1);
        return true;
    });
    if (!walked.ok()) {
        state.add(at_member(walked.error().code == error_code::decompressed_limit ? verdict::suspicious
                                                                                  : verdict::error,
                            "malformed-archive", "archive not fully read: " + walked.error().to_string(),
                            member));
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
    scan_pickle_stream(state, npy->data, member, depth + 1, false);
}

void scan_buffer(scan_state& state, std::span<const std::byte> bytes, const std::string& member,
                 unsigned depth, const detection* known) {
    if (depth > state.options.max_depth) {
        state.add(at_member(verdict::suspicious, "limit",
                            std::string(error_message(error_code::scan_depth_limit)) + ": content not scanned",
                            member));
        return;
    }
    std::vector<std::byte> inner;
    uint64_t budget = state.options.max_total_bytes - std::min(state.bytes_used, state.options.max_total_bytes);
    std::optional<error> inflate_error;
    detection found = known ? *known : detect_with(bytes, budget, &inner, &inflate_error);
    if (inflate_error) {
        bool limit = inflate_error->code == error_code::decompressed_limit;
        state.add(at_member(verdict::suspicious, limit ? "limit" : "malformed",
                            limit ? std::string(error_message(error_code::scan_size_limit)) +
                                        ": compressed content not inflated"
                                  : "compressed content could not be inflated: " + inflate_error->to_string(),
                            member));
    }
    if (!inner.empty() && !state.charge(inner.size(), member)) return;
    std::span<const std::byte> view = inner.empty() ? bytes : std::span<const std::byte>(inner);
    if (depth > 0 && found.format != file_format::unknown)
        state.add(at_member(verdict::safe, "member", std::string(file_format_name(found.format)) + ": " + found.detail,
                            member));
    switch (found.format) {
        case file_format::unknown:
        case file_format::safetensors:
        case file_format::onnx:
        case file_format::tflite:
        case file_format::tf_savedmodel:
        case file_format::git_lfs_pointer: return;  // cannot carry code
        case file_format::safetensors_invalid:
            state.add(at_member(verdict::error, "malformed", found.detail, member));
            return;
        case file_format::pickle:
        case file_format::compressed_pickle:
        case file_format::joblib: scan_pickle_stream(state, view, member, depth, false); return;
        case file_format::torch_legacy: scan_pickle_stream(state, view, member, depth, true); return;
        case file_format::torch_zip:
        case file_format::torchscript:
        case file_format::keras_v3:
        case file_format::skops:
        case file_format::numpy_npz:
        case file_format::zip: scan_zip(state, view, member, depth); return;
        case file_format::numpy_npy: scan_npy(state, view, member, depth); return;
        case file_format::hdf5: scan_hdf5(state, view, member); return;
        case file_format::gguf: scan_gguf(state, view, member); return;
        case file_format::tar:
        case file_format::gzip:
        case file_format::sevenzip:
        case file_format::torch_tar:
            scan_archive(state, view, member, depth, found.format == file_format::torch_tar);
            return;
    }
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

file_report scan_bytes(std::span<const std::byte> bytes, std::string name, const scan_options& options) {
    file_report report;
    report.path = std::move(name);
    detail::scan_state state{options, report};
    std::vector<std::byte> inner;
    std::optional<error> inflate_error;
    report.format = detail::detect_with(bytes, options.max_total_bytes, &inner, &inflate_error);
    if (inflate_error) {
        // Detect again inside scan_buffer so the failure becomes a finding in one place.
        detail::scan_buffer(state, bytes, "", 0);
    } else if (!inner.empty()) {
        if (state.charge(inner.size(), "")) detail::scan_buffer(state, inner, "", 0, &report.format);
    } else {
        detail::scan_buffer(state, bytes, "", 0, &report.format);
    }
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
        // A SavedModel folder: saved_model.pb is a protobuf graph (no Python code); its variables
        // are tensors. Only the folder's .pb is checked here; callers walk other files themselves.
        file_report report;
        report.path = path.string();
        auto detected = detect_path(path);
        if (!detected.ok()) {
            report.overall = verdict::error;
            report.failure = detected.error();
            return report;
        }
        report.format = *detected;
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
    return scan_bytes(file->bytes(), path.string(), options);
}

}  // namespace stkit
