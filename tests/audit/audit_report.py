"""stkit audit report: the page of a generated audit of 300 repositories renders in headless Chromium
(no network, no script) with every chart present and non-empty, each chart's hover titles give the
numbers of its CSV twin, those numbers match a count made here from the JSON, month labels stay
apart at 120+ months, and the screenshot shows each chart's colours. Without adoptions (no history, or
none in it), each adoption chart is replaced by a note saying why. Set STKIT_REPORT_SHOT to keep
the screenshot (docs/audit-report.png is made that way)."""
import csv
import html.parser
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from collections import Counter, defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scratch  # noqa: E402
import generate  # noqa: E402

STKIT, SCRATCH = scratch.setup()
DOC = os.path.join(SCRATCH, "audit.json")
PAGE, SHOT, TABLES = (os.path.join(SCRATCH, n) for n in ("audit.html", "audit.png", "csv"))
document = generate.generate(300)
with open(DOC, "w") as f:
    json.dump(document, f)
subprocess.run([STKIT, "audit", "report", DOC, "--html", PAGE, "--csv", TABLES], check=True, capture_output=True)
page = open(PAGE, encoding="utf-8").read()
FAILURES = []


def check(condition, what):
    if not condition:
        FAILURES.append(what)
        print("FAIL:", what)


check("<script" not in page and not re.search(r"(src|href)=|url\(|https?://(?!www\.w3\.org/2000/svg)", page),
      "self-contained: no script, no external reference")


def table(name):
    with open(os.path.join(TABLES, name), newline="") as f:
        return list(csv.reader(f))


# ---- what the JSON says, counted here ----
adopted = [r["history"]["first_safetensors_commit"] for r in document["repos"] if r["history"]["first_safetensors_commit"]]
KEYS = {"converter-bot": "converter", "developer": "developer", "stkit": "stkit"}
LABELS = {"converter": "converter bot", "developer": "developers", "stkit": "stkit convert"}
per_month = defaultdict(Counter)
for a in adopted:
    per_month[a["date"][:7]][KEYS[a["adopted_by"]]] += 1
statuses = Counter(r["status"] for r in document["repos"])

# ---- the CSV twins agree with that count ----
rows = table("adoptions.csv")
check(rows[0] == ["month", "converter", "developer", "stkit"], f"adoptions.csv header {rows[0]}")
check({r[0]: Counter({k: int(v) for k, v in zip(rows[0][1:], r[1:]) if int(v)}) for r in rows[1:] if r[1:] != ["0"] * 3}
      == per_month, "adoptions.csv counts equal the JSON's adoptions per committer month")
months = [r[0] for r in rows[1:]]
check(len(months) > 100, f"a long audit: {len(months)} months")
check(table("status.csv")[1:] == [[s, str(statuses[s])] for s in ("safe", "mixed", "unsafe", "no-model")], "status.csv")


# ---- the rendered DOM: every chart present, non-empty, its titles equal to its twin ----
profile = tempfile.mkdtemp()
chromium = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
            f"--user-data-dir={profile}"]
try:
    dom = subprocess.run(chromium + ["--dump-dom", "file://" + PAGE], check=True, capture_output=True, text=True,
                         timeout=120).stdout
    subprocess.run(chromium + [f"--screenshot={SHOT}", "--window-size=1080,2450", "file://" + PAGE], check=True,
                   capture_output=True, timeout=120)
finally:
    shutil.rmtree(profile, ignore_errors=True)


class Charts(html.parser.HTMLParser):
    """Per svg id: its shapes with a non-zero area (with their <title>) and its text elements."""

    def __init__(self):
        super().__init__()
        self.charts, self.current, self.stack, self.text = {}, None, [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            self.current = self.charts.setdefault(a.get("id"), {"shapes": [], "texts": []})
        elif self.current is not None and tag in ("rect", "line"):
            size = (float(a.get("width", 0)) * float(a.get("height", 0))) if tag == "rect" else 1
            self.stack.append({"tag": tag, "size": size, "title": None, **a})
        elif self.current is not None and tag in ("title", "text"):
            self.text = (tag, a)

    def handle_data(self, data):
        if self.text and self.text[0] == "title" and self.stack:
            self.stack[-1]["title"] = data
        elif self.text and self.text[0] == "text":
            self.current["texts"].append((float(self.text[1]["x"]), float(self.text[1]["y"]), data))

    def handle_endtag(self, tag):
        if tag in ("rect", "line") and self.stack:
            self.current["shapes"].append(self.stack.pop())
        elif tag in ("title", "text"):
            self.text = None
        elif tag == "svg":
            self.current = None


parser = Charts()
parser.feed(dom)
charts = parser.charts
for chart in ("status", "adoptions", "heatmap", "share", "share-year", "days"):
    shapes = [s for s in charts.get(chart, {"shapes": []})["shapes"] if s["tag"] == "rect" and s["size"] > 0]
    check(len(shapes) > 0, f"chart {chart} has bars or cells")
    check(all(s["title"] for s in shapes), f"every shape of chart {chart} has a hover title")
    check(len(charts.get(chart, {"texts": []})["texts"]) >= 3, f"chart {chart} has axis labels")
check(page.count("class='legend'") >= 6, "every chart has a legend")


def titles(chart, pattern):
    return [re.fullmatch(pattern, s["title"]).groups() for s in charts[chart]["shapes"] if s["title"] and s["tag"] == "rect"]


# (a) adoption bars: "YYYY-MM: n by <who>" equal adoptions.csv.
drawn = defaultdict(Counter)
for month, n, who in titles("adoptions", r"(\d{4}-\d\d): (\d+) by (.+)"):
    drawn[month][{v: k for k, v in LABELS.items()}[who]] += int(n)
check(drawn == per_month, "adoption bars' titles equal adoptions.csv")
# Month labels thinned: at most 15, at least 55 px apart, although there are 100+ months.
labels = sorted(x for x, y, t in charts["adoptions"]["texts"] if re.fullmatch(r"\d{4}-\d\d", t))
check(2 <= len(labels) <= 15, f"{len(labels)} month labels under {len(months)} months")
check(all(b - a >= 55 for a, b in zip(labels, labels[1:])), "month labels do not overlap")
# (b) heatmap cells: "YYYY-MM: n adoptions" equal adoption_heatmap.csv.
heat = {(int(r[0]), m + 1): int(v) for r in table("adoption_heatmap.csv")[1:] for m, v in enumerate(r[1:])}
cells = {(int(y), int(m)): int(n) for y, m, n in titles("heatmap", r"(\d{4})-(\d\d): (\d+) adoptions")}
check(cells == heat and sum(heat.values()) == len(adopted), "heatmap cells equal adoption_heatmap.csv")
# (c) share by year: "YYYY family: n of m repositories" equal yearly.csv.
yearly = table("yearly.csv")
want = {(r[0], f): (int(r[2 + i]), int(r[1])) for r in yearly[1:] for i, f in enumerate(yearly[0][2:]) if int(r[2 + i])}
got = {(y, f): (int(n), int(m)) for y, f, n, m in titles("share-year", r"(\S+) (\S+): (\d+) of (\d+) repositories")}
check(got == want, "share-by-year bars equal yearly.csv")
check(len(titles("share", r"(\S+) (\S+): (\d+) of (\d+) repositories")) > 100, "share-by-month bars")
# (d) histogram bars equal days_to_safetensors.csv; quartile lines for each adopter with data.
days = table("days_to_safetensors.csv")
want = {(int(r[0]), k): int(v) for r in days[1:] for k, v in zip(days[0][2:], r[2:]) if int(v)}
got = Counter()
for start, who, n in [(int(re.match(r"\d+", t).group()), w, int(n))
                      for t, n, w in titles("days", r"(\S+) days: (\d+) by (.+)")]:
    got[(start, {v: k for k, v in LABELS.items()}[who])] += n
check(dict(got) == want and sum(want.values()) == len(adopted), "histogram bars equal days_to_safetensors.csv")
check(len([s for s in charts["days"]["shapes"] if s["tag"] == "line" and s["title"]]) == 9,
      "median and quartile lines for the three adopters")
quartiles = {r[0]: r for r in table("days_quartiles.csv")[1:]}
for who, label in (("developer", "developers"), ("converter-bot", "converter bot"), ("stkit", "stkit convert")):
    _, n, q1, median, q3 = quartiles[who]
    check(f"{label}: median {median} days, quartiles {q1} and {q3} ({n} repositories)" in page, f"{who} quartiles")
# (e) status bar.
got = {s: int(n) for s, n in titles("status", r"(\S+): (\d+) of \d+ repositories \([\d.]+%\)")}
check(got == {s: n for s, n in statuses.items() if n}, "status segments equal status.csv")
# The table: the 200 most telling rows, unsafe first.
rows = re.findall(r"<tr><td>[^<]*</td><td class='([^']+)'>", page)
check(len(rows) == 200 and rows[:statuses["unsafe"]] == ["unsafe"] * statuses["unsafe"], "table: unsafe rows first")

# ---- the screenshot shows every chart's colours ----

def read_png(path):
    """Decodes an 8-bit RGB or RGBA, non-interlaced PNG into rows of (r, g, b) tuples."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, rows, previous = zlib.decompress(idat), width * channels, [], bytearray(width * channels)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = previous[i]
            c = previous[i - channels] if i >= channels else 0
            if kind == 1: line[i] = (line[i] + a) & 255
            elif kind == 2: line[i] = (line[i] + b) & 255
            elif kind == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x * channels:x * channels + 3]) for x in range(width)])
        previous = line
    return rows


image = read_png(SHOT)
seen = Counter(pixel for row in image for pixel in row)
for name, colour in [("safe status", "#2a7d2a"), ("unsafe status", "#b00000"), ("converter bars", "#0b3d91"),
                     ("developer bars", "#c71585"), ("stkit bars", "#e6a000"), ("safetensors share", "#2ca02c"),
                     ("torch.save share", "#d62728"), ("pickle share", "#ff7f0e")]:
    rgb = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    check(seen[rgb] > 400, f"{name}: {seen[rgb]} pixels of {colour} in the screenshot")
# ---- an audit without adoptions: each adoption chart gives way to a note saying why ----
check("class='empty'" not in page, "no empty-chart note on a page with adoptions")


def render_without_adoptions(history):
    """The page of the 300 repositories with no adoption: without history at all (an audit run
    without --history), or with histories that never add a safetensors file."""
    doc = json.loads(json.dumps(document))
    doc["audit"]["history"] = history
    for r in doc["repos"]:
        if not history:
            r["history"] = None
            continue
        h = r["history"]
        h["first_safetensors_commit"] = h["days_to_safetensors"] = h["days_from_first_model"] = None
        h["safetensors_commits"] = {k: 0 for k in h["safetensors_commits"]}
    name = "history" if history else "no-history"
    source, target = os.path.join(SCRATCH, f"{name}.json"), os.path.join(SCRATCH, f"{name}.html")
    with open(source, "w") as f:
        json.dump(doc, f)
    subprocess.run([STKIT, "audit", "report", source, "--html", target], check=True, capture_output=True)
    return open(target, encoding="utf-8").read()


for history, why in ((False, "it read no git history. Run stkit audit with --history on git repositories"),
                     (True, "no repository&#39;s git history adds a safetensors file.")):
    empty = render_without_adoptions(history)
    for chart in ("adoptions", "heatmap", "days"):
        check(f"<svg id='{chart}'" not in empty, f"history={history}: no empty {chart} chart drawn")
        note = re.search(rf"<p class='empty' id='{chart}-empty'>([^<]*)</p>", empty)
        check(note is not None and note.group(1) == "No adoptions in this audit: " + why + (
            " to chart when each one adopted safetensors." if not history else ""),
              f"history={history}: the {chart} chart is replaced by a note saying why it is empty")
    for chart in ("status", "share", "share-year"):
        check(f"<svg id='{chart}'" in empty, f"history={history}: chart {chart} still drawn")

if os.environ.get("STKIT_REPORT_SHOT"):
    shutil.copyfile(SHOT, os.environ["STKIT_REPORT_SHOT"])
print(f"{len(FAILURES)} failures")
sys.exit(1 if FAILURES else 0)
