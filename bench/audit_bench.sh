#!/bin/bash
# Audit benchmark (figures in bench/README.md): 1,000 generated repositories (50,000 files) and one
# repository with 2,000 commits, against `find ... -exec head -c 64 {} +`, the cost of merely
# opening and touching every file. Peak memory from /usr/bin/time -v.
# Usage: bench/audit_bench.sh path/to/stkit [workdir]
set -euo pipefail
STKIT=${1:?path to the stkit executable}
WORK=${2:-$(mktemp -d)}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
mkdir -p "$WORK"
[ -d "$WORK/tree" ] || { echo "generating the tree..."; time $PY "$HERE/audit_generate.py" tree "$WORK/tree"; }
[ -d "$WORK/history" ] || { echo "generating the history..."; time $PY "$HERE/audit_generate.py" history "$WORK/history"; }
echo "files: $(find "$WORK/tree" -type f | wc -l), commits: $(git -C "$WORK/history" rev-list --count HEAD)"

measure() {  # label, command...
    local label=$1; shift
    /usr/bin/time -v "$@" >/dev/null 2>"$WORK/time.txt"
    printf '%-40s wall %8s  peak RSS %8s KiB\n' "$label" \
        "$(grep 'Elapsed (wall' "$WORK/time.txt" | awk '{print $NF}')" \
        "$(grep 'Maximum resident' "$WORK/time.txt" | awk '{print $NF}')"
}

# Warm the page cache so every run reads from memory, as the second run of a real audit would.
find "$WORK/tree" -type f -exec cat {} + >/dev/null
measure "find -exec head -c 64 (tree)" sh -c "find '$WORK/tree' -type f -exec head -c 64 {} + >/dev/null"
measure "stkit audit tree --jobs 1" "$STKIT" audit "$WORK/tree" --json "$WORK/tree1.json" --force
measure "stkit audit tree --jobs 2" "$STKIT" audit "$WORK/tree" --json "$WORK/tree2.json" --force --jobs 2
cmp "$WORK/tree1.json" "$WORK/tree2.json" && echo "--jobs 1 and --jobs 2 documents identical"
measure "find -exec head -c 64 (history tree)" sh -c "find '$WORK/history' -path '*/.git' -prune -o -type f -exec head -c 64 {} + >/dev/null"
measure "stkit audit history --history" "$STKIT" audit "$WORK/history" --history --json "$WORK/history.json" --force
$PY - "$WORK/history.json" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))["repos"][0]["history"]
print("history:", h["commits"], "commits; adoption", h["first_safetensors_commit"]["date"],
      "by_converter", h["first_safetensors_commit"]["by_converter"], "unsafe_removed_after", h["unsafe_removed_after"])
PY
