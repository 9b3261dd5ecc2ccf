#!/usr/bin/python3
"""Generates every attack in this folder (aNN_*.py, one technique each), scans each file with
`$STKIT_BIN scan --format json`, and checks the verdict, the expected finding and the exit code;
finally checks that no payload ran (the marker file does not exist).

Usage: run_attacks.py [NAME_FILTER]   (environment: STKIT_BIN, STKIT_SCRATCH)
"""
import glob
import importlib.util
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import attack_common  # noqa: E402

EXIT_CODES = {"safe": 0, "suspicious": 1, "dangerous": 1, "error": 2}


def load(path):
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def matches(finding, expected):
    return all(finding.get(key) == value for key, value in expected.items())


def check(path, generator, stkit):
    folder = os.path.join(os.environ["STKIT_SCRATCH"], os.path.basename(path)[:-3])
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    target = generator.generate(folder)
    result = subprocess.run([stkit, "scan", "--format", "json", target], capture_output=True, text=True)
    problems = []
    try:
        document = json.loads(result.stdout)
    except json.JSONDecodeError:
        return ["output is not JSON: " + result.stdout[:500] + result.stderr[:500]]
    report = document["files"][0]
    expected = generator.EXPECTED
    if report["verdict"] != expected["verdict"]:
        problems.append("verdict %s, expected %s" % (report["verdict"], expected["verdict"]))
    if not any(matches(f, expected["finding"]) for f in report["findings"]):
        problems.append("no finding matching %s" % expected["finding"])
    if result.returncode != EXIT_CODES[expected["verdict"]]:
        problems.append("exit code %d, expected %d" % (result.returncode, EXIT_CODES[expected["verdict"]]))
    if problems:
        problems.append("report: " + json.dumps(report, indent=1)[:3000])
    return problems


def main():
    stkit = os.environ["STKIT_BIN"]
    os.makedirs(os.environ["STKIT_SCRATCH"], exist_ok=True)
    marker = attack_common.marker_path()
    if os.path.exists(marker):
        os.remove(marker)
    name_filter = sys.argv[1] if len(sys.argv) > 1 else ""
    generators = sorted(glob.glob(os.path.join(HERE, "a[0-9][0-9]_*.py")))
    failed = 0
    count = 0
    for path in generators:
        if name_filter not in os.path.basename(path):
            continue
        count += 1
        problems = check(path, load(path), stkit)
        status = "ok" if not problems else "FAILED"
        print("%-40s %s" % (os.path.basename(path), status))
        for p in problems:
            print("    " + p)
        failed += bool(problems)
    if os.path.exists(marker):
        print("a payload ran: the marker file exists")
        failed += 1
    print("%d attacks, %d failed" % (count, failed))
    return 1 if failed or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
