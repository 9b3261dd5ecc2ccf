// Uses the public API through stkit::stkit only; exits 0 when everything it checks holds.
#include <stkit/error.hpp>
#include <stkit/format/dtype.hpp>

#include <cstdio>

int main() {
    auto type = stkit::dtype_from_name("BF16");
    if (!type || stkit::dtype_bits(*type) != 16) return 1;
    if (stkit::error_message(stkit::error_code::st_header_too_large).empty()) return 1;
    std::puts("consumer ok");
    return 0;
}
