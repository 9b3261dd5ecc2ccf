#!/usr/bin/env bash
# Whole-process benchmark of `stkit scan` on the data.pkl of a 20,000-tensor checkpoint (issue 10),
# against an opcode-walking scanner in Python (bench/genops_scan.py, the work picklescan does at the
# least) in the same run, with peak memory against the pickle's size.
#
#   bench/scan_bench.sh [STKIT_BIN] [WORK_DIR]
# STKIT_BIN defaults to build/cli/stkit, WORK_DIR to /tmp/stkit-scan-bench-pkl (kept between runs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
stkit=${1:-$root/build/cli/stkit}
work=${2:-/tmp/stkit-scan-bench-pkl}
python=/usr/bin/python3
mkdir -p "$work"
pkl="$work/data.pkl"
if [[ ! -f "$pkl" ]]; then
    "$python" - "$work" <<'PY'
import sys, torch, zipfile
out = sys.argv[1]
# Names as a 1,000-layer model has them; 2 × 2 float32 tensors keep the checkpoint small.
state = {f"model.layers.{i // 20}.block.{i % 20}.weight": torch.zeros(2, 2) for i in range(20000)}
torch.save(state, out + "/model.pt")
with zipfile.ZipFile(out + "/model.pt") as z:
    name = [n for n in z.namelist() if n.endswith("data.pkl")][0]
    open(out + "/data.pkl", "wb").write(z.read(name))
PY
fi
size=$(stat -c %s "$pkl")
cat "$pkl" >/dev/null

# median wall seconds of RUNS runs of a command; peak RSS (KiB) in $peak
median() {
    local runs=$1; shift
    local times=() rss=0
    for _ in $(seq "$runs"); do
        local t
        /usr/bin/time -o "$work/time.txt" -f "%e %M" "$@" >/dev/null 2>&1 || true
        t=$(tail -1 "$work/time.txt")
        times+=("${t% *}")
        (( ${t#* } > rss )) && rss=${t#* }
    done
    peak=$rss
    printf '%s\n' "${times[@]}" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

# /usr/bin/time reports wall time in hundredths: repeat the fast command inside one timing instead.
per_run() {
    local runs=$1; shift
    local start end
    start=$(date +%s.%N)
    for _ in $(seq "$runs"); do "$@" >/dev/null 2>&1 || true; done
    end=$(date +%s.%N)
    "$python" -c 'import sys; print((float(sys.argv[2]) - float(sys.argv[1])) / int(sys.argv[3]))' "$start" "$end" "$runs"
}

genops_s=$(median 5 "$python" "$root/bench/genops_scan.py" "$pkl")
scan_s=$(per_run 50 "$stkit" scan "$pkl")
version_s=$(per_run 50 "$stkit" --version)
median 5 "$stkit" scan "$pkl" >/dev/null; scan_rss=$peak
median 5 "$stkit" --version >/dev/null; version_rss=$peak

"$python" - "$size" "$genops_s" "$scan_s" "$version_s" "$scan_rss" "$version_rss" <<'PY'
import sys
size, genops, scan, version, scan_rss, version_rss = (float(x) for x in sys.argv[1:])
print(f"data.pkl: {size / 1e6:.2f} MB (20,000 tensors)")
print(f"genops scanner (Python):     {genops * 1000:8.1f} ms")
print(f"stkit scan (whole process):  {scan * 1000:8.1f} ms   {genops / scan:.1f}x faster")
print(f"  of which process start:    {version * 1000:8.1f} ms   (stkit --version)")
print(f"  analysis:                  {(scan - version) * 1000:8.1f} ms   {size / 1e6 / (scan - version):.0f} MB/s")
print(f"peak RSS: {scan_rss / 1024:.1f} MiB, stkit --version {version_rss / 1024:.1f} MiB: "
      f"{(scan_rss - version_rss) * 1024 / size:.2f}x the pickle's size above the process's own")
PY
