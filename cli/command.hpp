// cli/command.hpp — how each `stkit` subcommand plugs into the executable.
//
// Each cli/<command>.cpp defines one static `command_registration`: its setup function adds a
// CLI11 subcommand to the app and returns the function that runs it once parsing is done. main.cpp
// knows no command by name, so commands are added without touching a shared file.
#pragma once

#include <functional>
#include <string_view>

#include <CLI/CLI.hpp>

namespace stkit::cli {

// Process exit codes shared by all commands.
inline constexpr int exit_ok = 0;
inline constexpr int exit_findings = 1;  // invalid file, refused as unsafe, findings at --fail-on
inline constexpr int exit_error = 2;     // malformed input, I/O error, usage error

using command_runner = std::function<int()>;
using command_setup = std::function<command_runner(CLI::App& app)>;

struct command_registration {
    // `order` sorts commands in --help.
    command_registration(std::string_view name, int order, command_setup setup);
};

}  // namespace stkit::cli
