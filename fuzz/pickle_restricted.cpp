// Fuzz target: the restricted pickle machine (what the converter runs) on arbitrary bytes, plain and
// as a whole model. It must return a result, never crash; a successful run must be internally
// consistent and end in the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "pickle/internal.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
    stkit::pickle::machine_options options;
    options.limits.max_total_bytes = uint64_t{64} << 20;
    for (bool whole_model : {false, true}) {
        options.whole_model = whole_model;
        auto run = stkit::pickle::run_pickle(bytes, options);
        if (!run.ok()) continue;
        if (!stkit::pickle::detail::run_is_consistent(*run) || run->end_offset > size) std::abort();
        for (const auto& seen : run->events)
            if (seen.kind != stkit::pickle::event_kind::import) std::abort();
    }
    return 0;
}
