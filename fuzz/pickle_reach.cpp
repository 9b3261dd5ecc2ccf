// Fuzz target: the reachability interpreter (what the scanner runs on every buffer) over arbitrary
// bytes, with both readings, reading on and staged payloads. Whatever it is given, every offset it
// reports lies inside the data, every call names a recorded import, and the strict reading (the C
// unpickler on bytes) never imports what the lenient one does not.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <span>
#include <string>

#include "stkit/pickle/reach.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
    stkit::pickle::reach_options options;
    options.limits.max_total_bytes = uint64_t{64} << 20;
    options.limits.max_opcodes = 1'000'000;
    auto lenient = stkit::pickle::reach_analyse(bytes, options);
    for (const auto& seen : lenient.imports)
        if (seen.offset >= size) std::abort();
    for (const auto& call : lenient.calls)
        if (call.import_index >= lenient.imports.size() || call.offset >= size) std::abort();
    for (const auto& p : lenient.pickles)
        if (p.start >= size || p.end > size || p.end < p.start) std::abort();
    for (const auto& text : lenient.staged)
        if (text.offset >= size || text.bytes.size() > size) std::abort();
    if (lenient.limit) return 0;
    options.python_leniency = false;
    auto strict = stkit::pickle::reach_analyse(bytes, options);
    std::set<std::string> seen;
    for (const auto& i : lenient.imports) seen.insert(i.module + "." + i.name + (i.extension ? "!" : ""));
    for (const auto& i : strict.imports)
        if (!strict.limit && !seen.count(i.module + "." + i.name + (i.extension ? "!" : ""))) std::abort();
    return 0;
}
