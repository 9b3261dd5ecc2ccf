// python/src/binding.hpp — what the native module's files share: raising stkit errors as the
// package's exceptions, and one entry point per file that adds its names to the module.
//
// The native module (stkit._stkit) exposes the C++ API with Python types and nothing more; the
// package's pure-Python modules (python/stkit/) build the reference API on top of it.
#pragma once

#include <pybind11/pybind11.h>

#include <exception>
#include <string>
#include <utility>

#include "stkit/error.hpp"

namespace stkit::python {

namespace py = pybind11;

// A library error on its way to Python. The module's translator turns it into an instance of
// stkit.SafetensorError (or the subclass stkit._errors picks for its code), carrying code, message,
// detail, offset, name and file.
struct raised_error : std::exception {
    error failure;
    bool unsafe = false;  // convert::is_unsafe_refusal(code): raised as UnsafeCheckpointError
    explicit raised_error(error e);
    [[nodiscard]] const char* what() const noexcept override { return "stkit error"; }
};

// Raises `failure` (with `file` filled in when the error lacks one).
[[noreturn]] void raise(error failure, const std::string& file = {});

// The value of `r`, or raises its error.
template <class T>
T take(result<T>&& r, const std::string& file = {}) {
    if (!r.ok()) raise(std::move(r).error(), file);
    return std::move(r).value();
}
inline void take(result<void>&& r, const std::string& file = {}) {
    if (!r.ok()) raise(std::move(r).error(), file);
}

// Text from the library as a Python str: names from hostile files need not be UTF-8, so invalid
// bytes are kept as \xNN escapes; file paths decode as os.fsdecode does.
[[nodiscard]] py::str text(std::string_view value);
[[nodiscard]] py::str path_text(const std::string& path);

void bind_errors(py::module_& m);
void bind_files(py::module_& m);
void bind_writing(py::module_& m);
void bind_tools(py::module_& m);

}  // namespace stkit::python
