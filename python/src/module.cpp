// The native module stkit._stkit: its version and the translation of library errors.
#include "binding.hpp"

#include "stkit/convert/convert.hpp"

namespace stkit::python {

raised_error::raised_error(error e) : failure(std::move(e)), unsafe(convert::is_unsafe_refusal(failure.code)) {}

void raise(error failure, const std::string& file) {
    if (failure.file.empty()) failure.file = file;
    throw raised_error(std::move(failure));
}

namespace {

py::str checked(PyObject* decoded) {
    if (!decoded) throw py::error_already_set();
    return py::reinterpret_steal<py::str>(decoded);
}

}  // namespace

py::str text(std::string_view value) {
    return checked(PyUnicode_DecodeUTF8(value.data(), static_cast<Py_ssize_t>(value.size()), "backslashreplace"));
}

py::str path_text(const std::string& path) {
    return checked(PyUnicode_DecodeFSDefaultAndSize(path.data(), static_cast<Py_ssize_t>(path.size())));
}

void bind_errors(py::module_&) {
    py::register_exception_translator([](std::exception_ptr pending) {
        try {
            if (pending) std::rethrow_exception(pending);
        } catch (const raised_error& raised) {
            const error& e = raised.failure;
            // stkit._errors (pure Python) owns the exception classes; it is imported by the package
            // before this module, so the import below is a lookup.
            py::object make = py::module_::import("stkit._errors").attr("_from_native");
            py::object instance = make(
                text(e.to_string()), std::string(error_code_name(e.code)), std::string(error_message(e.code)),
                text(e.detail), e.has_offset() ? py::object(py::int_(e.offset)) : py::object(py::none()),
                e.name.empty() ? py::object(py::none()) : py::object(text(e.name)),
                e.file.empty() ? py::object(py::none()) : py::object(path_text(e.file)), raised.unsafe);
            PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(instance.ptr())), instance.ptr());
        }
    });
}

}  // namespace stkit::python

PYBIND11_MODULE(_stkit, m) {
    m.doc() = "stkit's native module: the C++ library with Python types. Use the stkit package.";
    m.attr("__version__") = STKIT_VERSION;
    stkit::python::bind_errors(m);
    stkit::python::bind_files(m);
    stkit::python::bind_writing(m);
    stkit::python::bind_tools(m);
}
