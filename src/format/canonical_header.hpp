// The fast path of the header parse: a header written the usual way, read straight from its bytes
// (not installed).
//
// Nearly every safetensors header is in one shape: a JSON object whose keys are plain names and
// whose values are {"dtype":"F32","shape":[2,2],"data_offsets":[0,16]} (and one "__metadata__"
// object of plain strings). A general JSON parser pays per value, and a header of 100,000 tensors
// is a million values; this matcher reads that shape at memory speed. It accepts a strict subset of
// JSON (after the caller has checked the whole header is UTF-8): no escapes or control characters
// in strings, integers without sign, fraction or exponent that fit 64 bits, each tensor's three
// keys once (in any order) and no others, JSON whitespace between tokens. Whatever it accepts is
// valid JSON, read exactly as the general path (simdjson) reads it; anything else makes it give up,
// and the caller reads the header with the general path, which decides whether it is valid and
// which rule it breaks. Hand-written because it is a matcher for one format's common case, not a
// JSON parser: it never reports an error of its own.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace stkit::detail {

// What the matcher hands over, entry by entry, in file order.
class canonical_header_visitor {
public:
    virtual ~canonical_header_visitor() = default;
    // One "__metadata__" entry (the object itself is reported by metadata_begin()).
    virtual void metadata_begin() = 0;
    virtual void metadata(std::string_view key, std::string_view value) = 0;
    // One tensor entry; `name` and `dtype` point into the header. False stops the match (a limit).
    virtual bool tensor(std::string_view name, std::string_view dtype, std::span<const uint64_t> shape,
                        uint64_t begin, uint64_t end) = 0;
};

// True when `header` is entirely in the usual shape (every entry was visited); false as soon as
// it is not, or the visitor stopped it (what was visited must then be discarded).
[[nodiscard]] bool read_canonical_header(std::string_view header, canonical_header_visitor& visitor);

}  // namespace stkit::detail
