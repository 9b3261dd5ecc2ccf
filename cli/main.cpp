// The stkit executable: parses the command line with CLI11 and runs the chosen subcommand.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "command.hpp"

#ifndef STKIT_VERSION
#define STKIT_VERSION "unknown"
#endif

namespace stkit::cli {
namespace {

struct registered_command {
    std::string name;
    int order;
    command_setup setup;
};

std::vector<registered_command>& registry() {
    static std::vector<registered_command> commands;
    return commands;
}

}  // namespace

command_registration::command_registration(std::string_view name, int order, command_setup setup) {
    registry().push_back({std::string(name), order, std::move(setup)});
}

}  // namespace stkit::cli

int main(int argc, char** argv) {
    using namespace stkit::cli;
    CLI::App app{"stkit: read, write, convert, scan and audit safetensors model files"};
    app.set_version_flag("--version", std::string("stkit ") + STKIT_VERSION);
    app.require_subcommand(1);
    app.fallthrough(false);

    auto& commands = registry();
    std::sort(commands.begin(), commands.end(),
              [](const registered_command& a, const registered_command& b) {
                  return a.order < b.order;
              });
    std::vector<std::pair<CLI::App*, command_runner>> runners;
    for (auto& command : commands) {
        std::size_t before = app.get_subcommands({}).size();
        command_runner runner = command.setup(app);
        auto subcommands = app.get_subcommands({});
        if (subcommands.size() == before + 1) runners.emplace_back(subcommands.back(), std::move(runner));
    }

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return exit_error;
    }
    for (auto& [subcommand, runner] : runners)
        if (subcommand->parsed()) return runner();
    return exit_error;
}
