#!/usr/bin/python3
"""Differential test of `stkit scan` against CPython's unpicklers: every global that CPython imports
from a pickle must be among the scanner's findings.

Seeds (differential_seeds.py: every attack generator's pickles, ordinary objects at protocols 0-5,
hand-written payloads, torch checkpoints) are mutated with a fixed seed (differential_mutate.py:
bytes, opcodes, frames, PROTO, text and binary forms, EXT, memo and mark games, stacking, bytes after
STOP). Each variant is loaded by the oracle (differential_oracle.py: the C unpickler from bytes, from
a buffered file and from an unbuffered file, the pure-Python unpickler, and a new C unpickler for each
load, each loading again while bytes remain, with a find_class that records and never imports), and
the whole batch is scanned once with `stkit scan --format json`.

A recorded import must be reported when its module and its name are valid dotted Python names (the
issue's definition: a text line that merely follows a 'c' imports nothing; the scanner also reports
modules that act when merely imported whatever the name) and it is not on the allowlist (src/pickle/allowlist.cpp) under its raw or its _compat_pickle name. It is reported
when a finding of the file names it:
  - by module and name, raw or after the protocol < 3 renames (the scanner reports renamed names);
  - for an import made by an EXT opcode, also by a finding of category "extension" that names its
    code ("extension 255"), or one at that opcode's offset (the offset is known in the pure-Python reading; from the C readings any
    "extension" finding of the file counts): the scanner cannot know the process's registry.
No leniency for computed names is needed: the oracle's calls return stubs, never str, and both
unpicklers refuse a STACK_GLOBAL whose operands are not exactly str, so every recorded import has
names that are string operands of the file (through the memo or not). A file with such an import
must also not be rated `safe`.

A miss prints the variant and is written to the misses folder (replay it with --replay); findings of
imports CPython never made are counted as false positives (informational: the scanner
over-approximates). Exit 1 on any miss.

Usage: differential.py [--variants N] [--seed S] [--misses DIR] [--replay DIR] [--minimize DIR]
Environment: STKIT_BIN (default build/cli/stkit), STKIT_SCRATCH, STKIT_SOURCE_DIR.
"""
import _compat_pickle
import argparse
import collections
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import differential_mutate  # noqa: E402
import differential_oracle  # noqa: E402
import differential_seeds  # noqa: E402

SOURCE = os.environ.get("STKIT_SOURCE_DIR", os.path.normpath(os.path.join(HERE, "..", "..")))
IDENTIFIER = re.compile(r"[A-Za-z_\u0080-\U0010FFFF][A-Za-z0-9_\u0080-\U0010FFFF]*\Z")


def valid_module(module):
    return all(IDENTIFIER.match(part) for part in module.split("."))


def load_allowlist():
    with open(os.path.join(SOURCE, "src", "pickle", "allowlist.cpp")) as f:
        rows = re.findall(r'\{"([^"]*)",\s*"([^"]*)",', f.read())
    if len(rows) < 20:
        sys.exit("differential: could not read the allowlist (%d rows)" % len(rows))
    return set(rows)


def compat(module, name):
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    if module in _compat_pickle.IMPORT_MAPPING:
        return _compat_pickle.IMPORT_MAPPING[module], name
    return module, name


def normal(text):
    """Text as the scanner's JSON shows it: invalid UTF-8 (lone surrogates here) replaced, each run of
    replacement characters as one."""
    text = (text or "").encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return re.sub("\ufffd+", "\ufffd", text)


Record = collections.namedtuple("Record", "reading load module name ext offset")


def judge(result, report, allowlist):
    """(required records, missed records, verdict problem, false-positive findings) of one file."""
    records = [Record(*r) for r in result["imports"]]
    required = [r for r in records if valid_module(r.module) and valid_module(r.name) and
                (r.module, r.name) not in allowlist and
                compat(r.module, r.name) not in allowlist]
    findings = report["findings"] if report else []
    named = {(normal(f.get("module")), normal(f.get("name"))) for f in findings}
    extension_offsets = {f["location"].get("offset") for f in findings if f.get("category") == "extension"}
    extension_names = {f.get("name") for f in findings if f.get("category") == "extension"}
    missed = []
    for r in required:
        names = {(normal(r.module), normal(r.name)), tuple(normal(x) for x in compat(r.module, r.name))}
        if names & named:
            continue
        if r.ext is not None and ("extension %d" % r.ext in extension_names or
                                  (extension_offsets and (r.offset is None or r.offset in extension_offsets))):
            continue
        missed.append(r)
    verdict = report["verdict"] if report else "missing from the report"
    verdict_problem = required and verdict == "safe"
    imported = set()
    for r in records:
        imported |= {(normal(r.module), normal(r.name)), tuple(normal(x) for x in compat(r.module, r.name))}
    false_positives = [f for f in findings if f.get("module") and f.get("category") != "extension" and
                       (normal(f["module"]), normal(f.get("name"))) not in imported]
    return required, missed, verdict_problem, false_positives


def scan(stkit, folder, paths):
    """{basename: file report} from one `stkit scan` of the folder; files it crashed or hung on are
    found one by one and reported as error documents."""
    command = [stkit, "scan", "--format", "json", "--jobs", "2", folder]
    try:
        done = subprocess.run(command, capture_output=True, timeout=1800)
        if done.returncode in (0, 1, 2):
            return {os.path.basename(f["path"]): f for f in json.loads(done.stdout.decode("utf-8", "replace"))["files"]}
        why = "exit %d: %s" % (done.returncode, done.stderr[-300:].decode("utf-8", "replace"))
    except (subprocess.TimeoutExpired, json.JSONDecodeError) as e:
        why = str(e)[:300]
    print("differential: stkit scan of the batch failed (%s); scanning file by file" % why)
    reports = {}
    for path in paths:
        try:
            one = subprocess.run([stkit, "scan", "--format", "json", path], capture_output=True, timeout=60)
            if one.returncode not in (0, 1, 2):
                raise ValueError("exit %d: %s" % (one.returncode, one.stderr[-300:].decode("utf-8", "replace")))
            reports[os.path.basename(path)] = json.loads(one.stdout.decode("utf-8", "replace"))["files"][0]
        except (subprocess.TimeoutExpired, ValueError, IndexError, KeyError) as e:
            reports[os.path.basename(path)] = {"verdict": "stkit failed", "findings": [], "detail": str(e)[:200]}
    return reports


def describe_records(records):
    parts = []
    for r in records:
        where = "" if r.offset is None else "@%d" % r.offset
        ext = "" if r.ext is None else " (EXT %d)" % r.ext
        parts.append("%s:%s.%s%s%s%s" % (r.reading, r.module, r.name, ext, where,
                                         "" if r.load == 0 else " [load %d]" % r.load))
    return ", ".join(parts)


def describe_report(report):
    if not report:
        return "no report"
    findings = ["%s %s.%s@%s" % (f.get("category"), f.get("module"), f.get("name"), f["location"].get("offset"))
                for f in report["findings"]]
    return "verdict %s, %s (%s); findings: %s" % (report["verdict"], report.get("format"), report.get("detail"),
                                                  "; ".join(findings) or "none")


class Tally:
    def __init__(self):
        self.variants = self.with_imports = self.with_required = self.misses = 0
        self.false_positive_files = self.false_positive_findings = self.unsafe_verdicts = 0
        self.by_reading = collections.Counter()
        self.by_kind = collections.Counter()
        self.kinds = collections.Counter()
        self.oracle_failures = collections.Counter()
        self.false_positive_examples = []


def check_batch(batch, folder, stkit, allowlist, tally, misses_dir, print_left):
    """batch: [(file name, kind, seed name, bytes)] already written to folder. Returns the misses as
    dicts (also written to misses_dir) and how many more may be printed."""
    paths = [os.path.join(folder, name) for name, _, _, _ in batch]
    results = differential_oracle.run_oracle(paths)
    reports = scan(stkit, folder, paths)
    misses = []
    for (name, kind, seed, data), result in zip(batch, results):
        tally.variants += 1
        for k in set(kind.split("+")):
            tally.kinds[k] += 1
        if "all" in result["outcomes"]:
            tally.oracle_failures[result["outcomes"]["all"].split(" (")[0]] += 1
        report = reports.get(name)
        required, missed, verdict_problem, false_positives = judge(result, report, allowlist)
        tally.with_imports += bool(result["imports"])
        tally.with_required += bool(required)
        if false_positives:
            tally.false_positive_files += 1
            tally.false_positive_findings += len(false_positives)
            if len(tally.false_positive_examples) < 5:
                tally.false_positive_examples.append("%s (%s): stkit %s; CPython imported %s" % (
                    name, kind, ", ".join("%s.%s" % (f["module"], f.get("name")) for f in false_positives),
                    describe_records([Record(*r) for r in result["imports"]]) or "nothing"))
        scanner_failed = bool(report) and report.get("verdict") == "stkit failed"  # a crash or hang
        if not missed and not verdict_problem and not scanner_failed:
            continue
        tally.misses += 1
        tally.unsafe_verdicts += bool(verdict_problem)
        for reading in {r.reading for r in missed} or {"scanner failure" if scanner_failed else "verdict"}:
            tally.by_reading[reading] += 1
        for k in set(kind.split("+")):
            tally.by_kind[k] += 1
        miss = {"file": name, "kind": kind, "seed": seed, "missed": [r._asdict() for r in missed],
                "verdict_problem": bool(verdict_problem), "imports": result["imports"],
                "outcomes": result["outcomes"], "report": report}
        misses.append(miss)
        if misses_dir:
            shutil.copy(os.path.join(folder, name), os.path.join(misses_dir, name))
            with open(os.path.join(misses_dir, "misses.jsonl"), "a") as f:
                f.write(json.dumps(miss) + "\n")
        if print_left > 0:
            print_left -= 1
            print("MISS %s  kind=%s  seed=%s" % (name, kind, seed))
            print("  bytes:   %r%s" % (data[:200], " ..." if len(data) > 200 else ""))
            print("  missed:  %s%s" % (describe_records(missed), "  (and verdict safe)" if verdict_problem else ""))
            print("  imports: %s" % describe_records([Record(*r) for r in result["imports"]]))
            print("  oracle:  %s" % "; ".join("%s: %s" % kv for kv in result["outcomes"].items()))
            print("  stkit:   %s" % describe_report(report))
    return misses, print_left


def batches_of(seeds, count, seed, size):
    """The variants of a run in batches of `size`: the seeds themselves, each truncated at every
    opcode boundary (the payload seeds only in short runs), then `count` mutations."""
    rng = random.Random(seed)
    fixed = [("seed", name, data) for name, data in seeds]
    for name, data in seeds:
        if count >= 50000 or not name.startswith(("obj:", "torch:")):
            ops = differential_mutate.spans(data)
            fixed += [("truncate", name, data[:at]) for at in differential_mutate.boundaries(data, ops)[1:-1]]
    batch = [("v%07d.pkl" % number, kind, name, data) for number, (kind, name, data) in enumerate(fixed)]
    for number in range(len(fixed), len(fixed) + count):
        if len(batch) >= size:
            yield batch
            batch = []
        kind, name, data = differential_mutate.mutate(rng, seeds)
        batch.append(("v%07d.pkl" % number, kind, name, data))
    if batch:
        yield batch


def replay_batch(folder):
    """Every file under folder (a misses folder, or minimized groups), with the mutation and seed its
    folder's misses.jsonl names."""
    batch = []
    for root, _, files in sorted(os.walk(folder)):
        kinds = {}
        if "misses.jsonl" in files:
            with open(os.path.join(root, "misses.jsonl")) as f:
                for line in f:
                    miss = json.loads(line)
                    kinds[miss["file"]] = (miss["kind"], miss["seed"])
        for name in sorted(files):
            if name.endswith((".jsonl", ".md", ".txt")):
                continue
            relative = os.path.relpath(os.path.join(root, name), folder)
            kind, seed = kinds.get(name, ("replay", relative))
            with open(os.path.join(root, name), "rb") as f:
                batch.append((relative.replace("/", "__"), kind, seed, f.read()))
    return batch


def print_summary(tally, seconds):
    print("differential: %d variants, %d with imports, %d with imports the scanner must report, "
          "%d misses (%d rated safe), %d false positives in %d files (informational), %.1f s" %
          (tally.variants, tally.with_imports, tally.with_required, tally.misses, tally.unsafe_verdicts,
           tally.false_positive_findings, tally.false_positive_files, seconds))
    if tally.misses:
        print("misses by reading: " + ", ".join("%s %d" % kv for kv in sorted(tally.by_reading.items())))
        print("misses by mutation (variants with a miss / variants of that kind):")
        for kind, count in sorted(tally.kinds.items(), key=lambda kv: -tally.by_kind[kv[0]]):
            print("  %-14s %6d / %d" % (kind, tally.by_kind[kind], count))
    for example in tally.false_positive_examples:
        print("  false positive: " + example[:400])
    if tally.oracle_failures:
        print("oracle: " + ", ".join("%s %d" % kv for kv in tally.oracle_failures.items()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", type=int, default=3000, help="mutated variants (the seeds come on top)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, help="start no new batch after this many seconds")
    parser.add_argument("--batch", type=int, default=5000, help="variants written, loaded and scanned at once")
    parser.add_argument("--misses", help="folder for the missing variants (default STKIT_SCRATCH/misses)")
    parser.add_argument("--replay", help="check the files of this folder (a misses folder) instead of mutating")
    parser.add_argument("--minimize", help="minimize the misses into this folder, grouped, with a README")
    parser.add_argument("--print", type=int, default=20, dest="print_limit", help="misses printed in full")
    args = parser.parse_args()

    started = time.time()
    scratch = os.environ.get("STKIT_SCRATCH", "/tmp/stkit-differential")
    stkit = os.environ.get("STKIT_BIN", os.path.join(SOURCE, "build", "cli", "stkit"))
    replayed = replay_batch(args.replay) if args.replay else None  # read before the scratch is emptied
    shutil.rmtree(scratch, ignore_errors=True)  # a rerun starts from nothing
    os.makedirs(scratch)
    misses_dir = args.misses or os.path.join(scratch, "misses")
    if args.replay and os.path.abspath(misses_dir) == os.path.abspath(args.replay):
        sys.exit("differential: --misses must differ from --replay")
    shutil.rmtree(misses_dir, ignore_errors=True)
    os.makedirs(misses_dir)
    allowlist = load_allowlist()

    if args.replay:
        seeds = []
        batches = [replayed]
    else:
        seeds = differential_seeds.make_seeds(os.path.join(scratch, "seeds"))
        batches = batches_of(seeds, args.variants, args.seed, args.batch)
    tally = Tally()
    misses = []
    print_left = args.print_limit
    for number, batch in enumerate(batches):
        if args.seconds and time.time() - started > args.seconds:
            print("differential: time is up after %d variants" % tally.variants)
            break
        folder = os.path.join(scratch, "batch")
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        for name, _, _, data in batch:
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
        found, print_left = check_batch(batch, folder, stkit, allowlist, tally, misses_dir, print_left)
        misses += found
        shutil.rmtree(folder, ignore_errors=True)
        if tally.variants > args.batch:
            print("differential: %d variants, %d misses so far, %.0f s" % (tally.variants, tally.misses,
                                                                       time.time() - started))
    marker = os.path.join(differential_seeds.MARKER_FOLDER, "STKIT_ATTACK_MARKER")
    if os.path.exists(marker):
        print("differential: a payload ran (the marker file exists)")
        tally.misses += 1
    print_summary(tally, time.time() - started)
    if tally.misses:
        print("missing variants in %s (replay: %s --replay %s)" % (misses_dir, sys.argv[0], misses_dir))
    if args.minimize and misses:
        import differential_minimize
        differential_minimize.minimize_all(misses, misses_dir, args.minimize, stkit, allowlist)
    return 1 if tally.misses or tally.variants == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
