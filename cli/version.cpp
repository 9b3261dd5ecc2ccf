// `stkit version`: the version and the library versions it was built against, for bug reports.
#include <fmt/core.h>

#include "command.hpp"

namespace stkit::cli {
namespace {

command_registration version_command("version", 1000, [](CLI::App& app) -> command_runner {
    app.add_subcommand("version", "Print the stkit version");
    return [] {
        fmt::print("stkit {}\n", STKIT_VERSION);
        return exit_ok;
    };
});

}  // namespace
}  // namespace stkit::cli
