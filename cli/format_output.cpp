// See format_output.hpp. Not a command: it registers nothing.
#include "format_output.hpp"

#include <fmt/core.h>

namespace stkit::cli {

std::string printable(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7F) out += fmt::format("\\x{:02x}", byte);
        else out += c;
    }
    return out;
}

nlohmann::ordered_json error_to_json(const error& failure) {
    nlohmann::ordered_json out;
    out["code"] = std::string(error_code_name(failure.code));
    std::string message(error_message(failure.code));
    if (!failure.detail.empty()) message += " (" + failure.detail + ")";
    out["message"] = message;
    out["offset"] = failure.has_offset() ? nlohmann::ordered_json(failure.offset) : nlohmann::ordered_json();
    out["tensor"] = failure.name.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(failure.name);
    return out;
}

std::string dump_json(const nlohmann::ordered_json& document, int indent) {
    return document.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool is_io_error(const error& failure) {
    return failure.code == error_code::io_open_failed || failure.code == error_code::io_map_failed ||
           failure.code == error_code::io_read_failed;
}

}  // namespace stkit::cli
