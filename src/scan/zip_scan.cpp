// Zips as PyTorch reads them: structural anomalies first (a second reader may see a different
// archive), then every member that can carry code, whatever its name.
//
// Speed: tensor records (torch's data/ folder) are only sniffed (their first bytes, zero-copy from
// the map), never read, CRC-checked or decompressed unless they look like something loadable.
// Every member that is scanned is read through zip_archive::read (CRC-checked) or, when stored,
// mapped and then CRC-checked.
#include "scan/internal.hpp"

#include <algorithm>
#include <iterator>

#include "stkit/containers/decompress.hpp"
#include "stkit/detail/cursor.hpp"
#include "stkit/pickle/reach.hpp"

namespace stkit::detail {
namespace {

finding zip_finding(verdict severity, std::string category, std::string message, std::string member,
                    uint64_t offset = no_offset) {
    finding f;
    f.severity = severity;
    f.category = std::move(category);
    f.message = std::move(message);
    f.member = std::move(member);
    f.offset = offset;
    return f;
}

std::string_view anomaly_name(zip_anomaly_kind kind) {
    switch (kind) {
        case zip_anomaly_kind::name_mismatch: return "local and central names differ";
        case zip_anomaly_kind::duplicate_name: return "duplicate member name";
        case zip_anomaly_kind::encrypted: return "encryption flag set";
        case zip_anomaly_kind::patch_data: return "patched-data flag set";
        case zip_anomaly_kind::strong_encryption: return "strong encryption flag set";
        case zip_anomaly_kind::unknown_flags: return "reserved flag bits set";
        case zip_anomaly_kind::local_header_differs: return "local header disagrees with the central directory";
        case zip_anomaly_kind::overlapping_members: return "members overlap";
        case zip_anomaly_kind::data_before_first: return "data before the first member";
        case zip_anomaly_kind::trailing_data: return "data after the end of the archive";
    }
    return "anomaly";
}

// Prepended or trailing bytes are common in benign self-extracting or concatenated files; the rest
// only make two readers see two different archives.
verdict anomaly_severity(zip_anomaly_kind kind) {
    return kind == zip_anomaly_kind::data_before_first || kind == zip_anomaly_kind::trailing_data
               ? verdict::suspicious
               : verdict::dangerous;
}

std::string_view inner_name(std::string_view name) {
    std::size_t slash = name.find('/');
    return slash == std::string_view::npos ? name : name.substr(slash + 1);
}

bool pickle_name(std::string_view name) { return name.ends_with("pkl") || name.ends_with(".pickle"); }

bool tensor_record(std::string_view name) { return inner_name(name).starts_with("data/"); }

bool pickle_format(file_format format) {
    return format == file_format::pickle || format == file_format::torch_legacy || format == file_format::joblib ||
           format == file_format::compressed_pickle;
}

// Could a loader that deserializes this tensor record get anything out of it? (A cheap filter:
// what passes is scanned in full.) The pickle reading runs over the whole record, which costs a
// few bytes on real tensor data: it stops at the first byte no unpickler accepts.
bool might_be_loadable(std::span<const std::byte> content) {
    std::span<const std::byte> head = content.first(std::min<std::size_t>(content.size(), 64));
    std::string_view text = as_text(head.first(std::min<std::size_t>(head.size(), 8)));
    if (text.starts_with("PK") || text.starts_with("\x93NUMPY") || text.starts_with("7z")) return true;
    if (detect_compression(head) != compression::none) return true;
    pickle::reach_options options;
    options.collect_staged = false;
    return pickle::reach_analyse(content, options).looks_like_pickle(content.size());
}

// A stored member's bytes, zero-copy, through the bounded cursor.
result<std::span<const std::byte>> stored_span(std::span<const std::byte> archive, const zip_member& m) {
    byte_cursor cursor(archive);
    if (m.data_offset > archive.size()) return make_error(error_code::truncated, "member data past the end", m.data_offset, m.name);
    STKIT_TRY_VOID(cursor.seek(static_cast<std::size_t>(m.data_offset)));
    if (m.compressed_size > cursor.remaining())
        return make_error(error_code::truncated, "member data past the end", m.data_offset, m.name);
    return cursor.take(static_cast<std::size_t>(m.compressed_size));
}

// Findings that only say bytes did not parse as what they started like.
bool only_noise(const finding& f) {
    static constexpr std::string_view noise[] = {"malformed-pickle", "malformed-archive", "malformed",
                                                 "trailing-data", "limit", "member"};
    return std::find(std::begin(noise), std::end(noise), f.category) != std::end(noise);
}

// A tensor record torch reads as raw storage bytes and never unpickles. Float data often starts
// like something else (0x80 and a byte of 5 or less is PROTO, 0x82 is EXT1, "PK" a zip...), so the
// record is scanned aside and reported only when it holds what can run code in a loader that does
// deserialize it: a named import, a call, an object array. Bytes that merely stop parsing are
// data, and so is an EXT opcode (it names nothing unless the loading process registered its code
// with copyreg), with the divergent frame readings that reach only such codes: one checkpoint in
// about 1,500 of random weights holds a record whose floats read as a FRAME too long and an EXT2.
// A hidden reading that imports a named global reports that global as a finding of its own.
void scan_tensor_record(scan_state& state, std::span<const std::byte> content, const std::string& name,
                        unsigned depth) {
    file_report aside;
    scan_state record{state.options, aside, state.bytes_used, state.torchscript};
    scan_buffer(record, content, name, depth + 1);
    state.bytes_used = record.bytes_used;
    auto data_only = [](const finding& f) {
        return only_noise(f) || f.category == "extension" || (f.category == "evasion" && f.module.empty());
    };
    if (std::all_of(aside.findings.begin(), aside.findings.end(), data_only)) return;
    state.add(zip_finding(verdict::dangerous, "evasion",
                          "tensor record holds content that runs code when deserialized", name, 0));
    for (finding& f : aside.findings) state.add(std::move(f));
}

}  // namespace

void scan_zip(scan_state& state, std::span<const std::byte> bytes, const std::string& member, unsigned depth) {
    auto opened = zip_archive::open(bytes);
    if (!opened.ok()) {
        state.add(zip_finding(verdict::error, "malformed-archive", "zip: " + opened.error().to_string(), member));
        return;
    }
    const zip_archive& zip = *opened;
    auto where = [&](std::string_view name) { return member.empty() ? std::string(name) : member + "/" + std::string(name); };
    for (const zip_anomaly& a : zip.anomalies()) {
        // Encryption is reported per member ("encrypted, not scanned"): it hides content from a
        // scanner, but no reader sees a different archive because of it.
        if (a.kind == zip_anomaly_kind::encrypted || a.kind == zip_anomaly_kind::strong_encryption) continue;
        state.add(zip_finding(anomaly_severity(a.kind), "evasion",
                              "zip: " + std::string(anomaly_name(a.kind)) + (a.detail.empty() ? "" : " (" + a.detail + ")"),
                              where(a.member), a.offset));
    }
    detection layout = detect_zip_layout(zip);
    bool torch = layout.format == file_format::torch_zip || layout.format == file_format::torchscript;
    bool saved_torchscript = state.torchscript;
    if (layout.format == file_format::torchscript) {
        state.torchscript = true;
        state.add(zip_finding(verdict::suspicious, "torchscript",
                              "TorchScript archive: torch.jit.load compiles and runs the code in its code/ folder",
                              member));
    }
    for (const zip_member& m : zip.members()) {
        if (m.name.ends_with('/') && m.uncompressed_size == 0) continue;
        std::string name = where(m.name);
        for (const std::string* written : {&m.name, &m.local_name})
            if (escapes_folder(*written)) {
                state.add(zip_finding(verdict::dangerous, "path-traversal",
                                      "member name '" + *written + "' writes outside the extraction folder", name,
                                      m.local_header_offset));
                break;
            }
        bool tensor = torch && tensor_record(m.name);
        std::vector<std::byte> owned;
        std::span<const std::byte> content;
        if (m.method == 0) {
            // Stored: the bytes torch would read, whatever the flags say (torch's reader ignores
            // the encryption flag).
            auto view = stored_span(bytes, m);
            if (!view.ok()) {
                state.add(zip_finding(verdict::error, "malformed-archive", "zip member: " + view.error().to_string(),
                                      name, m.data_offset));
                continue;
            }
            content = *view;
        }
        if (m.flags & 0x41u) {  // bit 0: encrypted; bit 6: strong encryption
            // Encrypted: unreadable without the password, so nothing can be claimed about it;
            // its CRC is the plaintext's and would only raise a false alarm. A reader that
            // ignores the flag gets the stored bytes, analysed as they are.
            state.add(zip_finding(verdict::suspicious, "encrypted", "encrypted, not scanned", name, m.data_offset));
            if (!content.empty()) scan_pickle_reach(state, content, name, depth + 1, false);
            continue;
        }
        // Tensor records are only sniffed unless they look like something loadable: a large
        // checkpoint's data is never read, CRC-checked or inflated for nothing.
        if (tensor && m.method == 0 && !might_be_loadable(content))
            continue;
        if (m.method == 0) {
            if (!tensor && zip_crc32(content) != m.crc32)
                state.add(zip_finding(verdict::dangerous, "evasion",
                                      "zip member CRC mismatch: readers that check it refuse the member, others load it",
                                      name, m.data_offset));
        } else {
            if (!state.charge(m.uncompressed_size, name)) break;
            auto read = zip.read(m);
            if (!read.ok()) {
                const error& e = read.error();
                bool crc = e.code == error_code::zip_crc_mismatch;
                state.add(zip_finding(crc ? verdict::dangerous : verdict::error, crc ? "evasion" : "malformed-archive",
                                      "zip member: " + e.to_string(), name, m.data_offset));
                continue;
            }
            owned = std::move(*read);
            content = owned;
        }
        std::string_view inner = inner_name(m.name);
        if (layout.format == file_format::keras_v3 && m.name == "config.json") {
            scan_keras_config(state, as_text(content), name);
            continue;
        }
        if (layout.format == file_format::skops && m.name == "schema.json") {
            scan_skops_schema(state, as_text(content), name);
            continue;
        }
        if (layout.format == file_format::torchscript && inner.starts_with("code/")) {
            scan_torchscript_code(state, as_text(content), name);
            continue;
        }
        if (tensor) {
            scan_tensor_record(state, content, name, depth);
            continue;
        }
        detection found = scan_buffer(state, content, name, depth + 1);
        if (torch && pickle_format(found.format) && !pickle_name(m.name))
            state.add(zip_finding(verdict::dangerous, "evasion",
                                  "member holds a pickle under a name that is not a pickle's", name, m.data_offset));
    }
    state.torchscript = saved_torchscript;
}

}  // namespace stkit::detail
