// A conversion's JSON document. See stkit/convert/report.hpp.
#include "stkit/convert/report.hpp"

#include <nlohmann/json.hpp>

namespace stkit::convert {

std::string convert_report_json(const convert_report& report) {
    nlohmann::json out = {{"source_format", report.source_format},
                          {"tensors_written", report.tensors_written},
                          {"tensor_bytes", report.tensor_bytes},
                          {"verified", report.verified},
                          {"unwrapped", report.unwrapped.empty() ? nlohmann::json(nullptr)
                                                                 : nlohmann::json(report.unwrapped)}};
    out["outputs"] = nlohmann::json::array();
    for (const auto& file : report.outputs)
        out["outputs"].push_back({{"path", file.path.string()}, {"source", file.source.string()},
                                  {"tensors", file.tensors}, {"tensor_bytes", file.tensor_bytes},
                                  {"file_bytes", file.file_bytes}});
    out["model_classes"] = report.model_classes;
    out["aliases"] = nlohmann::json::array();
    for (const auto& alias : report.aliases)
        out["aliases"].push_back({{"alias", alias.alias}, {"kept", alias.kept}});
    out["non_tensors"] = nlohmann::json::array();
    for (const auto& entry : report.non_tensors)
        out["non_tensors"].push_back(
            {{"name", entry.name}, {"kind", entry.kind}, {"value", entry.value}});
    return out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string convert_error_json(const error& failure) {
    nlohmann::json out = {{"refused_unsafe", is_unsafe_refusal(failure.code)},
                          {"error", {{"code", error_code_name(failure.code)},
                                     {"message", error_message(failure.code)},
                                     {"detail", failure.detail},
                                     {"file", failure.file},
                                     {"name", failure.name}}}};
    out["error"]["offset"] = failure.has_offset() ? nlohmann::json(failure.offset) : nlohmann::json(nullptr);
    return out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace stkit::convert
