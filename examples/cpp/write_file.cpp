// examples/cpp/write_file.cpp — writes a safetensors file with the streaming writer.
// Usage: write_file OUT.safetensors  (the README's "Write a file" snippet; run by ctest)
#include <iostream>
#include <span>
#include <vector>

#include "stkit/format/writer.hpp"

int fail(const stkit::error& e) {
    std::cerr << e.to_string() << "\n";
    return 1;
}

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    std::vector<float> weight(4 * 3, 0.5f);
    std::vector<int64_t> positions{0, 1, 2, 3};
    // README begin
    auto writer = stkit::safetensors_writer::create(argv[1], /*overwrite=*/true);
    if (!writer.ok()) return fail(writer.error());
    // Declare every tensor first: the writer lays them out as the reference does.
    if (auto r = writer->declare("weight", stkit::dtype::f32, {4, 3}); !r.ok()) return fail(r.error());
    if (auto r = writer->declare("positions", stkit::dtype::i64, {4}); !r.ok()) return fail(r.error());
    if (auto r = writer->set_metadata("format", "pt"); !r.ok()) return fail(r.error());
    auto order = writer->layout();  // writes the header
    if (!order.ok()) return fail(order.error());
    // Then stream each tensor's bytes, in file order, in as many chunks as you like.
    for (const stkit::planned_tensor& t : *order) {
        auto bytes = t.name == "weight" ? std::as_bytes(std::span(weight)) : std::as_bytes(std::span(positions));
        if (auto r = writer->write_tensor(t.name, bytes); !r.ok()) return fail(r.error());
    }
    // fsync, then link into place: readers never see a partial file.
    if (auto r = writer->commit(); !r.ok()) return fail(r.error());
    // README end
    std::cout << "wrote " << argv[1] << "\n";
    return 0;
}
