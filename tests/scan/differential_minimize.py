"""Minimization of differential.py's misses: a few misses of each kind are shrunk (opcodes and byte
runs removed, string operands shortened) while they stay misses for the same reason, then written
into one folder per reason with a README that shows each file's bytes, disassembly, what CPython
imported and what the scanner said.

The reason of a miss is what the scanner's report says about the place it stopped following the
loaders: not detected as a pickle, analysis stopped with an error code, bytes after STOP left
unanalysed, or analysed with the import missing from its findings.
"""
import collections
import io
import os
import pickletools
import re
import shutil
import tempfile

import differential
import differential_mutate
import differential_oracle

PICKLE_FORMATS = {"pickle", "joblib", "torch-legacy"}
PER_SIGNATURE = 2
MAX_ROUNDS = 80


def reason(report):
    if not report:
        return "missing from the report"
    if report.get("verdict") == "stkit failed":
        return "scanner failure"
    if report.get("format") not in PICKLE_FORMATS:
        return "not analysed as a pickle (format %s)" % report.get("format")
    for f in report["findings"]:
        if f.get("category") == "malformed-pickle":
            m = re.search(r"(analysis stopped|not readable as a pickle): (\w+)", f.get("message", ""))
            if m:
                return "%s: %s" % m.groups()
    if any(f.get("category") == "trailing-data" for f in report["findings"]):
        return "bytes after the last STOP not analysed"
    if report.get("format") == "torch-legacy":
        return "legacy layout: the rest of the stream not analysed"
    return "analysed, import missing from the findings"


def signature(miss):
    readings = tuple(sorted({m["reading"] for m in miss["missed"]})) or ("verdict",)
    ext = any(m["ext"] is not None for m in miss["missed"])
    return reason(miss["report"]), "EXT" if ext else "import", readings


class Judge:
    """Loads and scans candidate bytes in batches; tells which still miss with a given signature."""

    def __init__(self, stkit, allowlist):
        self.stkit = stkit
        self.allowlist = allowlist
        self.folder = tempfile.mkdtemp(prefix="stkit-minimize-")

    def evaluate(self, candidates):
        shutil.rmtree(self.folder, ignore_errors=True)
        os.makedirs(self.folder)
        paths = []
        for i, data in enumerate(candidates):
            paths.append(os.path.join(self.folder, "c%05d.pkl" % i))
            with open(paths[-1], "wb") as f:
                f.write(data)
        results = differential_oracle.run_oracle(paths)
        reports = differential.scan(self.stkit, self.folder, paths)
        out = []
        for path, result in zip(paths, results):
            report = reports.get(os.path.basename(path))
            _, missed, verdict_problem, _ = differential.judge(result, report, self.allowlist)
            if not missed and not verdict_problem:
                out.append(None)
                continue
            out.append({"missed": [r._asdict() for r in missed], "report": report, "imports": result["imports"],
                        "outcomes": result["outcomes"], "verdict_problem": bool(verdict_problem)})
        return out

    def close(self):
        shutil.rmtree(self.folder, ignore_errors=True)


def candidates(data):
    """Smaller versions of data, smallest first: opcodes (one or two) removed, byte runs removed,
    string operands shortened."""
    ops = differential_mutate.spans(data)
    found = set()
    for i, (start, end, _, _) in enumerate(ops):
        found.add(data[:start] + data[end:])
        if i + 1 < len(ops):
            found.add(data[:start] + data[ops[i + 1][1]:])
        found.add(data[:start])
    size = len(data) // 2
    while size >= 1:
        for at in range(0, len(data) - size + 1, max(size // 2, 1)):
            found.add(data[:at] + data[at + size:])
        size //= 2
    for start, end, name, arg in ops:
        if name in differential_mutate.STRING_OPS and isinstance(arg, str) and len(arg) > 1:
            for shorter in (arg[:1], arg[:len(arg) // 2]):
                encode = differential_mutate.text_unicode if name == "UNICODE" else differential_mutate.short_unicode
                found.add(data[:start] + encode(shorter) + data[end:])
    found.discard(data)
    return sorted((c for c in found if len(c) < len(data) or c != data), key=lambda c: (len(c), c))


def minimize(data, wanted, judge):
    """Shrinks data while judge says it is a miss with signature `wanted`; returns (bytes, verdict)."""
    best = judge.evaluate([data])[0]
    for _ in range(MAX_ROUNDS):
        pool = candidates(data)
        improved = False
        for at in range(0, len(pool), 128):
            chunk = pool[at:at + 128]
            for candidate, outcome in zip(chunk, judge.evaluate(chunk)):
                if outcome and signature(outcome) == wanted:
                    data, best, improved = candidate, outcome, True
                    break
            if improved:
                break
        if not improved:
            break
    return data, best


def disassembly(data):
    out = io.StringIO()
    try:
        pickletools.dis(data, out=out)
    except Exception as e:  # a miss is usually not a well-formed pickle
        out.write("(pickletools stops: %s: %s)\n" % (type(e).__name__, e))
    return out.getvalue()


def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def minimize_all(misses, misses_dir, out_dir, stkit, allowlist):
    by_signature = collections.defaultdict(list)
    for miss in misses:
        by_signature[signature(miss)].append(miss)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    judge = Judge(stkit, allowlist)
    groups = collections.defaultdict(list)
    seen = set()
    try:
        for wanted, group in sorted(by_signature.items()):
            group.sort(key=lambda m: os.path.getsize(os.path.join(misses_dir, m["file"])))
            for miss in group[:PER_SIGNATURE]:
                with open(os.path.join(misses_dir, miss["file"]), "rb") as f:
                    original = f.read()
                small, outcome = minimize(original, wanted, judge)
                if small in seen or outcome is None:
                    continue
                seen.add(small)
                groups[wanted[0]].append((wanted, miss, small, outcome))
                print("minimized %s (%s) from %d to %d bytes: %s" % (miss["file"], miss["kind"], len(original),
                                                                    len(small), " / ".join(wanted[:1] + wanted[2])))
    finally:
        judge.close()
    write_groups(groups, out_dir, misses_dir, len(misses))


def write_groups(groups, out_dir, misses_dir, miss_count):
    lines = ["# Minimized misses of tests/scan/differential.py", "",
             "Each file is a variant that CPython's unpicklers import a global from while `stkit scan` does",
             "not report it. Folders group them by what the scanner's report says (its reason); file names",
             "tell the readings that import (bytes, buffered, unbuffered, python, fresh: see",
             "tests/scan/differential_oracle.py) and whether the import is by EXT.",
             "Replay: `tests/scan/differential.py --replay %s` (exit 0 once the scanner reports them all)." % out_dir,
             "The unminimized misses of the run (%d) are in raw/, with raw/misses.jsonl." % miss_count, ""]
    for group_reason, items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        folder = slug(group_reason)
        os.makedirs(os.path.join(out_dir, folder), exist_ok=True)
        lines += ["## %s/ — %s (%d files)" % (folder, group_reason, len(items)), ""]
        for number, (wanted, miss, small, outcome) in enumerate(items):
            name = "%s-%s-%d.pkl" % ("+".join(wanted[2]), wanted[1].lower(), number)
            with open(os.path.join(out_dir, folder, name), "wb") as f:
                f.write(small)
            missed = differential.describe_records([differential.Record(**m) for m in outcome["missed"]])
            lines += ["### %s/%s" % (folder, name), "",
                      "- from %s (mutations %s of seed %s)" % (miss["file"], miss["kind"], miss["seed"]),
                      "- bytes: `%r`" % small,
                      "- missed: %s%s" % (missed, " (and rated safe)" if outcome["verdict_problem"] else ""),
                      "- CPython: %s" % "; ".join("%s: %s" % kv for kv in outcome["outcomes"].items()),
                      "- stkit: %s" % differential.describe_report(outcome["report"]), "",
                      "```", disassembly(small).rstrip(), "```", ""]
    raw = os.path.join(out_dir, "raw")
    shutil.copytree(misses_dir, raw)
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("minimized misses in %s (README.md)" % out_dir)
