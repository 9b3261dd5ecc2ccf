#!/usr/bin/python3
"""The Python package's loading speed (issue 11), in one run with same-run baselines.

    PYTHONPATH=build/python /usr/bin/python3 bench/python_load.py [--work DIR] [--repeat N]

Makes (once, kept in DIR, default /tmp/stkit-py-bench) a 2 GiB safetensors file of a few large and
many small tensors, the same weights saved by torch.save as pytorch_model.bin, and a 100,000-tensor
file; reads them all once so the page cache is warm; then times, each measurement in a fresh process
(so peak RSS is its own), alternating and repeated N times (default 5), reporting medians:

  memcpy        NumPy copy of the same 2 GiB from memory into a buffer (both already touched)
  stkit_touch   stkit.torch.load_file + copying every tensor's bytes into the same buffer
  stkit_lazy    stkit.torch.load_file alone (nothing touched)
  stkit_sum     stkit.torch.load_file + summing every tensor
  torch_sum     torch.load(pytorch_model.bin) + summing every tensor
  first         safe_open(100,000-tensor file) + get_tensor of one tensor, against
  cpp_open      safetensors_file::open of that file (build/bench/bench_format_open_file)

Copies are NumPy's (one thread) on both sides; sums are torch's (its default threads) on both sides.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

LARGE = [("embed.weight", (65536, 2048)), ("layers.mlp.weight", (65536, 2048)), ("lm_head.weight", (65536, 2048))]
SMALL_COUNT = 4096
SMALL_ELEMENTS = 32768  # 128 KiB as F32, 64 KiB as F16, 256 KiB as I64: 512 MiB in all
HEADER_TENSORS = 100_000


def small_spec(i):
    kind = i % 4
    dtype = ("float32", "float16", "float32", "int64")[kind]
    elements = SMALL_ELEMENTS * (2 if kind == 1 else 1) // (2 if kind == 3 else 1)
    return f"layers.{i // 8}.block.{i % 8}.weight", dtype, elements


def make_inputs(work):
    import numpy as np

    big = os.path.join(work, "model.safetensors")
    pickled = os.path.join(work, "pytorch_model.bin")
    many = os.path.join(work, "many.safetensors")
    if not (os.path.exists(big) and os.path.exists(pickled)):
        import torch
        import stkit.numpy

        rng = np.random.default_rng(0)
        arrays = {name: rng.random(shape, dtype=np.float32) for name, shape in LARGE}
        for i in range(SMALL_COUNT):
            name, dtype, elements = small_spec(i)
            arrays[name] = (rng.random(elements) * 1000).astype(dtype)
        stkit.numpy.save_file(arrays, big + ".tmp", {"format": "pt"})
        torch.save({k: torch.from_numpy(v) for k, v in arrays.items()}, pickled + ".tmp")
        os.rename(pickled + ".tmp", pickled)
        os.rename(big + ".tmp", big)
    if not os.path.exists(many):
        import stkit.numpy

        arrays = {f"model.layers.{i // 10}.block_sparse_moe.experts.{i % 10}.w{i % 3}.weight":
                  np.full(16, i, dtype=np.float32) for i in range(HEADER_TENSORS)}
        stkit.numpy.save_file(arrays, many, {"format": "pt"})
    return big, pickled, many


def warm(*paths):
    for path in paths:
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass


def memory():
    """Peak RSS and current anonymous / file-backed RSS of this process, in MiB."""
    status = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssFile"):
                status[key] = int(value.split()[0]) / 1024
    status["peak"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return status


def measure(kind, path):
    """One measurement in this process; prints {"seconds", memory...} as JSON."""
    import numpy as np
    import torch

    import stkit
    import stkit.torch

    result = {}
    if kind in ("memcpy", "stkit_touch"):
        total = os.path.getsize(path)
        dst = np.ones(total, dtype=np.uint8)  # touched, so neither side pays for its pages
        if kind == "memcpy":
            src = np.fromfile(path, dtype=np.uint8)
            start = time.perf_counter()
            np.copyto(dst, src)
            result["seconds"] = time.perf_counter() - start
            result["bytes"] = total
        else:
            start = time.perf_counter()
            tensors = stkit.torch.load_file(path)
            offset = 0
            for tensor in tensors.values():
                data = tensor.numpy().reshape(-1).view(np.uint8)
                np.copyto(dst[offset:offset + data.size], data)
                offset += data.size
            result["seconds"] = time.perf_counter() - start
            result["bytes"] = offset
    elif kind == "stkit_lazy":
        start = time.perf_counter()
        tensors = stkit.torch.load_file(path)
        result["seconds"] = time.perf_counter() - start
        result["tensors"] = len(tensors)
    elif kind in ("stkit_sum", "torch_sum"):
        start = time.perf_counter()
        tensors = stkit.torch.load_file(path) if kind == "stkit_sum" else torch.load(path)
        total = sum(float(t.sum()) for t in tensors.values())
        result["seconds"] = time.perf_counter() - start
        result["checksum"] = total
    elif kind == "first":
        name = f"model.layers.{HEADER_TENSORS // 20}.block_sparse_moe.experts.0.w{(HEADER_TENSORS // 2) % 3}.weight"
        times = []
        for _ in range(21):
            start = time.perf_counter()
            with stkit.safe_open(path, "pt") as f:
                tensor = f.get_tensor(name)
            times.append(time.perf_counter() - start)
            assert tensor.numel() == 16
        result["seconds"] = statistics.median(times)
    result.update(memory())
    print(json.dumps(result))


def child(kind, path):
    done = subprocess.run([sys.executable, __file__, "--measure", kind, path], check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def cpp_open(path):
    program = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "bench", "bench_format_open_file")
    if not os.path.exists(program):
        return None
    done = subprocess.run([program, path, "--benchmark_repetitions=5", "--benchmark_report_aggregates_only=true",
                           "--benchmark_format=json"], check=True, capture_output=True, text=True)
    runs = json.loads(done.stdout)["benchmarks"]
    median = next(r for r in runs if r.get("aggregate_name") == "median")
    return median["real_time"] / 1000  # milliseconds → seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="/tmp/stkit-py-bench")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(*args.measure)
        return
    os.makedirs(args.work, exist_ok=True)
    big, pickled, many = make_inputs(args.work)
    warm(big, pickled, many)
    kinds = {"memcpy": big, "stkit_touch": big, "stkit_lazy": big, "stkit_sum": big, "torch_sum": pickled,
             "first": many}
    results = {kind: [] for kind in kinds}
    for _ in range(args.repeat):
        for kind, path in kinds.items():
            results[kind].append(child(kind, path))
    med = {kind: statistics.median(r["seconds"] for r in runs) for kind, runs in results.items()}
    peak = {kind: max(r["peak"] for r in runs) for kind, runs in results.items()}
    last = {kind: runs[-1] for kind, runs in results.items()}
    gib = os.path.getsize(big) / 2**30
    cpp = cpp_open(many)
    print(f"inputs: {big} ({gib:.2f} GiB, {len(LARGE) + SMALL_COUNT} tensors), {pickled}, "
          f"{many} ({HEADER_TENSORS} tensors); medians of {args.repeat}")
    print(f"{'measurement':<44} {'time':>10} {'GiB/s':>7} {'peak RSS':>10} {'anon':>9} {'file':>9}")

    def row(label, kind, extra=""):
        r = last[kind]
        rate = f"{gib / med[kind]:7.2f}" if kind not in ("first", "stkit_lazy") else " " * 7
        print(f"{label:<44} {med[kind] * 1000:8.1f}ms {rate} {peak[kind]:8.0f}Mi {r['RssAnon']:7.0f}Mi "
              f"{r['RssFile']:7.0f}Mi {extra}")

    row("memcpy of the same bytes (numpy copy)", "memcpy")
    row("stkit.torch.load_file + copy every byte", "stkit_touch",
        f"{med['memcpy'] / med['stkit_touch'] * 100:.1f} % of memcpy throughput")
    row("stkit.torch.load_file alone (lazy)", "stkit_lazy")
    row("stkit.torch.load_file + sum every tensor", "stkit_sum")
    row("torch.load(pytorch_model.bin) + sum", "torch_sum",
        f"stkit is {med['torch_sum'] / med['stkit_sum']:.2f}x faster")
    row("safe_open(100k tensors) + first get_tensor", "first",
        f"C++ open {cpp * 1000:.1f} ms: {med['first'] / cpp:.2f}x of it" if cpp else "(no bench_format_open_file)")
    checks = {r["checksum"] for r in results["stkit_sum"]} | {r["checksum"] for r in results["torch_sum"]}
    print(f"sums agree: {len(checks) == 1}; bytes touched {last['stkit_touch']['bytes'] / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
