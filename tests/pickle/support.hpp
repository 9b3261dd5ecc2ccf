// Helpers for the pickle machine tests: fixtures generated once per build by fixtures.py (Debian's
// python3 with torch), file bytes, and a canonical rendering of the machine's object graph that
// fixtures.py's render() mirrors.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <unistd.h>
#include <vector>

#include "containers/fixtures.hpp"  // read_bytes, to_bytes
#include "stkit/pickle/allowlist.hpp"
#include "stkit/pickle/machine.hpp"

namespace stkit::test {

// The fixture folder, made once per version of fixtures.py: ctest runs each test case as its own
// process (possibly in parallel), so generation goes to a temporary folder renamed into place.
inline const fs::path& fixture_dir() {
    static const fs::path dir = [] {
        fs::path script = fs::path(STKIT_SOURCE_DIR) / "tests/pickle/fixtures.py";
        std::ifstream in(script);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        fs::path final_dir = fs::path(STKIT_PICKLE_FIXTURES) /
                             ("v" + std::to_string(std::hash<std::string>{}(text) & 0xffffffffu));
        if (fs::exists(final_dir / "manifest.json")) return final_dir;
        fs::path temporary = fs::path(STKIT_PICKLE_FIXTURES) / ("tmp" + std::to_string(::getpid()));
        fs::remove_all(temporary);
        fs::create_directories(temporary);
        std::string command = std::string(STKIT_PYTHON) + " '" + script.string() + "' '" +
                              temporary.string() + "'";
        if (std::system(command.c_str()) != 0) {
            ADD_FAILURE() << "fixtures.py failed";
            return temporary;
        }
        std::error_code ignored;
        fs::rename(temporary, final_dir, ignored);  // another process may have won the race
        fs::remove_all(temporary, ignored);
        return final_dir;
    }();
    return dir;
}

inline const nlohmann::json& manifest() {
    static const nlohmann::json parsed = [] {
        std::ifstream in(fixture_dir() / "manifest.json");
        return nlohmann::json::parse(in, nullptr, false);
    }();
    return parsed;
}

inline std::vector<std::byte> fixture(const std::string& name) { return read_bytes(fixture_dir() / name); }

inline std::string hex(std::string_view bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (char c : bytes) {
        out.push_back(digits[static_cast<uint8_t>(c) >> 4]);
        out.push_back(digits[static_cast<uint8_t>(c) & 15]);
    }
    return out;
}

// fixtures.py's render(). Calls of builtins.set/frozenset/bytearray/bytes (how protocols < 4 or
// < 5 spell those types) render as the value they make.
class renderer {
public:
    explicit renderer(const pickle::pickle_run& run) : run_(run) {}

    std::string operator()(pickle::node_id id) {
        using pickle::node_kind;
        const pickle::node& n = run_.nodes.at(id);
        switch (n.kind) {
            case node_kind::none: return "N";
            case node_kind::boolean: return n.integer ? "T" : "F";
            case node_kind::integer: return "i" + std::to_string(n.integer);
            case node_kind::big_integer: return "I" + hex(n.text);
            case node_kind::floating: {
                char raw[8];
                std::memcpy(raw, &n.floating, 8);
                return "f" + hex(std::string_view(raw, 8));
            }
            case node_kind::string: return "s" + hex(n.text);
            case node_kind::bytes: return "b" + hex(n.text);
            case node_kind::call: return call(n);
            case node_kind::global: return "G" + n.text + "." + n.name;
            default: break;
        }
        for (pickle::node_id open : path_)
            if (open == id) return "...";
        path_.push_back(id);
        std::string out;
        switch (n.kind) {
            case node_kind::tuple: out = "(" + join(n.items, 0, 1, ",") + ")"; break;
            case node_kind::list: out = "[" + join(n.items, 0, 1, ",") + "]"; break;
            case node_kind::set: out = "<" + join(n.items, 0, 1, ",") + ">"; break;
            case node_kind::frozenset: out = "F<" + join(n.items, 0, 1, ",") + ">"; break;
            case node_kind::dict: {
                out = "{";
                for (std::size_t i = 0; i + 1 < n.items.size(); i += 2) {
                    if (i) out += ",";
                    out += (*this)(n.items[i]) + ":" + (*this)(n.items[i + 1]);
                }
                out += "}";
                break;
            }
            default: out = "?kind" + std::to_string(static_cast<int>(n.kind));
        }
        path_.pop_back();
        return out;
    }

private:
    std::string join(const std::vector<pickle::node_id>& items, std::size_t from, std::size_t step,
                     const char* separator) {
        std::string out;
        for (std::size_t i = from; i < items.size(); i += step) {
            if (i != from) out += separator;
            out += (*this)(items[i]);
        }
        return out;
    }
    std::string call(const pickle::node& n) {
        const pickle::node& callee = run_.nodes.at(n.items.at(0));
        std::string name = callee.text + "." + callee.name;
        auto elements = [&](std::size_t index) -> std::vector<pickle::node_id> {
            if (n.items.size() <= index) return {};
            return run_.nodes.at(n.items[index]).items;
        };
        if (name == "builtins.set") return "<" + join(elements(1), 0, 1, ",") + ">";
        if (name == "builtins.frozenset") return "F<" + join(elements(1), 0, 1, ",") + ">";
        if (name == "builtins.bytes" && n.items.size() == 1) return "b";
        if (name == "builtins.bytearray") {
            if (n.items.size() == 1) return "b";
            const pickle::node& source = run_.nodes.at(n.items[1]);
            if (source.kind == pickle::node_kind::bytes) return "b" + hex(source.text);
            std::string latin1;  // (str, 'latin-1')
            for (std::size_t i = 0; i < source.text.size(); ++i) {
                auto c = static_cast<uint8_t>(source.text[i]);
                if (c < 0x80) latin1.push_back(static_cast<char>(c));
                else latin1.push_back(static_cast<char>(((c & 0x1f) << 6) | (source.text[++i] & 0x3f)));
            }
            return "b" + hex(latin1);
        }
        return "C(" + name + "," + join(n.items, 1, 1, ",") + ")";
    }

    const pickle::pickle_run& run_;
    std::vector<pickle::node_id> path_;
};

inline pickle::machine_options analysis_options() {
    pickle::machine_options options;
    options.mode = pickle::machine_mode::analysis;
    return options;
}

}  // namespace stkit::test
