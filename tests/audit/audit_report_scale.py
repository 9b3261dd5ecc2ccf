"""stkit audit report at 100,000 repositories (a generated JSON document, no git): the page stays
self-contained and under 2 MB, its charts are aggregates (a bounded number of SVG shapes, not one
per repository), the table keeps the 200 most telling rows and repos.csv keeps every repository."""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scratch  # noqa: E402
import generate  # noqa: E402

STKIT, SCRATCH = scratch.setup()
N = 100_000
DOC, PAGE, TABLES = (os.path.join(SCRATCH, n) for n in ("audit.json", "audit.html", "csv"))
with open(DOC, "w") as f:
    json.dump(generate.generate(N), f)
start = time.monotonic()
run = subprocess.run([STKIT, "audit", "report", DOC, "--html", PAGE, "--csv", TABLES], capture_output=True, text=True)
seconds = time.monotonic() - start
failures = []
if run.returncode != 0:
    failures.append(f"report failed: {run.stderr}")
page = open(PAGE, encoding="utf-8").read()
size = os.path.getsize(PAGE)
shapes = len(re.findall(r"<(rect|line) ", page))
rows = page.count("<tr><td>")
with open(os.path.join(TABLES, "repos.csv"), newline="") as f:
    listed = sum(1 for _ in f) - 1
print(f"{N} repositories: page {size} bytes, {shapes} SVG shapes, {rows} table rows, report in {seconds:.1f} s")
if size >= 2 * 1024 * 1024:
    failures.append(f"page is {size} bytes")
if shapes > 5000:
    failures.append(f"{shapes} SVG shapes: not aggregated")
if rows != 200:
    failures.append(f"{rows} table rows, expected the 200 most telling")
if listed != N:
    failures.append(f"repos.csv lists {listed} repositories")
if f"{N} repositories" not in page:
    failures.append("the page does not count every repository")
if "<script" in page:
    failures.append("a script in the page")
print("\n".join(failures) or "ok")
sys.exit(1 if failures else 0)
