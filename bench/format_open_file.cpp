// bench_format_open_file FILE [benchmark flags]: safetensors_file::open (map + validate the whole
// header) of a given file, repeated. The C++ baseline of bench/python_load.py's time to first
// tensor, measured on the same file in the same run; run by hand, never by ctest.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>

#include "stkit/format/safetensors.hpp"

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (argc != 2) {
        std::fprintf(stderr, "usage: bench_format_open_file FILE [--benchmark_...]\n");
        return 2;
    }
    const std::string path = argv[1];
    benchmark::RegisterBenchmark("open_header", [path](benchmark::State& state) {
        for (auto _ : state) {
            auto file = stkit::safetensors_file::open(path);
            if (!file.ok()) {
                state.SkipWithError(file.error().to_string().c_str());
                break;
            }
            benchmark::DoNotOptimize(file->tensor_count());
        }
    })->Unit(benchmark::kMillisecond);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
