"""stkit audit --html: the page renders in headless Chromium (no network, no script) and the
screenshot shows both charts: the share bars in their colours in the upper part of the page and the
converter / developer lines below them."""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixtures  # noqa: E402

STKIT = os.environ["STKIT_BIN"]
SCRATCH = os.environ["STKIT_SCRATCH"]
shutil.rmtree(SCRATCH, ignore_errors=True)  # a rerun starts from nothing
os.makedirs(SCRATCH)
TREE = os.path.join(SCRATCH, "tree")
fixtures.build(TREE)
PAGE = os.path.join(SCRATCH, "audit.html")
SHOT = os.path.join(SCRATCH, "audit.png")
for path in (PAGE, SHOT):
    if os.path.exists(path):
        os.remove(path)

subprocess.run([STKIT, "audit", TREE, "--history", "--html", PAGE], check=True, capture_output=True)
html = open(PAGE, encoding="utf-8").read()
assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", ""), "self-contained"
assert html.count("<tr>") == 11, "a header row and one row per repository"

profile = tempfile.mkdtemp()
try:
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--hide-scrollbars", f"--user-data-dir={profile}", f"--screenshot={SHOT}",
                    "--window-size=1200,900", "file://" + PAGE], check=True, capture_output=True, timeout=120)
finally:
    shutil.rmtree(profile, ignore_errors=True)


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


rows = read_png(SHOT)
height = len(rows)


def where(colour):
    """The y coordinates of the pixels with exactly this colour."""
    rgb = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return [y for y, row in enumerate(rows) for pixel in row if pixel == rgb]


failures = []
distinct = {pixel for row in rows[::7] for pixel in row[::7]}
if len(distinct) < 8:
    failures.append(f"the screenshot is nearly blank ({len(distinct)} colours)")
bars = {name: where(colour) for name, colour in
        [("safetensors", "#2ca02c"), ("torch.save", "#d62728"), ("pickle", "#ff7f0e"), ("numpy", "#1f77b4")]}
converter, developer = where("#0b3d91"), where("#c71585")
for name, ys in bars.items():
    # Bars, not just the 12x12 legend swatch.
    if len(ys) < 400:
        failures.append(f"{name} bars: {len(ys)} pixels")
for name, ys in (("converter", converter), ("developer", developer)):
    if len(ys) < 600:
        failures.append(f"{name} line: {len(ys)} pixels")
if not failures:
    share_bottom = max(bars["safetensors"])
    if not max(bars["pickle"]) < min(converter):
        failures.append("the adoption chart is not below the share chart")
    if not share_bottom < height * 0.75 or not min(converter) > height * 0.3:
        failures.append(f"charts out of place: share ends at {share_bottom}, lines start at {min(converter)}")
print("\n".join(failures) or "screenshot looks right")
sys.exit(1 if failures else 0)
