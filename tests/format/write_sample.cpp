// format_write_sample OUT: writes a fixed set of tensors with the stkit writer, for the Python
// cross-check (torch_crosscheck.py) to read with torch and numpy and to compare byte for byte with
// its own implementation of the reference layout. Values: element k of each tensor is given below.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "stkit/format/writer.hpp"

namespace {

using namespace stkit;

struct sample {
    std::string name;
    dtype type;
    std::vector<uint64_t> shape;
    std::vector<std::byte> bytes;
};

template <class T>
std::vector<std::byte> values(std::size_t count, T (*value)(std::size_t)) {
    std::vector<std::byte> bytes(count * sizeof(T));
    for (std::size_t k = 0; k < count; ++k) {
        T v = value(k);
        std::memcpy(bytes.data() + k * sizeof(T), &v, sizeof(T));
    }
    return bytes;
}

std::vector<std::byte> half_values(std::size_t count, bool bf16) {
    // Small integers k are exact in both 16-bit formats; encode them from the float bits.
    std::vector<std::byte> bytes(count * 2);
    for (std::size_t k = 0; k < count; ++k) {
        float f = static_cast<float>(k);
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        uint16_t h;
        if (bf16) {
            h = static_cast<uint16_t>(bits >> 16);
        } else if (k == 0) {
            h = 0;
        } else {
            int exponent = static_cast<int>((bits >> 23) & 0xFF) - 127 + 15;
            h = static_cast<uint16_t>((exponent << 10) | ((bits >> 13) & 0x3FF));
        }
        std::memcpy(bytes.data() + 2 * k, &h, 2);
    }
    return bytes;
}

int fail(const error& e) {
    std::fprintf(stderr, "format_write_sample: %s\n", e.to_string().c_str());
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: format_write_sample OUT\n");
        return 2;
    }
    std::vector<sample> samples{
        {"weight", dtype::f32, {2, 3}, values<float>(6, [](std::size_t k) { return static_cast<float>(k) * 0.5f - 1.0f; })},
        {"bias", dtype::f64, {3}, values<double>(3, [](std::size_t k) { return static_cast<double>(k) * 0.25; })},
        {"index", dtype::i64, {4}, values<int64_t>(4, [](std::size_t k) { return static_cast<int64_t>(k) - 2; })},
        {"mask", dtype::bool_, {5}, values<uint8_t>(5, [](std::size_t k) { return static_cast<uint8_t>(k % 2); })},
        {"half", dtype::f16, {2, 2}, half_values(4, false)},
        {"brain", dtype::bf16, {3}, half_values(3, true)},
        {"empty", dtype::u8, {0}, {}},
        {"scalar", dtype::i32, {}, values<int32_t>(1, [](std::size_t) { return int32_t{42}; })},
        {"caf\xc3\xa9 \"q\"", dtype::i16, {2}, values<int16_t>(2, [](std::size_t k) { return static_cast<int16_t>(-7 * static_cast<int>(k)); })},
    };
    auto writer = safetensors_writer::create(argv[1], true);
    if (!writer.ok()) return fail(writer.error());
    for (const sample& s : samples)
        if (auto declared = writer->declare(s.name, s.type, s.shape); !declared.ok()) return fail(declared.error());
    if (auto r = writer->set_metadata("format", "pt"); !r.ok()) return fail(r.error());
    if (auto r = writer->set_metadata("note", "tab\there \"quoted\" \xc3\xa9\x01"); !r.ok()) return fail(r.error());
    auto order = writer->layout();
    if (!order.ok()) return fail(order.error());
    for (const planned_tensor& t : *order)
        for (const sample& s : samples)
            if (s.name == t.name)
                if (auto r = writer->write_tensor(t.name, s.bytes); !r.ok()) return fail(r.error());
    if (auto r = writer->commit(); !r.ok()) return fail(r.error());
    return 0;
}
