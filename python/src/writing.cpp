// stkit._stkit.write_file and write_bytes: tensors given as (name, dtype name, shape, buffer) written by
// the C++ writer, byte-identical to the reference serializer. The buffers are read with the GIL
// released, so they must not change while a write runs (as with the reference).
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <string>
#include <utility>
#include <vector>

#include "binding.hpp"
#include "stkit/format/writer.hpp"

namespace stkit::python {
namespace {

namespace fs = std::filesystem;

// Py_buffer views held for the length of a write, released with the GIL held.
class held_views {
public:
    explicit held_views(std::size_t count) { views_.reserve(count); }  // views_ must never move
    held_views(const held_views&) = delete;
    held_views& operator=(const held_views&) = delete;
    ~held_views() {
        for (Py_buffer& view : views_) PyBuffer_Release(&view);
    }

    std::span<const std::byte> hold(const py::handle& object, const std::string& name) {
        if (views_.size() == views_.capacity()) throw py::value_error("more tensors than announced");
        views_.emplace_back();
        if (PyObject_GetBuffer(object.ptr(), &views_.back(), PyBUF_C_CONTIGUOUS) != 0) {
            views_.pop_back();
            PyErr_Clear();
            throw py::type_error("tensor '" + name + "': data must be a C-contiguous buffer, not " +
                                 std::string(py::str(py::type::of(object).attr("__name__"))));
        }
        const Py_buffer& view = views_.back();
        return {static_cast<const std::byte*>(view.buf), static_cast<std::size_t>(view.len)};
    }

private:
    std::vector<Py_buffer> views_;
};

struct write_input {
    std::vector<tensor_bytes> tensors;
    std::vector<std::pair<std::string, std::string>> metadata;
    // metadata={} writes "__metadata__":{} as the reference does; None writes no "__metadata__".
    empty_metadata when_empty = empty_metadata::omitted;
};

write_input gather(const py::sequence& tensors, const py::object& metadata, held_views& views) {
    write_input input;
    input.tensors.reserve(tensors.size());
    for (py::handle entry : tensors) {
        py::tuple item(py::reinterpret_borrow<py::object>(entry));
        if (item.size() != 4) throw py::value_error("each tensor is (name, dtype, shape, data)");
        tensor_bytes tensor;
        tensor.name = item[0].cast<std::string>();
        auto dtype_text = item[1].cast<std::string>();
        auto type = dtype_from_name(dtype_text);
        if (!type)
            raise(make_error(error_code::invalid_argument, "unknown dtype '" + dtype_text + "'", no_offset, tensor.name));
        tensor.type = *type;
        tensor.shape = item[2].cast<std::vector<uint64_t>>();
        tensor.data = views.hold(item[3], tensor.name);
        input.tensors.push_back(std::move(tensor));
    }
    if (!metadata.is_none()) {
        input.when_empty = empty_metadata::written;
        for (auto [key, value] : metadata.cast<py::dict>()) {
            if (!py::isinstance<py::str>(key) || !py::isinstance<py::str>(value))
                throw py::type_error("metadata keys and values must be str, got " +
                                     std::string(py::str(py::type::of(key).attr("__name__"))) + ": " +
                                     std::string(py::str(py::type::of(value).attr("__name__"))));
            input.metadata.emplace_back(key.cast<std::string>(), value.cast<std::string>());
        }
    }
    return input;
}

uint64_t write_file_py(const fs::path& path, const py::sequence& tensors, const py::object& metadata) {
    held_views views(tensors.size());
    write_input input = gather(tensors, metadata, views);
    py::gil_scoped_release unlocked;
    return take(write_file(path, input.tensors, input.metadata, /*overwrite=*/true, input.when_empty), path.string());
}

py::bytes write_bytes_py(const py::sequence& tensors, const py::object& metadata) {
    held_views views(tensors.size());
    write_input input = gather(tensors, metadata, views);
    std::vector<std::byte> out;
    {
        py::gil_scoped_release unlocked;
        out = take(write_buffer(input.tensors, input.metadata, input.when_empty));
    }
    return py::bytes(reinterpret_cast<const char*>(out.data()), out.size());
}

}  // namespace

void bind_writing(py::module_& m) {
    m.def("write_file", &write_file_py, py::arg("path"), py::arg("tensors"), py::arg("metadata") = py::none(),
          "Writes tensors [(name, dtype name, shape, C-contiguous buffer)] and metadata {str: str} to path "
          "(a temporary file linked into place; an existing file is replaced). Returns the file's size.");
    m.def("write_bytes", &write_bytes_py, py::arg("tensors"), py::arg("metadata") = py::none(),
          "The bytes write_file would write, as bytes.");
}

}  // namespace stkit::python
