// stkit/convert/report.hpp — a conversion's outcome as a JSON document: what `stkit convert --json`
// prints and what the Python package's stkit.convert() returns (as a dict).
//
// Success (convert_report_json):
//   {"aliases": [{"alias", "kept"}], "non_tensors": [{"kind", "name", "value"}],
//    "model_classes": ["__main__.Net", "torch.nn.modules.linear.Linear"] (whole models; else []),
//    "outputs": [{"file_bytes", "path", "source", "tensor_bytes", "tensors"}],
//    "source_format", "tensor_bytes", "tensors_written", "unwrapped" (null when none), "verified"}
// Failure (convert_error_json):
//   {"error": {"code", "detail", "file", "message", "name", "offset" (null when unknown)},
//    "refused_unsafe": true when is_unsafe_refusal(code)}
// Keys are sorted and the text is indented by two spaces.
#pragma once

#include <string>

#include "stkit/convert/convert.hpp"
#include "stkit/error.hpp"

namespace stkit::convert {

[[nodiscard]] std::string convert_report_json(const convert_report& report);
[[nodiscard]] std::string convert_error_json(const error& failure);

}  // namespace stkit::convert
