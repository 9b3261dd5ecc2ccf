#!/usr/bin/python3
"""No false alarms on ordinary files: every file of this repository's own tree (sources, docs,
scripts, the bundled example) and of a Debian system's documentation, locale catalogues, time
zones, headers and icons is scanned, and none may get a finding or a verdict other than `safe`.
These are the READMEs, configs, catalogues and compressed texts that sit beside model weights;
a scanner that cries wolf on them is not used.

The repository's fuzz corpora and attack outputs are left out: they are hostile on purpose.
Environment: STKIT_BIN. Prints the count of files per format and every file with a finding.
"""
import collections
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REPOSITORY = [os.path.join(ROOT, part) for part in ("src", "include", "cli", "tests", "docs", "bench", "cmake",
                                                     "scripts", "examples", "README.md")]
SYSTEM = ["/usr/share/doc", "/usr/share/locale", "/usr/share/zoneinfo", "/usr/include", "/usr/share/icons",
          "/usr/share/common-licenses"]
HOSTILE = ("/fuzz/", "/fuzz_regressions/")


def main():
    roots = [p for p in REPOSITORY + SYSTEM if os.path.exists(p)]
    result = subprocess.run([os.environ["STKIT_BIN"], "scan", "--format", "json", "--jobs", "2"] + roots,
                            capture_output=True, text=True)
    document = json.loads(result.stdout)
    formats = collections.Counter()
    failures = []
    for report in document["files"]:
        if any(part in report["path"] for part in HOSTILE):
            continue
        formats[report["format"]] += 1
        findings = [f for f in report["findings"] if f["category"] != "member"]
        if report["verdict"] != "safe" or findings:
            failures.append("%s: %s (%s) %s" % (report["path"], report["verdict"], report["detail"],
                                                json.dumps(findings)[:600]))
    total = sum(formats.values())
    print("%d files: %s" % (total, ", ".join("%s %d" % item for item in formats.most_common())))
    for line in failures:
        print(line)
    print("%d files with a finding" % len(failures))
    # A corpus that did not get read proves nothing.
    if total < 1000:
        print("too few files scanned (%d): is the system's documentation installed?" % total)
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
