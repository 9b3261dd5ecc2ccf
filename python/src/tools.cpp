// stkit._stkit.convert, scan and inspect: the library's conversion, scanner and inspect document,
// each returning the JSON text the stkit command prints (the package parses it into a dict).
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <optional>
#include <string>
#include <vector>

#include "binding.hpp"
#include "stkit/convert/convert.hpp"
#include "stkit/convert/report.hpp"
#include "stkit/format/report.hpp"
#include "stkit/scan/paths.hpp"
#include "stkit/scan/report.hpp"

namespace stkit::python {
namespace {

namespace fs = std::filesystem;

std::string convert_py(const fs::path& input, const std::optional<fs::path>& output, bool overwrite, bool verify) {
    convert::convert_options options;
    options.overwrite = overwrite;
    options.verify = verify;
    py::gil_scoped_release unlocked;
    auto done = convert::convert_path(input, output.value_or(fs::path()), options);
    return convert::convert_report_json(take(std::move(done), input.string()));
}

std::string scan_py(const std::vector<std::string>& paths, std::optional<uint64_t> max_bytes, unsigned jobs) {
    scan_options options;
    if (max_bytes) options.max_total_bytes = *max_bytes;
    py::gil_scoped_release unlocked;
    return scan_report_json(scan_paths(paths, options, jobs));
}

std::string inspect_py(const fs::path& path) {
    py::gil_scoped_release unlocked;
    return take(inspect_path_json(path), path.string());
}

}  // namespace

void bind_tools(py::module_& m) {
    m.def("convert", &convert_py, py::arg("path"), py::arg("output") = py::none(), py::arg("overwrite") = false,
          py::arg("verify") = true, "What `stkit convert PATH [-o OUTPUT] --json` prints on success.");
    m.def("scan", &scan_py, py::arg("paths"), py::arg("max_bytes") = py::none(), py::arg("jobs") = 1u,
          "What `stkit scan PATHS --format json` prints.");
    m.def("inspect", &inspect_py, py::arg("path"), "What `stkit inspect PATH --json` prints.");
}

}  // namespace stkit::python
