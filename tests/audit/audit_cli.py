"""stkit audit over a scripted tree of repositories: JSON fields, CSV rows and aggregates asserted
exactly; --jobs and --shard/merge give byte-identical documents; merge rejects bad inputs."""
import csv
import hashlib
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scratch  # noqa: E402
import fixtures  # noqa: E402

STKIT, SCRATCH = scratch.setup()
TREE = os.path.join(SCRATCH, "tree")
IDS = fixtures.build(TREE)
FAILURES = []


def check(condition, what):
    if not condition:
        FAILURES.append(what)
        print("FAIL:", what)


def equal(actual, expected, what):
    check(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


def stkit(*args, expect=0):
    run = subprocess.run([STKIT, "audit", *args], capture_output=True, text=True, cwd=SCRATCH)
    if run.returncode != expect:
        print(run.stdout, run.stderr)
    equal(run.returncode, expect, f"exit code of audit {' '.join(args)}")
    return run


def on_disk(repo, path):
    with open(os.path.join(TREE, repo, path), "rb") as f:
        data = f.read()
    return len(data), hashlib.sha256(data).hexdigest()


def real(repo, path, fmt, verdict):
    size, digest = on_disk(repo, path)
    return {"path": path, "format": fmt, "verdict": verdict, "bytes": size, "sha256": digest, "lfs_pointer": False}


def st(repo, path):
    return real(repo, path, "safetensors", "safe")


def pt(repo, path):
    return real(repo, path, "torch-zip", "safe")


def adoption(repo, date, author, bot, commit=None):
    # The fixtures give author and committer the same date.
    return {"commit": commit or IDS[repo]["adoption"], "date": date, "author": author, "by_converter": bot,
            "adopted_by": "converter-bot" if bot else "developer", "author_date": date,
            "converter": "converter-bot" if bot else None}


def history(commits, first_model, first_model_date, first_st, days, removed, converter, developer):
    # Every fixture's first commit holds a model file, except pickle-only's and docs-only's.
    model_days = days
    if first_st and first_model_date:
        from datetime import datetime
        parse = lambda t: datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
        model_days = (parse(first_st["date"]) - parse(first_model_date)).days
    return {"commits": commits, "first_model_commit": first_model, "first_model_date": first_model_date,
            "first_safetensors_commit": first_st, "days_to_safetensors": days, "days_from_first_model": model_days,
            "unsafe_removed_after": removed,
            "safetensors_commits": {"converter": converter, "developer": developer, "stkit": 0}}


DANA, MERGER = "Dana Developer <dana@example.com>", "Hub Merger <merger@example.com>"
HUB = "hub/models--org--tiny/snapshots/abc123"
EXPECTED = {
    "bot-message": ("mixed", True, True, "2022-03-01",
                    [st("bot-message", "adapter.safetensors"), st("bot-message", "model.safetensors"),
                     pt("bot-message", "pytorch_model.bin")],
                    history(3, IDS["bot-message"]["first"], "2022-03-01T10:00:00Z",
                            adoption("bot-message", "2022-03-11T10:00:00Z", MERGER, True), 10, False, 1, 1)),
    "bot-trailer": ("mixed", True, True, "2022-03-05",
                    [st("bot-trailer", "model.safetensors"), pt("bot-trailer", "pytorch_model.bin")],
                    history(2, IDS["bot-trailer"]["first"], "2022-03-05T08:00:00Z",
                            adoption("bot-trailer", "2022-04-05T07:59:59Z", DANA, True), 30, False, 1, 0)),
    "developer": ("mixed", True, True, "2022-04-01",
                  [pt("developer", "training_args.bin"), pt("developer", "unet/diffusion_pytorch_model.bin"),
                   st("developer", "unet/diffusion_pytorch_model.safetensors")],
                  history(2, IDS["developer"]["first"], "2022-04-01T00:00:00Z",
                          adoption("developer", "2022-04-03T12:00:00Z", DANA, False), 2, False, 0, 1)),
    "docs-only": ("no-model", True, True, "2022-01-05", [], history(1, None, None, None, None, False, 0, 0)),
    HUB: ("safe", True, False, "2021-07-15", [st(HUB, "model.safetensors")], None),
    "lfs": ("mixed", True, True, "2023-02-14",
            [{"path": "model.safetensors", "format": "safetensors", "verdict": "unknown", "bytes": 270,
              "sha256": IDS["lfs"]["st_oid"], "lfs_pointer": True},
             {"path": "pytorch_model.bin", "format": "torch-zip", "verdict": "unknown", "bytes": 440,
              "sha256": IDS["lfs"]["bin_oid"], "lfs_pointer": True}],
            history(1, IDS["lfs"]["first"], "2023-02-14T00:00:00Z",
                    adoption("lfs", "2023-02-14T00:00:00Z", DANA, False, IDS["lfs"]["first"]), 0, False, 0, 1)),
    "nested/group/deep-repo": ("safe", True, True, "2022-03-20",
                               [real("nested/group/deep-repo", "sub/dir/weights.npy", "npy", "safe")],
                               history(1, IDS["nested/group/deep-repo"]["first"], "2022-03-20T00:00:00Z", None, None, False, 0, 0)),
    "pickle-only": ("unsafe", False, True, "2022-01-10",
                    [real("pickle-only", "model.pkl", "pickle", "dangerous")],
                    history(2, IDS["pickle-only"]["model"], "2022-01-11T09:00:00Z", None, None, False, 0, 0)),
    "removed": ("safe", True, True, "2023-01-01", [st("removed", "model.safetensors")],
                history(3, IDS["removed"]["first"], "2023-01-01T00:00:00Z",
                        adoption("removed", "2023-01-02T06:00:00Z", DANA, False), 1, True, 0, 1)),
    "sharded": ("mixed", True, True, "2022-05-01",
                [st("sharded", "model-00001-of-00002.safetensors"), st("sharded", "model-00002-of-00002.safetensors"),
                 pt("sharded", "pytorch_model-00001-of-00002.bin"), pt("sharded", "pytorch_model-00002-of-00002.bin")],
                history(3, IDS["sharded"]["first"], "2022-05-01T00:00:00Z",
                        adoption("sharded", "2022-06-15T00:00:00Z", MERGER, True), 45, False, 1, 0)),
}
FAMILIES = ["safetensors", "torch.save", "pickle", "joblib", "numpy", "hdf5", "onnx", "gguf", "other"]


def families(**counts):
    return {name: counts.get(name.replace(".", "_"), 0) for name in FAMILIES}


MONTHS = [("2021-07", 1, families(safetensors=1)), ("2022-01", 1, families(pickle=1)),
          ("2022-03", 3, families(safetensors=2, torch_save=2, numpy=1)),
          ("2022-04", 1, families(safetensors=1, torch_save=1)), ("2022-05", 1, families(safetensors=1, torch_save=1)),
          ("2023-01", 1, families(safetensors=1)), ("2023-02", 1, families(safetensors=1, torch_save=1))]
ADOPTIONS = [("2022-03", 1, 0), ("2022-04", 1, 1), ("2022-06", 1, 0), ("2023-01", 0, 1), ("2023-02", 0, 1)]

# ---- the full run ----
run = stkit(TREE, "--history", "--json", "full.json", "--csv", "csv", "--html", "full.html")
equal(run.stdout.splitlines()[0], "10 repositories: 3 safe, 5 mixed, 1 unsafe, 1 without model files", "text summary")
with open(os.path.join(SCRATCH, "full.json")) as f:
    document = json.load(f)
equal(document["audit"], {"format": "stkit-audit", "version": 1, "history": True, "shard": None}, "audit header")
equal([r["repo"] for r in document["repos"]], sorted(EXPECTED), "repositories found, in order")
for repo in document["repos"]:
    status, covered, git, created, files, hist = EXPECTED[repo["repo"]]
    name = repo["repo"]
    equal(repo["status"], status, f"{name} status")
    equal(repo["unsafe_covered"], covered, f"{name} unsafe_covered")
    equal(repo["git"], git, f"{name} git")
    equal(repo["created"], created, f"{name} created")
    got_files = [{k: f[k] for k in ("path", "format", "verdict", "bytes", "sha256", "lfs_pointer")} for f in repo["files"]]
    equal(got_files, files, f"{name} files")
    equal(repo["history"], hist, f"{name} history")
    equal(repo["error"], None, f"{name} error")

summary = document["summary"]
for key, value in {"repositories": 10, "model_files": 18, "lfs_pointers": 2, "errors": 0,
                   "status": {"safe": 3, "mixed": 5, "unsafe": 1, "no-model": 1}, "unsafe_covered": 5,
                   "families": families(safetensors=7, torch_save=5, pickle=1, numpy=1), "commits": 18,
                   "adoption": {"repositories": {"converter": 3, "developer": 3, "stkit": 0},
                                "commits": {"converter": 3, "developer": 4, "stkit": 0}}}.items():
    equal(summary[key], value, f"summary.{key}")
equal([(m["month"], m["repositories"], m["families"]) for m in summary["by_creation_month"]], MONTHS, "by_creation_month")
for m in summary["by_creation_month"]:
    equal(m["share"], {k: round(v / m["repositories"], 4) for k, v in m["families"].items()}, f"share {m['month']}")
equal([(a["month"], a["converter"], a["developer"]) for a in summary["adoptions_by_month"]], ADOPTIONS, "adoptions")
equal(summary["adoptions_by_month"][-1]["cumulative_converter"], 3, "cumulative converter")
equal(summary["adoptions_by_month"][-1]["cumulative_developer"], 3, "cumulative developer")

# The run's page is the report's (tests/audit/audit_report.py checks it in a browser).
page = open(os.path.join(SCRATCH, "full.html"), encoding="utf-8").read()
for chart in ("status", "adoptions", "heatmap", "share", "share-year", "days"):
    check(f"<svg id='{chart}'" in page, f"--html draws chart {chart}")
equal(page.count("<tr><td>"), 10, "--html lists every repository of a small audit")

# ---- CSV tables ----
def table(name):
    with open(os.path.join(SCRATCH, "csv", name), newline="") as f:
        return list(csv.reader(f))


def text(value):
    return "" if value is None else ("true" if value is True else "false" if value is False else str(value))


repos_csv = table("repos.csv")
equal(repos_csv[0], ["repo", "status", "unsafe_covered", "git", "created", "model_files", "commits",
                     "first_model_commit", "first_model_date", "safetensors_commit", "safetensors_date",
                     "safetensors_author_date", "safetensors_author", "by_converter", "adopted_by",
                     "days_to_safetensors", "days_from_first_model", "unsafe_removed_after", "error"],
      "repos.csv header")
expected_rows = []
for name in sorted(EXPECTED):
    status, covered, git, created, files, hist = EXPECTED[name]
    h = hist or {}
    a = h.get("first_safetensors_commit") or {}
    expected_rows.append([name, status, text(covered), text(git), created, str(len(files)), text(h.get("commits")),
                          text(h.get("first_model_commit")), text(h.get("first_model_date")), text(a.get("commit")),
                          text(a.get("date")), text(a.get("author_date")), text(a.get("author")),
                          text(a.get("by_converter")), text(a.get("adopted_by")), text(h.get("days_to_safetensors")),
                          text(h.get("days_from_first_model")), text(h.get("unsafe_removed_after")), ""])
equal(repos_csv[1:], expected_rows, "repos.csv rows")
equal(table("files.csv"), [["repo", "path", "format", "verdict", "bytes", "sha256", "lfs_pointer"]] +
      [[name, f["path"], f["format"], f["verdict"], str(f["bytes"]), f["sha256"], text(f["lfs_pointer"])]
       for name in sorted(EXPECTED) for f in EXPECTED[name][4]], "files.csv")
equal(table("monthly.csv"), [["month", "repositories"] + FAMILIES] +
      [[m, str(n)] + [str(c[f]) for f in FAMILIES] for m, n, c in MONTHS], "monthly.csv")
# The chart tables: adoptions over every month from the first adoption to the last (zero months too).
every_month = [f"{y}-{m:02d}" for y in (2022, 2023) for m in range(1, 13)][2:14]
by_month = {m: (c, d) for m, c, d in ADOPTIONS}
equal(table("adoptions.csv"), [["month", "converter", "developer", "stkit"]] +
      [[m, str(by_month.get(m, (0, 0))[0]), str(by_month.get(m, (0, 0))[1]), "0"] for m in every_month],
      "adoptions.csv")
heat = {y: [0] * 12 for y in (2022, 2023)}
for m, c, d in ADOPTIONS:
    heat[int(m[:4])][int(m[5:]) - 1] += c + d
equal(table("adoption_heatmap.csv"), [["year"] + [f"{m:02d}" for m in range(1, 13)]] +
      [[str(y)] + [str(n) for n in heat[y]] for y in (2022, 2023)], "adoption_heatmap.csv")
years = {}
for m, n, c in MONTHS:
    row = years.setdefault(m[:4], [0] * (1 + len(FAMILIES)))
    row[0] += n
    for i, f in enumerate(FAMILIES):
        row[1 + i] += c[f]
equal(table("yearly.csv"), [["year", "repositories"] + FAMILIES] + [[y] + [str(v) for v in years[y]] for y in sorted(years)],
      "yearly.csv")
equal(table("status.csv"), [["status", "repositories"], ["safe", "3"], ["mixed", "5"], ["unsafe", "1"], ["no-model", "1"]],
      "status.csv")
# Days from the first model commit: converter 10, 30, 45; developer 2, 1, 0. The longest, 45, is
# too many one-day bars (40 at most), so the bins are weeks: 0-6, 7-13, ... 42-48.
weeks = [[7 * w, 7 * w + 6, 0, 0] for w in range(7)]
for d in (10, 30, 45):
    weeks[d // 7][2] += 1
for d in (2, 1, 0):
    weeks[d // 7][3] += 1
equal(table("days_to_safetensors.csv"), [["days_from", "days_to", "converter", "developer", "stkit"]] +
      [[str(a), str(b), str(c), str(v), "0"] for a, b, c, v in weeks], "days_to_safetensors.csv")
# Nearest rank: of 3 values the ranks are 1, 2, 3; of 6 they are 2, 3, 5.
equal(table("days_quartiles.csv"), [["adopted_by", "repositories", "q1", "median", "q3"],
                                    ["developer", "3", "0", "1", "2"], ["converter-bot", "3", "10", "30", "45"],
                                    ["stkit", "0", "", "", ""], ["all", "6", "1", "2", "30"]], "days_quartiles.csv")
summary_csv = dict(table("summary.csv")[1:])
equal((summary_csv["status.mixed"], summary_csv["adopted_repositories.converter"],
       summary_csv["adopting_commits.developer"], summary_csv["family.torch.save"]), ("5", "3", "4", "5"), "summary.csv")

# ---- determinism: --jobs, shards + merge ----
stkit(TREE, "--history", "--jobs", "2", "--json", "jobs2.json")
full = open(os.path.join(SCRATCH, "full.json"), "rb").read()
equal(open(os.path.join(SCRATCH, "jobs2.json"), "rb").read(), full, "--jobs 2 document equals --jobs 1")
shard_files, shard_repos = [], []
for k in (1, 2, 3):
    name = f"shard{k}.json"
    stkit(TREE, "--history", "--shard", f"{k}/3", "--json", name)
    shard_files.append(name)
    with open(os.path.join(SCRATCH, name)) as f:
        shard_repos += [r["repo"] for r in json.load(f)["repos"]]
equal(sorted(shard_repos), sorted(EXPECTED), "shards partition the repositories")
check(all(len([r for r in shard_repos]) for _ in [0]), "shards")
stkit("merge", "merged.json", *shard_files)
equal(open(os.path.join(SCRATCH, "merged.json"), "rb").read(), full, "merged shards equal the unsharded document")

# ---- refusals ----
bad = stkit("merge", "twice.json", shard_files[0], shard_files[0], expect=2)
check("audit JSON to merge is malformed" in bad.stderr and "given twice" in bad.stderr, f"duplicate shard: {bad.stderr}")
with open(os.path.join(SCRATCH, "truncated.json"), "wb") as f:
    f.write(full[: len(full) // 2])
bad = stkit("merge", "cut.json", "truncated.json", expect=2)
check("audit JSON to merge is malformed" in bad.stderr, f"truncated input: {bad.stderr}")
check(not os.path.exists(os.path.join(SCRATCH, "cut.json")), "no output after a refused merge")
tampered = json.loads(full)
tampered["repos"][0]["status"] = "safe"
with open(os.path.join(SCRATCH, "tampered.json"), "w") as f:
    json.dump(tampered, f)
bad = stkit("merge", "tampered-out.json", "tampered.json", expect=2)
check("status" in bad.stderr, f"tampered status: {bad.stderr}")
bad = stkit(TREE, "--shard", "4/3", expect=2)
check("invalid --shard" in bad.stderr, f"bad shard: {bad.stderr}")
bad = stkit(TREE, "--json", "full.json", expect=2)
check("already exists" in bad.stderr, f"existing output: {bad.stderr}")

# ---- per-commit model files on request ----
stkit(os.path.join(TREE, "removed"), "--commit-files", "--json", "commits.json")
with open(os.path.join(SCRATCH, "commits.json")) as f:
    rows = json.load(f)["repos"][0]["history"]["commit_files"]
equal([r["files"] for r in rows], [["model.ckpt:torch-zip"], ["model.ckpt:torch-zip", "model.safetensors:safetensors"],
                                   ["model.safetensors:safetensors"]], "commit_files of removed")
equal(rows[1]["commit"], IDS["removed"]["adoption"], "commit_files commit ids")

print(f"{len(FAILURES)} failures")
sys.exit(1 if FAILURES else 0)
