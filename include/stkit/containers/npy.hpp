// stkit/containers/npy.hpp — NumPy .npy headers (format versions 1.0, 2.0, 3.0).
//
// Layout: "\x93NUMPY", major, minor, header length (u16 LE for 1.0, u32 LE for 2.0/3.0), then a
// Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces
// and a newline so the data starts aligned, then the raw array data. The header is a Python literal,
// not JSON, so it is parsed here by hand (strictly: the three keys, literal values only).
#pragma once

#include <cstdint>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "stkit/error.hpp"
#include "stkit/format/dtype.hpp"

namespace stkit {

struct npy_array {
    int major_version = 1;
    std::string descr;            // as written: "<f4", "|b1", ">i8", "|O", or a structured descr
    bool fortran_order = false;
    std::vector<uint64_t> shape;
    bool object = false;          // descr contains 'O': needs pickle to load
    std::optional<dtype> type;    // the safetensors dtype, when there is one
    bool big_endian = false;      // data must be byte-swapped to become safetensors (little-endian)
    unsigned item_size = 0;       // bytes per element
    uint64_t data_offset = 0;     // offset of the data from the start of the file
    // Exactly shape × item_size bytes; for object arrays and dtypes of unknown item size (structured),
    // everything after the header (an object array's data is a pickle).
    std::span<const std::byte> data;
};

// Parses the header and locates the data. Errors: npy_invalid_magic, npy_unsupported_version,
// npy_invalid_header, npy_size_mismatch (data shorter or longer than shape × item size; object arrays
// are not size-checked), truncated. An object or unsupported dtype is *not* an error here: check
// `object` and `type` (the converter refuses with npy_object_array / npy_unsupported_dtype).
[[nodiscard]] result<npy_array> npy_parse(std::span<const std::byte> file);
// `data` is a view into the file's bytes: parsing a temporary buffer would leave it dangling.
result<npy_array> npy_parse(std::vector<std::byte>&& file) = delete;

}  // namespace stkit
