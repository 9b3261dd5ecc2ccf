// The JSON documents of code carriers (Keras config.json and .h5 model_config, skops schema.json),
// read with simdjson (not installed).
#pragma once

#include <simdjson.h>

#include <functional>
#include <string>
#include <string_view>

#include "scan/internal.hpp"

namespace stkit::detail {

// The string at `key`; empty when it is absent, null or not a string.
[[nodiscard]] std::string json_string_field(simdjson::dom::object object, std::string_view key);

// Parses `json` and calls `visit` for every object in it, a parent before its children. A document
// that does not parse is a `malformed` finding, one nested deeper than 256 levels a `limit` finding
// (both `suspicious`: the loader would not read what the scan could not), each naming `what`.
void for_each_json_object(scan_state& state, std::string_view json, const std::string& member, std::string_view what,
                          const std::function<void(simdjson::dom::object)>& visit);

}  // namespace stkit::detail
