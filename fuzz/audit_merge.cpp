// Fuzz target: the audit JSON reader used by `stkit audit merge`. Round trip: a document that
// parses is written again and must parse to the same repositories.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "stkit/audit/report.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto parsed = stkit::audit_json_parse(std::string_view(reinterpret_cast<const char*>(data), size));
    if (!parsed.ok()) return 0;
    std::string text = "{\"audit\": {\"format\":\"stkit-audit\",\"version\":1,\"history\":false,\"shard\":null},\"repos\":[";
    for (std::size_t i = 0; i < parsed->repos.size(); ++i)
        text += (i ? "," : "") + stkit::audit_repo_to_json(parsed->repos[i]);
    text += "],\"summary\":{}}";
    auto again = stkit::audit_json_parse(text);
    if (!again.ok() || again->repos.size() != parsed->repos.size()) std::abort();
    for (std::size_t i = 0; i < again->repos.size(); ++i)
        if (stkit::audit_repo_to_json(again->repos[i]) != stkit::audit_repo_to_json(parsed->repos[i])) std::abort();
    (void)stkit::audit_merge({std::move(*parsed), std::move(*again)});
    return 0;
}
