// Reader benchmarks (run by hand, never by ctest; figures in bench/README.md):
//   BM_open_header       open + validate a header of 100,000 tensors (~12 MB of JSON); the bytes
//                        counter is header JSON, so Google Benchmark reports MB/s of header.
//   BM_dom_parse_header  the baseline: simdjson's whole-document (DOM) parse of the same header
//                        text, already in memory, with no rule checked (the reader's first step
//                        until 2026-12-02)
//   BM_copy_tensors      read every tensor of a 2 GiB file into a caller buffer with tensor_copy
//   BM_memcpy_baseline   memcpy of the same byte ranges from the same mapping, for the ratio
// Inputs are generated in /tmp at startup with the stkit writer (and removed at exit).
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "stkit/format/safetensors.hpp"
#include "stkit/format/writer.hpp"

namespace {

namespace fs = std::filesystem;

const fs::path header_file = fs::temp_directory_path() / "stkit_bench_header.safetensors";
const fs::path large_file = fs::temp_directory_path() / "stkit_bench_2g.safetensors";
constexpr int header_tensors = 100'000;
constexpr std::size_t large_tensors = 256;
constexpr std::size_t large_tensor_bytes = std::size_t{8} << 20;  // 256 × 8 MiB = 2 GiB

bool write_inputs() {
    auto small = stkit::safetensors_writer::create(header_file, true);
    if (!small.ok()) return false;
    for (int i = 0; i < header_tensors; ++i) {
        // Names and shapes like a real transformer checkpoint's.
        std::string name = "model.layers." + std::to_string(i / 10) + ".block_sparse_moe.experts." +
                           std::to_string(i % 10) + ".w" + std::to_string(i % 3) + ".weight";
        if (!small->declare(std::move(name), i % 2 ? stkit::dtype::bf16 : stkit::dtype::u8,
                            {static_cast<uint64_t>(i % 4), 1, 1})
                 .ok())
            return false;
    }
    if (!small->set_metadata("format", "pt").ok()) return false;
    auto order = small->layout();
    if (!order.ok()) return false;
    std::vector<std::byte> zeros(16);
    for (const auto& t : *order)
        if (!small->write_tensor(t.name, std::span(zeros).first(t.byte_size())).ok()) return false;
    if (!small->commit().ok()) return false;

    auto large = stkit::safetensors_writer::create(large_file, true);
    if (!large.ok()) return false;
    for (std::size_t i = 0; i < large_tensors; ++i)
        if (!large->declare("layer." + std::to_string(i), stkit::dtype::f32, {large_tensor_bytes / 4}).ok()) return false;
    auto large_order = large->layout();
    if (!large_order.ok()) return false;
    std::vector<std::byte> chunk(large_tensor_bytes, std::byte{0x3f});
    for (const auto& t : *large_order)
        if (!large->write_tensor(t.name, chunk).ok()) return false;
    return large->commit().ok();
}

void BM_open_header(benchmark::State& state) {
    uint64_t header_bytes = 0;
    for (auto _ : state) {
        auto file = stkit::safetensors_file::open(header_file);
        if (!file.ok()) {
            state.SkipWithError(file.error().to_string().c_str());
            return;
        }
        header_bytes = file->header_size();
        benchmark::DoNotOptimize(file->tensor_count());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * header_bytes));
    state.counters["header_MB"] = static_cast<double>(header_bytes) / 1e6;
}

void BM_dom_parse_header(benchmark::State& state) {
    auto file = stkit::safetensors_file::open(header_file);
    if (!file.ok()) {
        state.SkipWithError(file.error().to_string().c_str());
        return;
    }
    simdjson::padded_string text(file->header_text());
    simdjson::dom::parser parser;
    for (auto _ : state) {
        simdjson::dom::element root;
        if (parser.parse(text).get(root) != simdjson::SUCCESS) {
            state.SkipWithError("simdjson refused the header");
            return;
        }
        benchmark::DoNotOptimize(root);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

// One open file for the copy benchmarks, so both read the same mapping.
const stkit::safetensors_file& large() {
    static stkit::safetensors_file file = [] {
        auto opened = stkit::safetensors_file::open(large_file);
        return opened.ok() ? std::move(*opened) : stkit::safetensors_file{};
    }();
    return file;
}

void BM_copy_tensors(benchmark::State& state) {
    std::vector<std::byte> buffer(large_tensor_bytes);
    uint64_t total = 0;
    for (auto _ : state) {
        total = 0;
        for (const stkit::tensor_view& tensor : large().tensors()) {
            auto copied = stkit::tensor_copy(tensor, buffer);
            if (!copied.ok()) {
                state.SkipWithError(copied.error().to_string().c_str());
                return;
            }
            total += *copied;
            benchmark::ClobberMemory();
        }
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * total));
}

void BM_memcpy_baseline(benchmark::State& state) {
    std::vector<std::byte> buffer(large_tensor_bytes);
    const auto bytes = large().bytes();
    const std::size_t start = static_cast<std::size_t>(large().data_offset());
    uint64_t total = 0;
    for (auto _ : state) {
        total = 0;
        for (std::size_t i = 0; i < large_tensors; ++i) {
            std::memcpy(buffer.data(), bytes.data() + start + i * large_tensor_bytes, large_tensor_bytes);
            total += large_tensor_bytes;
            benchmark::ClobberMemory();
        }
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * total));
}

// Alternated with its baseline, as the copies below.
BENCHMARK(BM_dom_parse_header)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_open_header)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_dom_parse_header)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_open_header)->Unit(benchmark::kMillisecond);
// Alternate the two copies so neither benefits from running second.
BENCHMARK(BM_memcpy_baseline)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_copy_tensors)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_memcpy_baseline)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_copy_tensors)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (!write_inputs()) {
        std::fprintf(stderr, "bench_format_read: cannot write inputs in %s\n", fs::temp_directory_path().c_str());
        return 2;
    }
    if (large().tensor_count() != large_tensors) {
        std::fprintf(stderr, "bench_format_read: cannot open %s\n", large_file.c_str());
        return 2;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    fs::remove(header_file);
    fs::remove(large_file);
    return 0;
}
