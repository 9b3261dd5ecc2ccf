// Classification rules of the audit: model formats, families, LFS pointers, status, coverage,
// shards and the converter bot's fingerprints. docs/audit.md states each rule for readers.
#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>
#include <set>

#include "audit/internal.hpp"
#include "stkit/audit/audit.hpp"
#include "stkit/scan/scan.hpp"

namespace stkit {
namespace {

bool is_hex64(std::string_view text) noexcept {
    return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

std::string_view extension_of(std::string_view path) noexcept {
    std::size_t slash = path.rfind('/');
    std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
    std::size_t dot = name.rfind('.');
    return dot == std::string_view::npos ? std::string_view{} : name.substr(dot);
}

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool starts_with_nocase(std::string_view text, std::string_view prefix) noexcept {
    if (text.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
        if (lower(text[i]) != lower(prefix[i])) return false;
    return true;
}

}  // namespace

std::optional<lfs_pointer> parse_lfs_pointer(std::string_view text) noexcept {
    if (text.size() > lfs_pointer_max_bytes) return std::nullopt;
    constexpr std::string_view version_prefix = "version https://git-lfs.github.com/spec/";
    constexpr std::string_view version_prefix_new = "version https://hawser.github.com/spec/";
    if (!text.starts_with(version_prefix) && !text.starts_with(version_prefix_new)) return std::nullopt;
    lfs_pointer pointer;
    bool have_oid = false, have_size = false;
    std::string_view previous_key;
    bool first = true;
    while (!text.empty()) {
        std::size_t end = text.find('\n');
        // Every line, the last included, ends with LF.
        if (end == std::string_view::npos) return std::nullopt;
        std::string_view line = text.substr(0, end);
        text.remove_prefix(end + 1);
        std::size_t space = line.find(' ');
        if (space == std::string_view::npos || space == 0) return std::nullopt;
        std::string_view key = line.substr(0, space), value = line.substr(space + 1);
        // `version` comes first; the other keys follow in sorted order, each once.
        if (!first && (key == "version" || (!previous_key.empty() && key <= previous_key)))
            return std::nullopt;
        if (!first) previous_key = key;
        first = false;
        if (key == "oid") {
            if (!value.starts_with("sha256:") || !is_hex64(value.substr(7))) return std::nullopt;
            pointer.oid_sha256 = std::string(value.substr(7));
            have_oid = true;
        } else if (key == "size") {
            auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), pointer.size);
            if (ec != std::errc{} || ptr != value.data() + value.size() || value.empty()) return std::nullopt;
            if (value.size() > 1 && value[0] == '0') return std::nullopt;
            have_size = true;
        }
    }
    if (!have_oid || !have_size) return std::nullopt;
    return pointer;
}

std::string_view format_family_name(format_family family) noexcept {
    static constexpr std::array<std::string_view, format_family_count> names = {
        "safetensors", "torch.save", "pickle", "joblib", "numpy", "hdf5", "onnx", "gguf", "other"};
    return names[static_cast<std::size_t>(family)];
}

std::string_view audit_adopter_name(audit_adopter adopter) noexcept {
    switch (adopter) {
        case audit_adopter::developer: return "developer";
        case audit_adopter::converter_bot: return "converter-bot";
        case audit_adopter::stkit: return "stkit";
    }
    return "developer";
}

std::string_view repo_status_name(repo_status status) noexcept {
    switch (status) {
        case repo_status::safe: return "safe";
        case repo_status::mixed: return "mixed";
        case repo_status::unsafe: return "unsafe";
        case repo_status::no_model: return "no-model";
    }
    return "no-model";
}

repo_status audit_status(const std::vector<audit_file>& files) {
    bool any_safe = false, any_unsafe = false;
    for (const audit_file& file : files) (file.unsafe ? any_unsafe : any_safe) = true;
    if (!any_safe && !any_unsafe) return repo_status::no_model;
    if (!any_unsafe) return repo_status::safe;
    return any_safe ? repo_status::mixed : repo_status::unsafe;
}

namespace {

// Files that torch.save writes next to weights but that are not weights (Trainer checkpoints).
bool is_training_state(std::string_view name) noexcept {
    return name == "training_args.bin" || name == "optimizer.pt" || name == "optimizer.bin" ||
           name == "scheduler.pt" || name == "scaler.pt" || name.starts_with("rng_state");
}

// The safetensors name that would cover `name`.
std::string counterpart(std::string_view name) {
    constexpr std::string_view torch_prefix = "pytorch_model";
    std::string_view ext = extension_of(name);
    std::string_view stem = name.substr(0, name.size() - ext.size());
    // pytorch_model.bin -> model.safetensors; pytorch_model-00001-of-00002.bin -> model-00001-of-00002.
    if (ext == ".bin" && stem.starts_with(torch_prefix) &&
        (stem.size() == torch_prefix.size() || stem[torch_prefix.size()] == '-'))
        return "model" + std::string(stem.substr(torch_prefix.size())) + ".safetensors";
    return std::string(stem) + ".safetensors";
}

}  // namespace

bool audit_unsafe_covered(const std::vector<audit_file>& files) {
    std::set<std::string_view> safetensors;
    for (const audit_file& file : files)
        if (file.family == format_family::safetensors) safetensors.insert(file.path);
    for (const audit_file& file : files) {
        if (!file.unsafe) continue;
        std::string_view path = file.path;
        std::size_t slash = path.rfind('/');
        std::string_view folder = slash == std::string_view::npos ? "" : path.substr(0, slash + 1);
        std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
        if (is_training_state(name)) continue;
        if (!safetensors.contains(std::string(folder) + counterpart(name))) return false;
    }
    return true;
}

result<audit_shard> parse_audit_shard(std::string_view text) {
    auto bad = [&] { return make_error(error_code::audit_invalid_shard, std::string(text)); };
    std::size_t slash = text.find('/');
    if (slash == std::string_view::npos) return bad();
    audit_shard shard;
    auto parse = [](std::string_view part, uint32_t& out) {
        auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), out);
        return !part.empty() && ec == std::errc{} && ptr == part.data() + part.size();
    };
    if (!parse(text.substr(0, slash), shard.index) || !parse(text.substr(slash + 1), shard.count))
        return bad();
    if (shard.index < 1 || shard.index > shard.count || shard.count > 1'000'000) return bad();
    return shard;
}

bool audit_shard_contains(const audit_shard& shard, std::string_view repo) noexcept {
    // FNV-1a 64: stable across machines, compilers and library versions (unlike std::hash).
    uint64_t hash = 14695981039346656037ull;
    for (char c : repo) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 1099511628211ull;
    }
    return hash % shard.count == shard.index - 1u;
}

}  // namespace stkit

namespace stkit::detail {

bool audit_is_model_format(file_format format) noexcept {
    switch (format) {
        case file_format::unknown:
        case file_format::zip:
        case file_format::tar:
        case file_format::gzip:
        case file_format::sevenzip:
        case file_format::git_lfs_pointer: return false;
        default: return true;
    }
}

std::optional<file_format> audit_format_from_name(std::string_view path) noexcept {
    std::string ext(extension_of(path));
    std::transform(ext.begin(), ext.end(), ext.begin(), lower);
    if (ext == ".safetensors") return file_format::safetensors;
    if (ext == ".bin" || ext == ".pt" || ext == ".pth" || ext == ".ckpt") return file_format::torch_zip;
    if (ext == ".pkl" || ext == ".pickle") return file_format::pickle;
    if (ext == ".joblib") return file_format::joblib;
    if (ext == ".npy") return file_format::numpy_npy;
    if (ext == ".npz") return file_format::numpy_npz;
    if (ext == ".h5" || ext == ".hdf5") return file_format::hdf5;
    if (ext == ".keras") return file_format::keras_v3;
    if (ext == ".onnx") return file_format::onnx;
    if (ext == ".gguf") return file_format::gguf;
    if (ext == ".tflite") return file_format::tflite;
    return std::nullopt;
}

format_family audit_family_of(file_format format) noexcept {
    switch (format) {
        case file_format::safetensors:
        case file_format::safetensors_invalid: return format_family::safetensors;
        case file_format::torch_zip:
        case file_format::torch_legacy:
        case file_format::torch_tar:
        case file_format::torchscript: return format_family::torch_save;
        case file_format::pickle:
        case file_format::compressed_pickle: return format_family::pickle;
        case file_format::joblib: return format_family::joblib;
        case file_format::numpy_npy:
        case file_format::numpy_npz: return format_family::numpy;
        case file_format::hdf5:
        case file_format::keras_v3: return format_family::hdf5;
        case file_format::onnx: return format_family::onnx;
        case file_format::gguf: return format_family::gguf;
        default: return format_family::other;
    }
}

bool audit_format_runs_code(file_format format) noexcept {
    switch (format) {
        case file_format::torch_zip:
        case file_format::torch_legacy:
        case file_format::torch_tar:
        case file_format::torchscript:
        case file_format::pickle:
        case file_format::joblib:
        case file_format::compressed_pickle: return true;
        default: return false;
    }
}

void audit_set_format(audit_file& file, file_format format) {
    file.format = std::string(file_format_name(format));
    file.family = audit_family_of(format);
    file.unsafe = audit_format_runs_code(format);
}

void audit_set_verdict(audit_file& file, file_format format, std::string verdict) {
    // A finding counts whatever the format (the scan reads every file as each loader would: a
    // safetensors file that is also a pickle is dangerous); an unreadable file counts where the
    // format's own loader could act (fail closed), not where it cannot (a broken safetensors file).
    bool found = verdict == verdict_name(verdict::suspicious) || verdict == verdict_name(verdict::dangerous);
    bool unreadable = verdict == verdict_name(verdict::error);
    file.unsafe = audit_format_runs_code(format) || found || (unreadable && file_format_can_carry_code(format));
    file.verdict = std::move(verdict);
}

std::optional<audit_file> audit_classify(std::span<const std::byte> bytes, std::string_view path,
                                         std::span<const std::byte> releasable) {
    if (bytes.size() <= lfs_pointer_max_bytes) {
        std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        if (auto pointer = parse_lfs_pointer(text)) {
            auto guessed = audit_format_from_name(path);
            if (!guessed) return std::nullopt;
            audit_file file;
            file.path = std::string(path);
            audit_set_format(file, *guessed);
            audit_set_verdict(file, *guessed, "unknown");
            file.bytes = pointer->size;
            file.sha256 = pointer->oid_sha256;
            file.lfs_pointer = true;
            return file;
        }
    }
    detection found = detect_format(bytes, releasable);
    if (!audit_is_model_format(found.format)) return std::nullopt;
    audit_file file;
    file.path = std::string(path);
    audit_set_format(file, found.format);
    file.bytes = bytes.size();
    return file;
}

std::string audit_iso_time(int64_t seconds) {
    std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buffer[32];
    std::size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return std::string(buffer, n);
}

std::string audit_iso_day(int64_t seconds) { return audit_iso_time(seconds).substr(0, 10); }

namespace {

// The Hub conversion bot's account (docs/audit.md): its name exactly, or its e-mail (the domain part
// of an address is case-insensitive, and the Hub writes the local part in either case).
constexpr std::string_view bot_name = "SFconvertbot";
constexpr std::string_view bot_email = "SFconvertbot@users.noreply.huggingface.co";
constexpr std::string_view bot_title = "Adding `safetensors` variant of this model";

bool equal_nocase(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && starts_with_nocase(a, b);
}

bool is_bot(std::string_view name, std::string_view email) noexcept {
    return name == bot_name || equal_nocase(email, bot_email);
}

std::string_view trim(std::string_view text) noexcept {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
    return text;
}

// The value of a `Key: value` line when its key is `key` (case-insensitive), else nullopt.
std::optional<std::string_view> trailer_value(std::string_view line, std::string_view key) noexcept {
    if (!starts_with_nocase(line, key) || line.size() <= key.size() || line[key.size()] != ':') return std::nullopt;
    return trim(line.substr(key.size() + 1));
}

}  // namespace

audit_adopter audit_commit_adopter(std::string_view message, std::string_view author_name,
                                   std::string_view author_email) noexcept {
    bool bot = message.find(bot_title) != std::string_view::npos || is_bot(author_name, author_email);
    while (!message.empty()) {
        std::size_t end = message.find('\n');
        std::string_view line = message.substr(0, end);
        message = end == std::string_view::npos ? std::string_view{} : message.substr(end + 1);
        // `stkit convert --commit` writes the bot's title too; its own trailer decides.
        if (auto value = trailer_value(line, "Converted-by")) {
            if (*value == "stkit" || value->starts_with("stkit ")) return audit_adopter::stkit;
            continue;
        }
        // "Co-authored-by: Name <email>": the bot when the name or the e-mail is the bot's.
        auto value = trailer_value(line, "Co-authored-by");
        if (!value) continue;
        std::size_t open = value->find('<'), close = value->rfind('>');
        if (open == std::string_view::npos || close == std::string_view::npos || close < open) continue;
        if (is_bot(trim(value->substr(0, open)), value->substr(open + 1, close - open - 1))) bot = true;
    }
    return bot ? audit_adopter::converter_bot : audit_adopter::developer;
}

}  // namespace stkit::detail
