// Benchmark of `stkit scan` (issue 4): files per second over a folder of real torch checkpoints,
// and MB/s of pickle stream analysed, with memcpy of the same bytes as the baseline.
//
// The fixtures are made once by Debian's python3 with torch in $STKIT_SCAN_BENCH_DIR (default
// /tmp/stkit-scan-bench): 40 checkpoints (state dicts of small models, a 64 MiB one, legacy and zip
// formats) and stream.pkl, the data.pkl of a checkpoint holding 20,000 tensors. Figures in bench/README.md.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "stkit/file.hpp"
#include "stkit/scan/scan.hpp"

namespace {

namespace fs = std::filesystem;

fs::path bench_dir() {
    const char* dir = std::getenv("STKIT_SCAN_BENCH_DIR");
    return dir ? fs::path(dir) : fs::path("/tmp/stkit-scan-bench");
}

const char* generator = R"(
import os, sys, zipfile, torch
out = sys.argv[1]
os.makedirs(out + '/models', exist_ok=True)
for i in range(36):
    model = torch.nn.Sequential(*[torch.nn.Linear(64, 64) for _ in range(1 + i % 8)])
    legacy = i % 4 == 3
    torch.save(model.state_dict(), '%s/models/m%02d.pt' % (out, i), _use_new_zipfile_serialization=not legacy)
for i in range(4):
    torch.save({'w%d' % k: torch.zeros(1024, 1024 * 4 // 4) for k in range(16)}, '%s/models/big%d.pt' % (out, i))
many = {'t%05d' % k: torch.zeros(2, 2) for k in range(20000)}
torch.save(many, out + '/many.pt')
with zipfile.ZipFile(out + '/many.pt') as z:
    name = [n for n in z.namelist() if n.endswith('data.pkl')][0]
    open(out + '/stream.pkl', 'wb').write(z.read(name))
)";

bool ensure_fixtures() {
    fs::path dir = bench_dir();
    if (fs::exists(dir / "stream.pkl")) return true;
    fs::create_directories(dir);
    fs::path script = dir / "make.py";
    FILE* f = std::fopen(script.c_str(), "w");
    if (!f) return false;
    std::fputs(generator, f);
    std::fclose(f);
    std::string command = "/usr/bin/python3 '" + script.string() + "' '" + dir.string() + "'";
    return std::system(command.c_str()) == 0;
}

void scan_folder(benchmark::State& state) {
    if (!ensure_fixtures()) { state.SkipWithError("fixtures could not be made"); return; }
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(bench_dir() / "models")) files.push_back(entry.path());
    uint64_t bytes = 0;
    for (const fs::path& p : files) bytes += fs::file_size(p);
    for (auto _ : state) {
        for (const fs::path& p : files) {
            stkit::file_report report = stkit::scan_path(p);
            if (report.overall != stkit::verdict::safe) state.SkipWithError(("not safe: " + p.string()).c_str());
            benchmark::DoNotOptimize(report);
        }
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * files.size()));
    state.counters["checkpoint_MB_per_s"] = benchmark::Counter(
        static_cast<double>(bytes) * static_cast<double>(state.iterations()) / 1e6, benchmark::Counter::kIsRate);
}
BENCHMARK(scan_folder)->Unit(benchmark::kMillisecond);

void scan_pickle_stream(benchmark::State& state) {
    if (!ensure_fixtures()) { state.SkipWithError("fixtures could not be made"); return; }
    auto file = stkit::mapped_file::open(bench_dir() / "stream.pkl");
    if (!file.ok()) { state.SkipWithError("stream.pkl missing"); return; }
    for (auto _ : state) {
        stkit::file_report report = stkit::scan_bytes(file->bytes(), "stream.pkl");
        if (report.overall != stkit::verdict::safe) state.SkipWithError("stream.pkl not safe");
        benchmark::DoNotOptimize(report);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * file->size()));
}
BENCHMARK(scan_pickle_stream)->Unit(benchmark::kMillisecond);

void memcpy_pickle_stream(benchmark::State& state) {
    if (!ensure_fixtures()) { state.SkipWithError("fixtures could not be made"); return; }
    auto file = stkit::mapped_file::open(bench_dir() / "stream.pkl");
    if (!file.ok()) { state.SkipWithError("stream.pkl missing"); return; }
    std::vector<std::byte> copy(file->size());
    for (auto _ : state) {
        std::memcpy(copy.data(), file->bytes().data(), file->size());
        benchmark::DoNotOptimize(copy.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * file->size()));
}
BENCHMARK(memcpy_pickle_stream)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
