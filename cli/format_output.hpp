// cli/format_output.hpp — output helpers shared by `stkit inspect` and `stkit validate`.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "stkit/error.hpp"

namespace stkit::cli {

// Names come from hostile files: control bytes are shown as \xNN so they cannot drive the terminal.
std::string printable(std::string_view text);

// `{"code","message","offset","tensor"}` for --json output; offset and tensor are null when unknown.
nlohmann::ordered_json error_to_json(const error& failure);

// Text for a JSON dump that tolerates invalid UTF-8 in names (replaced, not thrown on).
std::string dump_json(const nlohmann::ordered_json& document, int indent = -1);

// Whether the error means the input could not be opened or read at all (exit code 2).
bool is_io_error(const error& failure);

}  // namespace stkit::cli
