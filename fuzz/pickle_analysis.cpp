// Fuzz target: the pickle machine in analysis mode (what the scanner runs) on arbitrary bytes. It
// keeps going past anything not allowlisted, so more of the machine is reached than in restricted
// mode; the run, even one stopped early, must be internally consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "pickle/internal.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
    stkit::pickle::machine_options options;
    options.mode = stkit::pickle::machine_mode::analysis;
    options.limits.max_total_bytes = uint64_t{64} << 20;
    auto run = stkit::pickle::run_pickle(bytes, options);
    if (!run.ok()) return 0;
    if (!stkit::pickle::detail::run_is_consistent(*run) || run->opcode_count == 0) std::abort();
    if (!run->stopped_by && run->end_offset > size) std::abort();
    return 0;
}
