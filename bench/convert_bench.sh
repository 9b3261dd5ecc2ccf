#!/usr/bin/env bash
# Benchmark of `stkit convert` on a >= 2 GB pytorch_model.bin made with torch (see bench/convert.md).
# Reports, in one run: conversion throughput against `cp` of the same file (medians of ROUNDS=3
# alternated rounds), against `torch.load` of it in Python and the Hub's conversion in Python, and
# the peak resident memory of `stkit convert` (/usr/bin/time -v).
#
#   bench/convert_bench.sh [STKIT_BIN] [WORK_DIR]
# STKIT_BIN defaults to build/cli/stkit; WORK_DIR to /tmp/stkit-convert-bench (about 6 GB free needed;
# the checkpoint is kept there between runs, outputs are removed).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
stkit=${1:-$root/build/cli/stkit}
work=${2:-/tmp/stkit-convert-bench}
python=/usr/bin/python3
mkdir -p "$work"
model="$work/pytorch_model.bin"

if [[ ! -f "$model" ]]; then
    echo "making $model (4 × 512 MiB float32 + 400 small tensors of mixed dtypes)..."
    "$python" - "$model" <<'PY'
import sys, torch
torch.manual_seed(0)
state = {}
for i in range(4):
    state[f"layers.{i}.weight"] = torch.empty(8192, 16384, dtype=torch.float32).uniform_()
for i in range(400):
    dtype = (torch.float32, torch.float16, torch.bfloat16, torch.int64)[i % 4]
    state[f"small.{i}"] = torch.randn(64, 33).to(dtype)
state["tied"] = state["small.0"]
torch.save(state, sys.argv[1])
PY
fi
size=$(stat -c %s "$model")
mib=$((size / 1048576))
echo "checkpoint: $model, $mib MiB"

seconds() { "$python" -c 'import sys; print(f"{float(sys.argv[1]):.3f}")' "$1"; }
now() { date +%s.%N; }
elapsed() { "$python" -c 'import sys; print(float(sys.argv[2]) - float(sys.argv[1]))' "$1" "$2"; }

cat "$model" >/dev/null  # warm the page cache so every contender reads from memory

# Writes land in the page cache and reach the disk later, so one sample of each depends on what the
# previous one left to flush. Each round runs the three writers in turn, each after a `sync` (nothing
# of the previous one still to write); the medians of ROUNDS rounds are compared. Two effects of
# this VM's memory are levelled before every timed sample, untimed:
# - the kernel runs a DAMON "pageout" scheme that evicts pages untouched for 6 s, so the checkpoint
#   is read again into the page cache;
# - free page reporting hands freed memory back to the host, and whichever writer first reuses the
#   memory of a deleted 2 GiB copy pays for the host to fault it in again: `dd` of 2 GiB of zeros
#   took 6.25 s right after `cp`'s output was deleted, and 0.61 s right after another `dd`'s. So
#   every sample follows the same 2 GiB scratch write and delete, never another contender's.
ready() {
    sync
    dd if=/dev/zero of="$work/scratch.bin" bs=8M count=256 status=none
    rm -f "$work/scratch.bin"
    sync
    cat "$model" >/dev/null
}
rounds=${ROUNDS:-3}
cp_runs=() convert_runs=() noverify_runs=()
for round in $(seq "$rounds"); do
    rm -f "$work/copy.bin"; ready
    start=$(now); cp "$model" "$work/copy.bin"; sync "$work/copy.bin"; end=$(now)
    cp_runs+=("$(elapsed "$start" "$end")")
    rm -f "$work/copy.bin"

    rm -f "$work/model.safetensors"; ready
    start=$(now)
    /usr/bin/time -v -o "$work/time.txt" "$stkit" convert "$model" -o "$work/model.safetensors" >/dev/null
    end=$(now)
    convert_runs+=("$(elapsed "$start" "$end")")
    rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$work/time.txt")
    (( round == 1 || rss > rss_kb )) && rss_kb=$rss

    rm -f "$work/model.safetensors"; ready
    start=$(now)
    "$stkit" convert "$model" -o "$work/model.safetensors" --no-verify >/dev/null
    end=$(now)
    noverify_runs+=("$(elapsed "$start" "$end")")
    rm -f "$work/model.safetensors"
done
median_of() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo "rounds (s): cp ${cp_runs[*]} | convert ${convert_runs[*]} | --no-verify ${noverify_runs[*]}"
cp_s=$(median_of "${cp_runs[@]}")
convert_s=$(median_of "${convert_runs[@]}")
noverify_s=$(median_of "${noverify_runs[@]}")

ready
start=$(now)
"$python" -c 'import sys, torch; torch.load(sys.argv[1], map_location="cpu")' "$model"
end=$(now)
load_s=$(elapsed "$start" "$end")

# The Hub's conversion, in Python: torch.load(weights_only=True), write, reload, torch.equal.
rm -f "$work/peer.safetensors"; ready
start=$(now)
/usr/bin/time -v -o "$work/peer_time.txt" "$python" "$root/bench/convert_peer.py" "$model" "$work/peer.safetensors" >/dev/null
end=$(now)
peer_s=$(elapsed "$start" "$end")
peer_rss_kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$work/peer_time.txt")
rm -f "$work/peer.safetensors"

"$python" - "$mib" "$cp_s" "$convert_s" "$noverify_s" "$load_s" "$rss_kb" "$peer_s" "$peer_rss_kb" <<'PY'
import sys
mib, cp, conv, nover, load, rss, peer, peer_rss = (float(x) for x in sys.argv[1:])
print(f"cp (+ sync)                  {cp:7.2f} s  {mib / cp:8.0f} MiB/s")
print(f"stkit convert (verify)       {conv:7.2f} s  {mib / conv:8.0f} MiB/s  {cp / conv * 100:5.1f} % of cp")
print(f"stkit convert --no-verify    {nover:7.2f} s  {mib / nover:8.0f} MiB/s  {cp / nover * 100:5.1f} % of cp")
print(f"torch.load (Python)          {load:7.2f} s  {mib / load:8.0f} MiB/s  convert is {load / conv:4.2f}x torch.load")
print(f"Hub-style conversion (torch) {peer:7.2f} s  {mib / peer:8.0f} MiB/s  convert is {peer / conv:4.2f}x faster, "
      f"peak RSS {peer_rss / 1024:.0f} MiB")
print(f"peak RSS of stkit convert    {rss / 1024:7.1f} MiB")
PY
