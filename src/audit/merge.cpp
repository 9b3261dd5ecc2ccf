// Reading audit JSON documents back and merging shard documents (`stkit audit merge`). Input is
// untrusted: every value is type-checked and an offending value is named by its JSON path.
#include <algorithm>
#include <set>
#include <simdjson.h>

#include "audit/internal.hpp"
#include "stkit/audit/report.hpp"

namespace stkit {
namespace {

using simdjson::dom::element;
using simdjson::dom::object;

error invalid(std::string where, std::string detail) {
    return make_error(error_code::audit_merge_invalid, std::move(detail), no_offset, std::move(where));
}

result<element> field(object obj, std::string_view key, const std::string& where) {
    element value;
    if (obj[key].get(value) != simdjson::SUCCESS) return invalid(where + "." + std::string(key), "missing");
    return value;
}

result<std::string> get_string(object obj, std::string_view key, const std::string& where) {
    STKIT_TRY(element value, field(obj, key, where));
    std::string_view text;
    if (value.get(text) != simdjson::SUCCESS) return invalid(where + "." + std::string(key), "not a string");
    return std::string(text);
}

result<std::optional<std::string>> get_optional_string(object obj, std::string_view key, const std::string& where) {
    STKIT_TRY(element value, field(obj, key, where));
    if (value.is_null()) return std::optional<std::string>{};
    std::string_view text;
    if (value.get(text) != simdjson::SUCCESS) return invalid(where + "." + std::string(key), "not a string or null");
    return std::optional<std::string>(std::string(text));
}

result<uint64_t> get_count(object obj, std::string_view key, const std::string& where) {
    STKIT_TRY(element value, field(obj, key, where));
    uint64_t number = 0;
    if (value.get(number) != simdjson::SUCCESS) return invalid(where + "." + std::string(key), "not a non-negative integer");
    return number;
}

result<bool> get_bool(object obj, std::string_view key, const std::string& where) {
    STKIT_TRY(element value, field(obj, key, where));
    bool flag = false;
    if (value.get(flag) != simdjson::SUCCESS) return invalid(where + "." + std::string(key), "not a boolean");
    return flag;
}

result<object> get_object(element value, const std::string& where) {
    object obj;
    if (value.get(obj) != simdjson::SUCCESS) return invalid(where, "not an object");
    return obj;
}

result<simdjson::dom::array> get_array(object obj, std::string_view key, const std::string& where) {
    STKIT_TRY(element value, field(obj, key, where));
    simdjson::dom::array items;
    if (value.get(items) != simdjson::SUCCESS) return invalid(where + "." + std::string(key), "not an array");
    return items;
}

// The file_format whose name is `name`, found by asking the scanner for every name it has.
std::optional<file_format> format_named(std::string_view name) {
    for (unsigned i = 0; i <= static_cast<unsigned>(file_format::git_lfs_pointer); ++i) {
        auto format = static_cast<file_format>(i);
        if (file_format_name(format) == name) return format;
    }
    return std::nullopt;
}

result<audit_file> parse_file(element value, const std::string& where) {
    STKIT_TRY(object obj, get_object(value, where));
    audit_file file;
    STKIT_TRY(file.path, get_string(obj, "path", where));
    STKIT_TRY(std::string format_name, get_string(obj, "format", where));
    auto format = format_named(format_name);
    if (!format) return invalid(where + ".format", "unknown format " + format_name);
    detail::audit_set_format(file, *format);
    STKIT_TRY(std::string verdict, get_string(obj, "verdict", where));
    detail::audit_set_verdict(file, *format, std::move(verdict));
    STKIT_TRY(file.bytes, get_count(obj, "bytes", where));
    STKIT_TRY(auto digest, get_optional_string(obj, "sha256", where));
    file.sha256 = digest.value_or("");
    STKIT_TRY(file.lfs_pointer, get_bool(obj, "lfs_pointer", where));
    return file;
}

// An integer or null; absent is allowed only for fields added after version 1 was published.
result<std::optional<int64_t>> get_optional_days(object obj, std::string_view key, const std::string& where,
                                                 bool required) {
    element value;
    if (obj[key].get(value) != simdjson::SUCCESS) {
        if (required) return invalid(where + "." + std::string(key), "missing");
        return std::optional<int64_t>{};
    }
    if (value.is_null()) return std::optional<int64_t>{};
    int64_t number = 0;
    if (value.get(number) != simdjson::SUCCESS) return invalid(where + "." + std::string(key), "not an integer");
    return std::optional<int64_t>(number);
}

std::optional<audit_adopter> adopter_named(std::string_view name) {
    for (std::size_t i = 0; i < audit_adopter_count; ++i)
        if (audit_adopter_name(static_cast<audit_adopter>(i)) == name) return static_cast<audit_adopter>(i);
    return std::nullopt;
}

result<audit_history> parse_history(object obj, const std::string& where) {
    audit_history h;
    STKIT_TRY(h.commits, get_count(obj, "commits", where));
    STKIT_TRY(h.first_model_commit, get_optional_string(obj, "first_model_commit", where));
    if (obj["first_model_date"].error() == simdjson::SUCCESS) {
        STKIT_TRY(h.first_model_date, get_optional_string(obj, "first_model_date", where));
    }
    STKIT_TRY(element adoption, field(obj, "first_safetensors_commit", where));
    if (!adoption.is_null()) {
        std::string at = where + ".first_safetensors_commit";
        STKIT_TRY(object a, get_object(adoption, at));
        audit_commit_ref ref;
        STKIT_TRY(ref.commit, get_string(a, "commit", at));
        STKIT_TRY(ref.date, get_string(a, "date", at));
        if (ref.date.size() < 7) return invalid(at + ".date", "not an ISO date");
        STKIT_TRY(ref.author, get_string(a, "author", at));
        STKIT_TRY(bool by_converter, get_bool(a, "by_converter", at));
        // Documents from before stkit conversions have neither adopted_by nor author_date.
        ref.adopted_by = by_converter ? audit_adopter::converter_bot : audit_adopter::developer;
        element adopted_by;
        if (a["adopted_by"].get(adopted_by) == simdjson::SUCCESS) {
            STKIT_TRY(std::string name, get_string(a, "adopted_by", at));
            auto known = adopter_named(name);
            if (!known) return invalid(at + ".adopted_by", "unknown adopter " + name);
            if ((*known == audit_adopter::converter_bot) != by_converter)
                return invalid(at + ".adopted_by", "does not match by_converter");
            ref.adopted_by = *known;
        }
        element converter;
        if (a["converter"].get(converter) == simdjson::SUCCESS) {
            STKIT_TRY(std::optional<std::string> tool, get_optional_string(a, "converter", at));
            std::optional<std::string> expected;
            if (ref.adopted_by != audit_adopter::developer) expected = std::string(audit_adopter_name(ref.adopted_by));
            if (tool != expected) return invalid(at + ".converter", "does not match adopted_by");
        }
        element author_date;
        if (a["author_date"].get(author_date) == simdjson::SUCCESS) {
            STKIT_TRY(ref.author_date, get_string(a, "author_date", at));
        }
        h.first_safetensors_commit = std::move(ref);
    }
    STKIT_TRY(h.days_to_safetensors, get_optional_days(obj, "days_to_safetensors", where, true));
    STKIT_TRY(h.days_from_first_model, get_optional_days(obj, "days_from_first_model", where, false));
    STKIT_TRY(h.unsafe_removed_after, get_bool(obj, "unsafe_removed_after", where));
    STKIT_TRY(element counts, field(obj, "safetensors_commits", where));
    STKIT_TRY(object c, get_object(counts, where + ".safetensors_commits"));
    STKIT_TRY(h.converter_commits, get_count(c, "converter", where + ".safetensors_commits"));
    STKIT_TRY(h.developer_commits, get_count(c, "developer", where + ".safetensors_commits"));
    if (c["stkit"].error() == simdjson::SUCCESS) {
        STKIT_TRY(h.stkit_commits, get_count(c, "stkit", where + ".safetensors_commits"));
    }
    element rows;
    if (obj["commit_files"].get(rows) == simdjson::SUCCESS) {
        simdjson::dom::array items;
        if (rows.get(items) != simdjson::SUCCESS) return invalid(where + ".commit_files", "not an array");
        for (element row : items) {
            std::string at = where + ".commit_files[]";
            STKIT_TRY(object r, get_object(row, at));
            audit_commit_files entry;
            STKIT_TRY(entry.commit, get_string(r, "commit", at));
            STKIT_TRY(entry.date, get_string(r, "date", at));
            STKIT_TRY(simdjson::dom::array files, get_array(r, "files", at));
            for (element f : files) {
                std::string_view text;
                if (f.get(text) != simdjson::SUCCESS) return invalid(at + ".files[]", "not a string");
                entry.files.emplace_back(text);
            }
            h.commit_files.push_back(std::move(entry));
        }
    }
    return h;
}

result<audit_repo> parse_repo(element value, const std::string& where) {
    STKIT_TRY(object obj, get_object(value, where));
    audit_repo repo;
    STKIT_TRY(repo.repo, get_string(obj, "repo", where));
    std::string at = where + "[" + repo.repo + "]";
    STKIT_TRY(repo.unsafe_covered, get_bool(obj, "unsafe_covered", at));
    STKIT_TRY(repo.git, get_bool(obj, "git", at));
    STKIT_TRY(repo.created, get_optional_string(obj, "created", at));
    if (repo.created && repo.created->size() < 7) return invalid(at + ".created", "not an ISO date");
    STKIT_TRY(simdjson::dom::array files, get_array(obj, "files", at));
    for (element f : files) {
        STKIT_TRY(audit_file file, parse_file(f, at + ".files[]"));
        repo.files.push_back(std::move(file));
    }
    // The status follows from the files; a document that says otherwise was edited or is corrupt.
    STKIT_TRY(std::string status, get_string(obj, "status", at));
    repo.status = audit_status(repo.files);
    if (status != repo_status_name(repo.status)) return invalid(at + ".status", "does not match the files");
    STKIT_TRY(element history, field(obj, "history", at));
    if (!history.is_null()) {
        STKIT_TRY(object h, get_object(history, at + ".history"));
        STKIT_TRY(repo.history, parse_history(h, at + ".history"));
    }
    STKIT_TRY(repo.failure, get_optional_string(obj, "error", at));
    return repo;
}

}  // namespace

result<audit_document> audit_json_parse(std::string_view text) {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(text);
    element root;
    if (auto code = parser.parse(padded).get(root); code != simdjson::SUCCESS)
        return invalid("$", simdjson::error_message(code));
    STKIT_TRY(object top, get_object(root, "$"));
    audit_document document;
    STKIT_TRY(element audit, field(top, "audit", "$"));
    STKIT_TRY(object info, get_object(audit, "$.audit"));
    STKIT_TRY(std::string format, get_string(info, "format", "$.audit"));
    STKIT_TRY(uint64_t version, get_count(info, "version", "$.audit"));
    if (format != "stkit-audit" || version != 1) return invalid("$.audit", "not an stkit audit version 1 document");
    STKIT_TRY(document.info.history, get_bool(info, "history", "$.audit"));
    STKIT_TRY(auto shard, get_optional_string(info, "shard", "$.audit"));
    if (shard) {
        auto parsed = parse_audit_shard(*shard);
        if (!parsed.ok()) return invalid("$.audit.shard", *shard);
        document.info.shard = *parsed;
    }
    STKIT_TRY(simdjson::dom::array repos, get_array(top, "repos", "$"));
    for (element value : repos) {
        STKIT_TRY(audit_repo repo, parse_repo(value, "$.repos"));
        document.repos.push_back(std::move(repo));
    }
    return document;
}

result<audit_merge_result> audit_merge(std::vector<audit_document> inputs) {
    if (inputs.empty()) return invalid("", "nothing to merge");
    audit_merge_result out;
    out.merged.info.history = inputs.front().info.history;
    uint32_t count = inputs.front().info.shard ? inputs.front().info.shard->count : 1;
    std::set<uint32_t> seen;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const audit_document_info& info = inputs[i].info;
        std::string which = "input " + std::to_string(i + 1);
        if (info.history != out.merged.info.history) return invalid(which, "history setting differs from input 1");
        uint32_t this_count = info.shard ? info.shard->count : 1;
        uint32_t index = info.shard ? info.shard->index : 1;
        if (this_count != count) return invalid(which, "shard count differs from input 1");
        if (!seen.insert(index).second) return invalid(which, "shard " + std::to_string(index) + " given twice");
        for (audit_repo& repo : inputs[i].repos) {
            if (info.shard && !audit_shard_contains(*info.shard, repo.repo))
                return invalid(repo.repo, which + ": repository does not belong to its shard");
            out.merged.repos.push_back(std::move(repo));
        }
    }
    for (uint32_t k = 1; k <= count; ++k)
        if (!seen.contains(k)) out.missing_shards.push_back(k);
    auto& repos = out.merged.repos;
    std::sort(repos.begin(), repos.end(), [](const audit_repo& a, const audit_repo& b) { return a.repo < b.repo; });
    for (std::size_t i = 1; i < repos.size(); ++i)
        if (repos[i].repo == repos[i - 1].repo) return invalid(repos[i].repo, "repository appears twice");
    return out;
}

}  // namespace stkit
