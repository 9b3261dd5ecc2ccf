// examples/cpp/read_tensors.cpp — opens a safetensors file, lists its tensors, takes a zero-copy view
// and a slice. Usage: read_tensors FILE.safetensors  (the README's "Read a file" snippet; run by ctest
// on the file examples/cpp/write_file.cpp writes)
#include <cstring>
#include <iostream>
#include <vector>

#include "stkit/format/safetensors.hpp"

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    // README begin
    auto file = stkit::safetensors_file::open(argv[1]);  // maps the file, validates the whole header
    if (!file.ok()) {
        std::cerr << file.error().to_string() << "\n";  // the file, byte offset, tensor and problem
        return 1;
    }
    for (const stkit::tensor_view& t : file->tensors())  // in file order
        std::cout << t.name << ": " << stkit::dtype_name(t.type) << ", rank " << t.shape.size() << ", "
                  << t.byte_size() << " bytes\n";

    // A zero-copy view: t.data points into the mapping, valid while `file` lives.
    const stkit::tensor_view* weight = file->tensor_find("weight");
    if (!weight) return 1;
    float first;
    std::memcpy(&first, weight->data.data(), sizeof first);

    // A slice, copied out row-major: rows 1..2 of every column, i.e. weight[1:3, :].
    std::vector<stkit::slice_range> ranges{{1, 3}, {0, weight->shape[1]}};
    auto size = stkit::tensor_slice_size(*weight, ranges);  // errors: rank, out of range
    if (!size.ok()) return 1;
    std::vector<std::byte> rows(*size);
    if (auto copied = stkit::tensor_slice(*weight, ranges, rows); !copied.ok()) return 1;
    // README end
    std::cout << "weight[0, 0] = " << first << "; weight[1:3, :] is " << rows.size() << " bytes\n";
    return first == 0.5f && rows.size() == 2 * 3 * sizeof(float) ? 0 : 1;
}
