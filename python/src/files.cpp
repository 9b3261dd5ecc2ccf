// stkit._stkit.File and stkit._stkit.Buffer: safetensors files and sharded checkpoints opened by
// the C++ reader, and the tensors' bytes as Python buffers.
//
// Memory. File.open maps the file copy-on-write (map_mode::copy_on_write): a tensor's Buffer points
// into that mapping, so it is writable, costs nothing until touched, and writes never reach the file.
// Every Buffer holds a reference to the open model, so the mapping lives as long as any of them (and
// so any array or tensor made from one). A tensor whose bytes are not aligned for its element type
// is copied instead, so frameworks never see a misaligned array.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "binding.hpp"
#include "stkit/format/report.hpp"
#include "stkit/format/safetensors.hpp"

namespace stkit::python {
namespace {

namespace fs = std::filesystem;

// An open file (mapped, or parsed from a copy of caller bytes) or sharded model.
struct open_model {
    std::optional<safetensors_file> single;
    std::optional<sharded_model> sharded;
    std::vector<std::byte> owned;  // from_bytes(): the copy `single` was parsed from
    std::string path;
};

struct located {
    const tensor_view* tensor;
    const safetensors_file* file;
};

// A span of bytes and what keeps it alive.
struct byte_buffer {
    std::shared_ptr<const void> owner;
    std::byte* data = nullptr;
    std::size_t size = 0;
};

class file_handle {
public:
    static file_handle open(const fs::path& path) {
        auto model = std::make_shared<open_model>();
        model->path = path.string();
        read_options options;
        options.map = map_mode::copy_on_write;
        {
            py::gil_scoped_release unlocked;
            if (is_shard_index_path(path)) {
                auto opened = sharded_model::open(path, options);
                if (!opened.ok()) raise(std::move(opened).error(), model->path);
                model->sharded.emplace(std::move(*opened));
            } else {
                auto opened = safetensors_file::open(path, options);
                if (!opened.ok()) raise(std::move(opened).error(), model->path);
                model->single.emplace(std::move(*opened));
            }
        }
        return file_handle(std::move(model));
    }

    static file_handle from_bytes(const py::buffer& data) {
        auto model = std::make_shared<open_model>();
        py::buffer_info view = data.request();
        if (view.ndim > 1 && !PyBuffer_IsContiguous(view.view(), 'C'))
            throw py::type_error("from_bytes() needs contiguous bytes");
        const auto size = static_cast<std::size_t>(view.size * view.itemsize);
        {
            py::gil_scoped_release unlocked;
            model->owned.resize(size);
            if (size) std::memcpy(model->owned.data(), view.ptr, size);
            auto parsed = safetensors_file::from_buffer(model->owned);
            if (!parsed.ok()) raise(std::move(parsed).error());
            model->single.emplace(std::move(*parsed));
        }
        return file_handle(std::move(model));
    }

    [[nodiscard]] std::vector<py::str> keys(bool file_order) const {
        std::vector<std::string_view> names;
        if (model_->single) {
            for (const tensor_view& t : model_->single->tensors()) names.push_back(t.name);
        } else {
            for (const sharded_tensor& t : model_->sharded->tensors()) names.push_back(t.tensor->name);
        }
        if (!file_order) std::sort(names.begin(), names.end());
        std::vector<py::str> out;
        out.reserve(names.size());
        for (std::string_view name : names) out.push_back(text(name));
        return out;
    }

    [[nodiscard]] py::object metadata() const {
        if (!model_->single || !model_->single->has_metadata()) return py::none();
        py::dict out;
        for (const auto& [key, value] : model_->single->metadata()) out[text(key)] = text(value);
        return out;
    }

    [[nodiscard]] py::object index_metadata() const {
        if (!model_->sharded || model_->sharded->index().metadata_json.empty()) return py::none();
        return text(model_->sharded->index().metadata_json);
    }

    [[nodiscard]] py::tuple info(const std::string& name) const {
        const tensor_view& t = *find(name).tensor;
        return py::make_tuple(std::string(dtype_name(t.type)), shape_of(t));
    }

    // (dtype name, shape, Buffer) for the whole tensor.
    [[nodiscard]] py::tuple tensor(const std::string& name) const {
        located where = find(name);
        const tensor_view& t = *where.tensor;
        byte_buffer buffer{model_, nullptr, static_cast<std::size_t>(t.byte_size())};
        std::span<std::byte> shared = where.file->tensor_writable(t);
        if (!model_->owned.empty()) {
            // from_bytes(): the views point into our own copy, which is writable.
            shared = {const_cast<std::byte*>(t.data.data()), t.data.size()};
        }
        const unsigned size = dtype_size(t.type);
        const std::size_t alignment = size == 0 ? 1 : std::min(size, 8u);
        if (!shared.empty() && reinterpret_cast<std::uintptr_t>(shared.data()) % alignment == 0) {
            buffer.data = shared.data();
        } else if (buffer.size != 0) {
            auto copy = std::make_shared<std::vector<std::byte>>();
            {
                py::gil_scoped_release unlocked;
                copy->resize(buffer.size);
                take(tensor_copy(t, *copy), file_of(where));
            }
            buffer.data = copy->data();
            buffer.owner = std::move(copy);
        }
        return py::make_tuple(std::string(dtype_name(t.type)), shape_of(t), std::move(buffer));
    }

    // (dtype name, shape, Buffer) for t[key], key as NumPy takes it: ints (negative from the end, the
    // dimension dropped), slices with positive steps, one `...`, missing trailing dimensions whole.
    [[nodiscard]] py::tuple slice(const std::string& name, const py::object& key) const {
        located where = find(name);
        const tensor_view& t = *where.tensor;
        std::vector<slice_range> ranges;
        py::list shape;
        parse_index(t, key, where, ranges, shape);
        auto copy = std::make_shared<std::vector<std::byte>>();
        {
            py::gil_scoped_release unlocked;
            const uint64_t size = take(tensor_slice_size(t, ranges), file_of(where));
            copy->resize(static_cast<std::size_t>(size));
            take(tensor_slice(t, ranges, *copy), file_of(where));
        }
        byte_buffer buffer{nullptr, copy->data(), copy->size()};
        buffer.owner = std::move(copy);
        return py::make_tuple(std::string(dtype_name(t.type)), py::tuple(shape), std::move(buffer));
    }

    [[nodiscard]] const std::string& path() const { return model_->path; }
    [[nodiscard]] bool sharded() const { return model_->sharded.has_value(); }
    [[nodiscard]] std::size_t size() const {
        return model_->single ? model_->single->tensor_count() : model_->sharded->tensor_count();
    }
    [[nodiscard]] bool contains(const std::string& name) const { return lookup(name).tensor != nullptr; }

private:
    explicit file_handle(std::shared_ptr<open_model> model) : model_(std::move(model)) {}

    [[nodiscard]] located lookup(std::string_view name) const {
        if (model_->single) return {model_->single->tensor_find(name), &*model_->single};
        const sharded_tensor* found = model_->sharded->tensor_find(name);
        if (!found) return {nullptr, nullptr};
        return {found->tensor, &model_->sharded->shards()[found->shard]};
    }

    [[nodiscard]] located find(const std::string& name) const {
        located where = lookup(name);
        if (!where.tensor) raise(make_error(error_code::st_tensor_not_found, {}, no_offset, name), model_->path);
        return where;
    }

    [[nodiscard]] std::string file_of(const located& where) const {
        return where.file->path().empty() ? model_->path : where.file->path().string();
    }

    static py::tuple shape_of(const tensor_view& t) {
        py::tuple shape(t.shape.size());
        for (std::size_t i = 0; i < t.shape.size(); ++i) shape[i] = py::int_(t.shape[i]);
        return shape;
    }

    void parse_index(const tensor_view& t, const py::object& key, const located& where,
                     std::vector<slice_range>& ranges, py::list& shape) const {
        auto fail = [&](error_code code, std::string detail) {
            raise(make_error(code, std::move(detail), no_offset, std::string(t.name)), file_of(where));
        };
        py::tuple items = py::isinstance<py::tuple>(key) ? py::reinterpret_borrow<py::tuple>(key)
                                                         : py::make_tuple(key);
        const std::size_t rank = t.shape.size();
        std::size_t ellipses = 0;
        for (py::handle item : items) ellipses += item.is(py::ellipsis()) ? 1 : 0;
        if (ellipses > 1) fail(error_code::invalid_argument, "an index can only have a single ellipsis ('...')");
        const std::size_t indexed = items.size() - ellipses;
        if (indexed > rank)
            fail(error_code::st_slice_rank_mismatch, "too many indices: the tensor has " + std::to_string(rank) +
                                                         " dimensions, " + std::to_string(indexed) + " were indexed");
        std::size_t d = 0;
        auto whole = [&](std::size_t count) {
            for (std::size_t i = 0; i < count; ++i, ++d) {
                ranges.push_back({0, t.shape[d], 1});
                shape.append(py::int_(t.shape[d]));
            }
        };
        for (py::handle item : items) {
            if (item.is(py::ellipsis())) {
                whole(rank - indexed);
                continue;
            }
            const auto extent = static_cast<Py_ssize_t>(t.shape[d]);
            if (PySlice_Check(item.ptr())) {
                Py_ssize_t start = 0, stop = 0, step = 0;
                if (PySlice_Unpack(item.ptr(), &start, &stop, &step) < 0) throw py::error_already_set();
                if (step < 0) fail(error_code::invalid_argument, "negative slice steps are not supported");
                const Py_ssize_t count = PySlice_AdjustIndices(extent, &start, &stop, step);
                stop = std::max(stop, start);
                ranges.push_back({static_cast<uint64_t>(start), static_cast<uint64_t>(stop), static_cast<uint64_t>(step)});
                shape.append(py::int_(count));
            } else if (!PyBool_Check(item.ptr()) && PyIndex_Check(item.ptr())) {
                Py_ssize_t index = PyNumber_AsSsize_t(item.ptr(), PyExc_IndexError);
                if (index == -1 && PyErr_Occurred()) throw py::error_already_set();
                if (index < -extent || index >= extent)
                    fail(error_code::st_slice_out_of_range, "index " + std::to_string(index) +
                                                                " is out of bounds for dimension " + std::to_string(d) +
                                                                " with size " + std::to_string(extent));
                if (index < 0) index += extent;
                ranges.push_back({static_cast<uint64_t>(index), static_cast<uint64_t>(index) + 1, 1});
            } else {
                throw py::type_error("only integers, slices (`:`) and ellipsis (`...`) are valid indices, not " +
                                     std::string(py::str(py::type::of(item).attr("__name__"))));
            }
            ++d;
        }
        whole(rank - d);
    }

    std::shared_ptr<open_model> model_;
};

}  // namespace

void bind_files(py::module_& m) {
    py::class_<byte_buffer>(m, "Buffer", py::buffer_protocol(),
                            "A tensor's bytes (writable, one dimension of unsigned bytes). It keeps the file "
                            "mapping or copy it points into alive.")
        .def_buffer([](byte_buffer& b) {
            static std::byte empty_bytes[1];
            return py::buffer_info(b.data ? b.data : empty_bytes, 1, py::format_descriptor<uint8_t>::format(), 1,
                                   {static_cast<py::ssize_t>(b.size)}, {1}, false);
        })
        .def("__len__", [](const byte_buffer& b) { return b.size; });

    py::class_<file_handle>(m, "File",
                            "A safetensors file (mapped copy-on-write) or a sharded checkpoint's index, opened "
                            "and validated by the C++ reader.")
        .def_static("open", &file_handle::open, py::arg("path"),
                    "Opens a .safetensors file, or a sharded model through its *.index.json.")
        .def_static("from_bytes", &file_handle::from_bytes, py::arg("data"),
                    "Parses a copy of the bytes of a safetensors file.")
        .def("keys", [](const file_handle& f) { return f.keys(false); }, "Tensor names, sorted.")
        .def("offset_keys", [](const file_handle& f) { return f.keys(true); },
             "Tensor names in file order (a sharded model: shard by shard).")
        .def("metadata", &file_handle::metadata, "The file's __metadata__ as a dict, or None.")
        .def("index_metadata", &file_handle::index_metadata,
             "A sharded model's index \"metadata\" as JSON text, or None.")
        .def("info", &file_handle::info, py::arg("name"), "(dtype name, shape) of a tensor.")
        .def("tensor", &file_handle::tensor, py::arg("name"), "(dtype name, shape, Buffer) of a whole tensor.")
        .def("slice", &file_handle::slice, py::arg("name"), py::arg("key"),
             "(dtype name, shape, Buffer) of tensor[key], copied out.")
        .def("__len__", &file_handle::size)
        .def("__contains__", &file_handle::contains)
        .def_property_readonly("path", &file_handle::path)
        .def_property_readonly("sharded", &file_handle::sharded);
}

}  // namespace stkit::python
