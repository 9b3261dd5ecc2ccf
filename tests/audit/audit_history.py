"""stkit audit --history over merge-shaped histories made here with git: the default walk sees every
commit reachable from HEAD, --first-parent gives the answer of the first-parent walk; adoption is
the earliest commit by committer date (UTC) adding a safetensors path absent from all its parents;
the bot, stkit convert and developers are told apart; shards merge into the single-process document."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scratch  # noqa: E402
from fixtures import BOT_MESSAGE, DEV, Repo, safetensors_bytes, torch_bytes  # noqa: E402

STKIT, SCRATCH = scratch.setup()
TREE = os.path.join(SCRATCH, "tree")
os.makedirs(TREE)
BOT = ("SFconvertbot", "SFconvertbot@users.noreply.huggingface.co")
ST, PT = safetensors_bytes(), torch_bytes()
FAILURES = []


def equal(actual, expected, what):
    if actual != expected:
        FAILURES.append(what)
        print(f"FAIL: {what}: expected {expected!r}, got {actual!r}")


ids = {}

# A: the bot's pull request on a branch, merged by a developer with a merge commit.
r = Repo(TREE, "bot-branch")
c1 = r.commit("2022-01-01T00:00:00+00:00", "Upload", files={"pytorch_model.bin": PT})
r.git("checkout", "-q", "-b", "pr")
bot = r.commit("2022-02-01T00:00:00+00:00", BOT_MESSAGE, who=BOT, files={"model.safetensors": ST})
r.git("checkout", "-q", "main")
r.commit("2022-02-05T00:00:00+00:00", "README", files={"README.md": "hi\n"})
merge = r.merge("2022-02-10T00:00:00+00:00", "Merge branch 'pr'", "pr")
ids["bot-branch"] = dict(first=c1, bot=bot, merge=merge)

# B: an octopus merge of three branches; the bot's branch and a developer's each add a file.
r = Repo(TREE, "octopus")
c1 = r.commit("2022-03-01T00:00:00+00:00", "Upload", files={"pytorch_model.bin": PT})
for name, date, who, files in (("b1", "02", DEV, {"notes.txt": "n\n"}), ("b2", "03", BOT, {"model.safetensors": ST}),
                               ("b3", "04", DEV, {"adapter.safetensors": ST})):
    r.git("checkout", "-q", "-b", name, c1)
    ids[name] = r.commit(f"2022-03-{date}T00:00:00+00:00", "Work", who=who, files=files)
r.git("checkout", "-q", "main")
octopus = r.merge("2022-03-10T00:00:00+00:00", "Octopus", "b1", "b2", "b3")
equal(len(r.git("log", "-1", "--format=%P").split()), 4, "the octopus has four parents")
ids["octopus"] = dict(first=c1, bot=ids["b2"], merge=octopus)

# C: criss-cross merges: main and x each merge the other's tip, then main merges x again.
r = Repo(TREE, "criss-cross")
c1 = r.commit("2022-04-01T00:00:00+00:00", "Upload", files={"pytorch_model.bin": PT})
r.git("checkout", "-q", "-b", "x")
x1 = r.commit("2022-04-02T00:00:00+00:00", "Docs", files={"README.md": "x\n"})
r.git("checkout", "-q", "main")
m1 = r.commit("2022-04-03T00:00:00+00:00", BOT_MESSAGE + " (#1)", files={"model.safetensors": ST})
r.merge("2022-04-05T00:00:00+00:00", "Merge x", x1)
r.git("checkout", "-q", "x")
r.merge("2022-04-06T00:00:00+00:00", "Merge main", m1)
r.git("checkout", "-q", "main")
r.merge("2022-04-07T00:00:00+00:00", "Merge x again", "x")
ids["criss-cross"] = dict(first=c1, bot=m1)

# D: safetensors added by a developer, deleted, re-added by the bot: the first addition is the adoption.
r = Repo(TREE, "re-added")
c1 = r.commit("2022-05-01T00:00:00+00:00", "Upload", files={"model.ckpt": PT})
dev = r.commit("2022-05-02T12:00:00+00:00", "Try safetensors", files={"model.safetensors": ST})
r.commit("2022-05-03T00:00:00+00:00", "Revert", remove=["model.safetensors"])
r.commit("2022-05-04T00:00:00+00:00", BOT_MESSAGE, who=BOT, files={"model.safetensors": ST})
ids["re-added"] = dict(first=c1, dev=dev)

# E: committer dates on both sides of UTC midnight at a month's end; author dates elsewhere.
r = Repo(TREE, "tz-east")
c1 = r.commit("2022-02-20T12:00:00+00:00", "Upload", files={"pytorch_model.bin": PT})
east = r.commit("2022-02-27T10:00:00+00:00", "Add safetensors", files={"model.safetensors": ST},
                committer_date="2022-03-01T00:30:00+01:00")  # 2022-02-28T23:30:00Z
ids["tz-east"] = dict(first=c1, adoption=east)
r = Repo(TREE, "tz-west")
c1 = r.commit("2022-02-20T12:00:00+00:00", "Upload", files={"pytorch_model.bin": PT})
west = r.commit("2022-03-05T00:00:00+00:00", "Add safetensors", files={"model.safetensors": ST},
                committer_date="2022-02-28T23:30:00-02:00")  # 2022-03-01T01:30:00Z
ids["tz-west"] = dict(first=c1, adoption=west)

# F: the committer date decides, not the author date: a rebased developer commit (authored first,
# committed last) and the bot's commit on two branches.
r = Repo(TREE, "committer-order")
c1 = r.commit("2022-06-01T00:00:00+00:00", "Upload", files={"pytorch_model.bin": PT})
r.git("checkout", "-q", "-b", "rebased")
rebased = r.commit("2022-06-02T00:00:00+00:00", "Mine", files={"a.safetensors": ST},
                   committer_date="2022-06-20T00:00:00+00:00")
r.git("checkout", "-q", "-b", "botpr", c1)
bot = r.commit("2022-06-10T00:00:00+00:00", BOT_MESSAGE, who=BOT, files={"model.safetensors": ST})
r.git("checkout", "-q", "main")
r.merge("2022-06-21T00:00:00+00:00", "Merge both", "rebased", "botpr")
ids["committer-order"] = dict(first=c1, bot=bot)

# G: equal committer times: the parent (topologically first) wins.
r = Repo(TREE, "tie")
c1 = r.commit("2022-07-01T00:00:00+00:00", "Upload", files={"pytorch_model.bin": PT})
parent = r.commit("2022-07-02T00:00:00+00:00", BOT_MESSAGE, who=BOT, files={"a.safetensors": ST})
r.commit("2022-07-02T00:00:00+00:00", "Same second", files={"b.safetensors": ST})
ids["tie"] = dict(first=c1, bot=parent)

# H: stkit convert --commit: the bot's title and a Converted-by trailer: a stkit conversion.
r = Repo(TREE, "stkit-converted")
c1 = r.commit("2022-08-01T00:00:00+00:00", "Upload", files={"pytorch_model.bin": PT})
tool = r.commit("2022-08-03T00:00:00+00:00", BOT_MESSAGE + "\n\nConverted-by: stkit 0.1.0\n",
                files={"model.safetensors": ST})
ids["stkit-converted"] = dict(first=c1, tool=tool)


def audit(*args, name):
    out = os.path.join(SCRATCH, name)
    run = subprocess.run([STKIT, "audit", *args, "--json", out], capture_output=True, text=True)
    equal(run.returncode, 0, f"exit code of audit {args}: {run.stderr}")
    with open(out) as f:
        return {r["repo"]: r["history"] for r in json.load(f)["repos"]}, open(out, "rb").read()


def adoption(hist):
    a = hist["first_safetensors_commit"]
    return a and (a["commit"], a["adopted_by"], a["by_converter"], a["date"])


full, full_bytes = audit(TREE, "--history", name="full.json")
first, _ = audit(TREE, "--first-parent", name="first-parent.json")
D = "2022-{}T00:00:00Z".format
expect_full = {
    "bot-branch": ((ids["bot-branch"]["bot"], "converter-bot", True, D("02-01")), 4, (1, 0, 0)),
    "octopus": ((ids["octopus"]["bot"], "converter-bot", True, D("03-03")), 5, (1, 1, 0)),
    "criss-cross": ((ids["criss-cross"]["bot"], "converter-bot", True, D("04-03")), 6, (1, 0, 0)),
    "re-added": ((ids["re-added"]["dev"], "developer", False, "2022-05-02T12:00:00Z"), 4, (1, 1, 0)),
    "tz-east": ((ids["tz-east"]["adoption"], "developer", False, "2022-02-28T23:30:00Z"), 2, (0, 1, 0)),
    "tz-west": ((ids["tz-west"]["adoption"], "developer", False, "2022-03-01T01:30:00Z"), 2, (0, 1, 0)),
    "committer-order": ((ids["committer-order"]["bot"], "converter-bot", True, D("06-10")), 4, (1, 1, 0)),
    "tie": ((ids["tie"]["bot"], "converter-bot", True, D("07-02")), 3, (1, 1, 0)),
    "stkit-converted": ((ids["stkit-converted"]["tool"], "stkit", False, D("08-03")), 2, (0, 0, 1)),
}
for name, (adopted, commits, (bot_n, dev_n, tool_n)) in expect_full.items():
    h = full[name]
    equal(adoption(h), adopted, f"{name}: adoption")
    equal(h["commits"], commits, f"{name}: commits walked")
    equal(h["safetensors_commits"], {"converter": bot_n, "developer": dev_n, "stkit": tool_n}, f"{name}: adding commits")
    equal(h["first_model_commit"], ids[name]["first"], f"{name}: first model commit")

# Both dates are kept; the committer date is the one used (and the month of each side of midnight).
equal(full["tz-east"]["first_safetensors_commit"]["author_date"], "2022-02-27T10:00:00Z", "tz-east author date")
equal(full["tz-west"]["first_safetensors_commit"]["author_date"], "2022-03-05T00:00:00Z", "tz-west author date")
equal(full["tz-east"]["days_from_first_model"], 8, "tz-east days (committer dates)")
equal(full["tz-west"]["days_from_first_model"], 8, "tz-west days (committer dates)")
equal(full["re-added"]["days_from_first_model"], 1, "re-added days (floor of 1.5)")
summary = json.loads(full_bytes)["summary"]
months = {a["month"]: (a["converter"], a["developer"], a["stkit"]) for a in summary["adoptions_by_month"]}
equal(months.get("2022-02"), (1, 1, 0), "2022-02: bot-branch and tz-east (23:30 UTC on the 28th)")
equal(months.get("2022-03"), (1, 1, 0), "2022-03: octopus and tz-west (01:30 UTC on the 1st)")
equal(months.get("2022-08"), (0, 0, 1), "2022-08: the stkit conversion")
equal(summary["adoption"]["repositories"], {"converter": 5, "developer": 3, "stkit": 1}, "adopting repositories")

# --first-parent: the first-parent walk's answers (the merge commit and its author get the credit).
expect_first = {
    "bot-branch": ((ids["bot-branch"]["merge"], "developer", False, D("02-10")), 3),
    "octopus": ((ids["octopus"]["merge"], "developer", False, D("03-10")), 2),
    "re-added": ((ids["re-added"]["dev"], "developer", False, "2022-05-02T12:00:00Z"), 4),
    "stkit-converted": ((ids["stkit-converted"]["tool"], "stkit", False, D("08-03")), 2),
}
for name, (adopted, commits) in expect_first.items():
    equal(adoption(first[name]), adopted, f"--first-parent {name}: adoption")
    equal(first[name]["commits"], commits, f"--first-parent {name}: commits walked")

# Shards of this tree merge into the single-process document, new fields included.
shards = []
for k in (1, 2, 3):
    audit(TREE, "--history", "--shard", f"{k}/3", name=f"shard{k}.json")
    shards.append(os.path.join(SCRATCH, f"shard{k}.json"))
merged = os.path.join(SCRATCH, "merged.json")
run = subprocess.run([STKIT, "audit", "merge", merged, *shards], capture_output=True, text=True)
equal(run.returncode, 0, f"merge: {run.stderr}")
equal(open(merged, "rb").read() == full_bytes, True, "merged shards equal the single-process document")

# The CSV and the HTML name the stkit conversion too.
csv_dir, page = os.path.join(SCRATCH, "csv"), os.path.join(SCRATCH, "report.html")
run = subprocess.run([STKIT, "audit", "report", os.path.join(SCRATCH, "full.json"), "--csv", csv_dir, "--html", page],
                     capture_output=True, text=True)
equal(run.returncode, 0, f"report: {run.stderr}")
import csv  # noqa: E402
with open(os.path.join(csv_dir, "repos.csv"), newline="") as f:
    rows = {r["repo"]: r for r in csv.DictReader(f)}
equal((rows["stkit-converted"]["adopted_by"], rows["stkit-converted"]["by_converter"]), ("stkit", "false"), "repos.csv stkit")
equal((rows["tz-east"]["safetensors_date"], rows["tz-east"]["safetensors_author_date"]),
      ("2022-02-28T23:30:00Z", "2022-02-27T10:00:00Z"), "repos.csv dates")
html = open(page, encoding="utf-8").read()
equal("2022-08-03 (stkit)" in html, True, "the HTML table names the stkit conversion")
equal("2022-08: 1 by stkit convert" in html, True, "the adoption bars have a stkit segment")

print(f"{len(FAILURES)} failures")
sys.exit(1 if FAILURES else 0)
