"""`stkit convert FOLDER --commit [--branch NAME] [--pr-body FILE]` on real git repositories (made
here with the git CLI) holding real torch checkpoints: the commit on a new branch, checked with the
git CLI; the current branch, HEAD, index and working tree untouched; the exact message; the PR
body; Git LFS pointers; and every refusal, with nothing written."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

import torch

import fixtures
from common import STKIT, check, compare_with_torch, finish, raw_bytes, read_safetensors, scratch

SUBJECT = "Adding `safetensors` variant of this model"
NAME, EMAIL = "Test Maintainer", "maintainer@example.org"
VERSION = subprocess.run([STKIT, "version"], capture_output=True, text=True).stdout.split()[1]


def git(repo, *args, binary=False):
    done = subprocess.run(["git", "-C", repo, *args], capture_output=True, text=not binary, check=False)
    return done.stdout.strip() if not binary else done.stdout


def make_repo(name, fill, identity=True, attributes=None):
    """A git repository on branch main whose one commit holds what `fill(folder)` wrote."""
    repo = scratch(name)
    shutil.rmtree(repo)
    os.makedirs(repo)
    subprocess.run(["git", "init", "-q", "-b", "main", repo], check=True)
    if identity:
        git(repo, "config", "user.name", NAME)
        git(repo, "config", "user.email", EMAIL)
    if attributes:
        with open(os.path.join(repo, ".gitattributes"), "w") as f:
            f.write(attributes)
    fill(repo)
    git(repo, "add", "-A")
    subprocess.run(["git", "-C", repo, "-c", f"user.name={NAME}", "-c", f"user.email={EMAIL}",
                    "commit", "-q", "-m", "Add the model"], check=True)
    return repo


def run(*args, env=None):
    done = subprocess.run([STKIT, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})
    return done.returncode, done.stdout, done.stderr


def state(repo, *made):
    """What a conversion commit must not change: HEAD's name and commit, the index, the working
    tree's status and files, and the branches other than the one it makes."""
    return (git(repo, "symbolic-ref", "-q", "HEAD"), git(repo, "rev-parse", "HEAD"),
            git(repo, "ls-files", "-s"), git(repo, "status", "--porcelain", "--ignored"),
            sorted(os.listdir(repo)), branches(repo, made))


def branches(repo, made=()):
    listed = git(repo, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads").splitlines()
    return [line for line in listed if line.split()[0] not in made]


def tensor_bytes(tensors):
    """Bytes of the distinct tensors (aliases counted once)."""
    seen, total = set(), 0
    for tensor in tensors.values():
        key = (tensor.data_ptr(), tensor.numel())
        if key not in seen:
            seen.add(key)
            total += tensor.numel() * tensor.element_size()
    return total


def extract(repo, rev, path, into):
    """The committed file's bytes, written to `into`."""
    data = git(repo, "show", f"{rev}:{path}", binary=True)
    with open(into, "wb") as f:
        f.write(data)
    return data


def grouped(n):
    return f"{n:,}"


out_dir = scratch("outside")  # PR bodies and extracted blobs, outside every repository

# --- One pytorch_model.bin with tied embeddings: the commit, checked piece by piece. ---------------
single = make_repo("single", fixtures.make_single_folder)
with open(os.path.join(single, "README.md"), "w") as f:
    f.write("# tiny\n")
git(single, "add", "README.md")
git(single, "commit", "-q", "-m", "Add a README")
before = state(single)
original_tree = git(single, "ls-tree", "-r", "HEAD")
head = git(single, "rev-parse", "HEAD")
pr_body = os.path.join(out_dir, "single-pr.md")
code, out, err = run("convert", single, "--commit", "--pr-body", pr_body)
check(code == 0, f"single: exit {code}: {err}")
check("new branch 'safetensors'" in out and "HEAD is still refs/heads/main" in out, f"single: stdout {out}")
check(state(single, "safetensors") == before, f"single: repository state changed:\n{before}\n{state(single)}")
check(not os.path.exists(os.path.join(single, "model.safetensors")), "single: output left in the working tree")
check(git(single, "rev-parse", "safetensors^") == head, "single: the branch's parent is not HEAD")
check(git(single, "rev-list", "--count", "safetensors") == "3", "single: the branch is not HEAD plus one commit")
blob = extract(single, "safetensors", "model.safetensors", os.path.join(out_dir, "single.safetensors"))
blob_id = git(single, "rev-parse", "safetensors:model.safetensors")
expected_tree = sorted(original_tree.splitlines() + [f"100644 blob {blob_id}\tmodel.safetensors"],
                       key=lambda line: line.split("\t")[1])
check(git(single, "ls-tree", "-r", "safetensors").splitlines() == expected_tree,
      f"single: tree is not HEAD's plus model.safetensors: {git(single, 'ls-tree', '-r', 'safetensors')}")
check(git(single, "log", "-1", "--format=%an <%ae>|%cn <%ce>", "safetensors") == f"{NAME} <{EMAIL}>|{NAME} <{EMAIL}>",
      "single: author/committer is not the configured identity")
compare_with_torch("single committed", os.path.join(single, "pytorch_model.bin"), os.path.join(out_dir, "single.safetensors"))
metadata, _ = read_safetensors(os.path.join(out_dir, "single.safetensors"))
check(metadata.get("head.weight") == "embed.weight", f"single: alias metadata {metadata}")

state_dict = torch.load(os.path.join(single, "pytorch_model.bin"))
count = len(state_dict) - 1  # head.weight is embed.weight
sha = hashlib.sha256(blob).hexdigest()
digests = {name: hashlib.sha256(raw_bytes(t)).hexdigest() for name, t in state_dict.items()}
tensor_lines = "".join(f"  - {name}: {digests[name]}\n" for name in sorted(digests) if name != "head.weight")


def fill(text):
    return textwrap.fill(text, 72, break_on_hyphens=False, break_long_words=False)


expected_message = f"""{SUBJECT}

{fill("Converted by stkit without running the checkpoint's pickle: a restricted reader rebuilt the tensors, and nothing was imported or called. The original files are kept. Source: transformers folder (torch zip).")}

Converted:
- pytorch_model.bin → model.safetensors: {count} tensors, {grouped(tensor_bytes(state_dict))} bytes

{fill('Aliases: 1 tied tensor stored once, each recorded in the file' + "'" + 's metadata as "alias": "kept":')}
- head.weight → same data as embed.weight

{fill(f"Verified: each file was read back after writing, and every tensor's dtype, shape and bytes were compared with the source, re-read independently (an XXH3-128 digest of each tensor on both sides): {count} of {count} tensors identical.")}
SHA-256 of each file (its Git LFS object id) and of each tensor's bytes:
- model.safetensors: {sha}
{tensor_lines}
Converted-by: stkit {VERSION}
"""
check(all(len(line) <= 72 for line in expected_message.splitlines() if not line.lstrip().startswith("- ")), "message width")
message = git(single, "cat-file", "commit", "safetensors", binary=True).decode().split("\n\n", 1)[1]
if not check(message == expected_message, "single: message differs from the expected one"):
    import difflib
    print("".join(difflib.unified_diff(expected_message.splitlines(True), message.splitlines(True))))
trailers = subprocess.run(["git", "interpret-trailers", "--parse"], input=message, capture_output=True, text=True).stdout
check(trailers == f"Converted-by: stkit {VERSION}\n", f"single: git parses the trailers as {trailers!r}")

with open(pr_body) as f:
    body = f.read()
pickle_size = os.path.getsize(os.path.join(single, "pytorch_model.bin"))
for needle in [f"# {SUBJECT}\n", "from safetensors.torch import load_file", 'state_dict = load_file("model.safetensors")',
               'with safe_open("model.safetensors", framework="pt") as f:', "import stkit",
               "from stkit.torch import load_file", f"| PyTorch pickle (1 file) | {grouped(pickle_size)} |",
               f"| safetensors (1 file) | {grouped(len(blob))} |", "| `head.weight` | `embed.weight` |",
               f"| `pytorch_model.bin` | `model.safetensors` | {count} | {grouped(tensor_bytes(state_dict))} |",
               f"| `model.safetensors` | `{sha}` |", f"{count} of {count} tensors identical",
               f"\n---\n\nConverted-by: stkit {VERSION}\n"]:
    check(needle in body, f"single PR body lacks {needle!r}:\n{body}")
# The PR body's snippet, run on the original checkpoint, prints the digests its table lists.
snippet = body.split("To recompute them from the original checkpoint:\n\n```python\n", 1)[-1].split("```", 1)[0]
printed = subprocess.run([sys.executable, "-c", snippet], cwd=single, capture_output=True, text=True)
printed = dict(line.split() for line in printed.stdout.splitlines())
check(printed == digests, f"single PR body: the snippet prints {printed}, torch says {digests}")
for name in digests:
    if name != "head.weight":
        check(f"| `{name}` | `model.safetensors` | `{digests[name]}` |" in body, f"single PR body: digest row of {name}")
change = (len(blob) - pickle_size) * 100 / pickle_size
check(f"({change:+.1f} %)" in body, f"single PR body: size change {change:+.1f} % missing")

# The branch exists now: a second run is refused before converting, and writes nothing.
code, out, err = run("convert", single, "--commit")
check(code == 2 and "cv_git_branch_exists" in err and "safetensors" in err, f"existing branch: exit {code} {err}")
check(state(single, "safetensors") == before, "existing branch: repository state changed")

# --- A custom branch, from a detached HEAD, with --json. ------------------------------------------
git(single, "checkout", "-q", "--detach", "main")
detached = state(single)
code, out, err = run("convert", single, "--commit", "--branch", "convert/st", "--json")
check(code == 0, f"custom branch: exit {code}: {err}")
report = json.loads(out) if code == 0 else {}
check(report.get("commit", {}).get("branch") == "convert/st" and report["commit"].get("parent") == head,
      f"custom branch: JSON {report.get('commit')}")
check(report.get("commit", {}).get("commit") == git(single, "rev-parse", "convert/st"), "custom branch: JSON commit id")
check(state(single, "convert/st") == detached and git(single, "symbolic-ref", "-q", "HEAD") == "", "custom branch: HEAD moved")
check(git(single, "rev-parse", "convert/st^") == head, "custom branch: parent is not HEAD")
check(git(single, "rev-parse", "convert/st:model.safetensors") == blob_id, "custom branch: different bytes committed")
git(single, "checkout", "-q", "main")
check(git(single, "switch", "-q", "convert/st") == "" and os.path.exists(os.path.join(single, "model.safetensors")),
      "custom branch: git switch does not bring the file back")
git(single, "switch", "-q", "main")

# --- A sharded checkpoint, in a subfolder, two shards at once. ------------------------------------
sharded = make_repo("sharded", lambda repo: fixtures.make_sharded(os.path.join(repo, "models", "tiny")))
folder = os.path.join(sharded, "models", "tiny")
before = state(sharded)
code, out, err = run("convert", folder, "--commit", "-j", "2", "--pr-body", os.path.join(out_dir, "sharded-pr.md"))
check(code == 0, f"sharded: exit {code}: {err}")
check(state(sharded, "safetensors") == before, "sharded: repository state changed")
added = git(sharded, "diff", "--name-status", "main", "safetensors").splitlines()
expected_added = ["A\tmodels/tiny/model-00001-of-00002.safetensors", "A\tmodels/tiny/model-00002-of-00002.safetensors",
                  "A\tmodels/tiny/model.safetensors.index.json"]
check(added == expected_added, f"sharded: changes {added}")
for k in (1, 2):
    name = f"model-0000{k}-of-00002.safetensors"
    path = os.path.join(out_dir, "sharded-" + name)
    extract(sharded, "safetensors", f"models/tiny/{name}", path)
    compare_with_torch(f"sharded {k}", os.path.join(folder, f"pytorch_model-0000{k}-of-00002.bin"), path)
index = json.loads(git(sharded, "show", "safetensors:models/tiny/model.safetensors.index.json"))
with open(os.path.join(folder, "pytorch_model.bin.index.json")) as f:
    source_map = json.load(f)["weight_map"]
check(index["weight_map"] == {n: s.replace("pytorch_model", "model").replace(".bin", ".safetensors")
                              for n, s in source_map.items()}, f"sharded: index {index}")
message = git(sharded, "log", "-1", "--format=%B", "safetensors")
for needle in ["- models/tiny/pytorch_model-00001-of-00002.bin → models/tiny/model-00001-of-00002.safetensors: 3 tensors",
               "- models/tiny/pytorch_model.bin.index.json → models/tiny/model.safetensors.index.json: the weight map",
               "Aliases: none", "independently (an XXH3-128 digest of each tensor on both sides): 6 of 6\ntensors identical.", "- models/tiny/model.safetensors.index.json: "]:
    check(needle in message, f"sharded: message lacks {needle!r}:\n{message}")
with open(os.path.join(out_dir, "sharded-pr.md")) as f:
    body = f.read()
check('with open("model.safetensors.index.json") as f:' in body and "| PyTorch pickle (2 files) |" in body,
      f"sharded PR body: {body}")
snippet = body.split("To recompute them from the original checkpoint:\n\n```python\n", 1)[-1].split("```", 1)[0]
printed = subprocess.run([sys.executable, "-c", snippet], cwd=folder, capture_output=True, text=True).stdout.splitlines()
check(len(printed) == 6, f"sharded: the digest snippet printed {printed}")
for line in printed:
    name, digest = line.split()
    check(f"  - {name}: {digest}\n" in message, f"sharded: message lacks the digest of {name}")

# --- Git LFS: the Hub's .gitattributes make the safetensors an LFS pointer. ------------------------
lfs = make_repo("lfs", fixtures.make_single_folder,
                attributes="*.safetensors filter=lfs diff=lfs merge=lfs -text\n")
code, out, err = run("convert", lfs, "--commit")
check(code == 0 and "Git LFS pointer" in out, f"lfs: exit {code}: {out} {err}")
pointer = git(lfs, "show", "safetensors:model.safetensors")
lines = pointer.splitlines()
check(len(lines) == 3 and lines[0] == "version https://git-lfs.github.com/spec/v1" and lines[1].startswith("oid sha256:"),
      f"lfs: not a pointer: {pointer[:200]!r}")
oid = lines[1][len("oid sha256:"):] if len(lines) == 3 else "0" * 64
stored = os.path.join(lfs, ".git", "lfs", "objects", oid[:2], oid[2:4], oid)
if check(os.path.exists(stored), f"lfs: no object at {stored}"):
    with open(stored, "rb") as f:
        data = f.read()
    check(hashlib.sha256(data).hexdigest() == oid and lines[2] == f"size {len(data)}", "lfs: oid or size wrong")
    compare_with_torch("lfs object", os.path.join(lfs, "pytorch_model.bin"), stored)
    check(f"- model.safetensors: {oid}" in git(lfs, "log", "-1", "--format=%B", "safetensors"), "lfs: message oid")
check(git(lfs, "status", "--porcelain") == "", "lfs: working tree changed")

# --- Refusals: exit 2, a message naming the problem, nothing written, no branch. ------------------
def refused(label, folder, needle, *extra, env=None, repo=None):
    """Refused with exit 2 and `needle` in the message; the repository (or plain folder) unchanged."""
    repo = repo or folder
    snapshot = (lambda: state(repo)) if os.path.isdir(os.path.join(repo, ".git")) else (lambda: sorted(os.listdir(repo)))
    before = snapshot()
    code, out, err = run("convert", folder, "--commit", *extra, env=env)
    check(code == 2 and needle in err, f"{label}: exit {code}, stderr {err!r}")
    after = snapshot()
    check(after == before, f"{label}: something changed:\n{before}\n{after}")
    return err


base = make_repo("refusals", fixtures.make_single_folder)
with open(os.path.join(base, "config.json"), "w") as f:
    f.write("{}\n")
git(base, "add", "config.json")
git(base, "commit", "-q", "-m", "config")
with open(os.path.join(base, "config.json"), "a") as f:
    f.write("\n")
err = refused("modified file", base, "cv_git_dirty", )
check("config.json (modified)" in err, f"modified file: {err}")
git(base, "add", "config.json")
check("config.json (staged)" in refused("staged file", base, "cv_git_dirty"), "staged file: path not named")
git(base, "reset", "-q", "--hard")
os.remove(os.path.join(base, "config.json"))
check("config.json (deleted)" in refused("deleted file", base, "cv_git_dirty"), "deleted file: path not named")
git(base, "checkout", "-q", "--", "config.json")
with open(os.path.join(base, "notes.txt"), "w") as f:
    f.write("draft\n")
check("notes.txt (untracked)" in refused("untracked file", base, "cv_git_dirty"), "untracked file: path not named")
os.remove(os.path.join(base, "notes.txt"))
with open(os.path.join(base, ".git", "info", "exclude"), "a") as f:
    f.write("*.log\n")
with open(os.path.join(base, "train.log"), "w") as f:  # ignored files do not make the tree dirty
    f.write("loss\n")

plain = tempfile.mkdtemp(prefix="stkit-not-a-repo-")  # the scratch folder is inside stkit's own checkout
fixtures.make_single_folder(plain)
refused("not a repository", plain, "cv_git_not_worktree")
git(base, "branch", "taken")
refused("existing branch", base, "cv_git_branch_exists", "--branch", "taken")
refused("invalid branch name", base, "invalid_argument", "--branch", "bad..name")
existing_body = os.path.join(out_dir, "existing-pr.md")
with open(existing_body, "w") as f:
    f.write("keep me\n")
refused("existing PR body", base, "output_exists", "--pr-body", existing_body)
with open(existing_body) as f:
    check(f.read() == "keep me\n", "existing PR body: overwritten without --force")
refused("file input", os.path.join(base, "pytorch_model.bin"), "--commit converts a folder", repo=base)
refused("no verification", base, "drop --no-verify", "--no-verify")
empty = make_repo("nothing", lambda repo: open(os.path.join(repo, "config.json"), "w").write("{}"))
refused("nothing to convert", empty, "cv_unrecognized_input")
check(git(empty, "branch", "--list", "safetensors") == "", "nothing to convert: a branch was made")
has = make_repo("has_safetensors", lambda repo: (fixtures.make_single_folder(repo),
                                                 open(os.path.join(repo, "model.safetensors"), "w").write("x")))
refused("safetensors present", has, "cv_git_has_safetensors")
home = tempfile.mkdtemp(dir=out_dir)
anonymous = make_repo("anonymous", fixtures.make_single_folder, identity=False)
refused("no identity", anonymous, "cv_git_no_identity", env={"HOME": home, "XDG_CONFIG_HOME": home})
unborn = scratch("unborn")
shutil.rmtree(unborn)
subprocess.run(["git", "init", "-q", unborn], check=True)
refused("no commit", unborn, "cv_git_no_head")

# --force replaces an existing PR body; the ignored train.log did not block the commit.
code, out, err = run("convert", base, "--commit", "--pr-body", existing_body, "--force")
check(code == 0, f"PR body --force: exit {code}: {err}")
with open(existing_body) as f:
    check(f.read().startswith(f"# {SUBJECT}\n"), "PR body --force: not replaced")
check(os.path.exists(os.path.join(base, "train.log")), "ignored file removed")

# Merged like a pull request, the commit is what `stkit audit --history` reports as a stkit
# conversion (its Converted-by trailer), not the Hub bot's (same subject) nor a developer's.
audited = make_repo("audited", fixtures.make_single_folder)
code, out, err = run("convert", audited, "--commit")
check(code == 0, f"audited: convert exit {code}: {err}")
converted = git(audited, "rev-parse", "safetensors")
subprocess.run(["git", "-C", audited, "-c", f"user.name={NAME}", "-c", f"user.email={EMAIL}", "merge", "-q",
                "--no-ff", "safetensors", "-m", "Merge pull request #1"], check=True)
audit_json = os.path.join(out_dir, "audited.json")
code, out, err = run("audit", audited, "--history", "--json", audit_json, "--force")
check(code == 0, f"audit: exit {code}: {err}")
with open(audit_json) as f:
    history = json.load(f)["repos"][0]["history"]
adoption = history["first_safetensors_commit"]
check(adoption["commit"] == converted, f"audit: adoption at {adoption['commit']}, not the conversion {converted}")
check(adoption["adopted_by"] == "stkit" and adoption["converter"] == "stkit" and adoption["by_converter"] is False,
      f"audit: adopted_by {adoption['adopted_by']}, converter {adoption.get('converter')}, by_converter {adoption['by_converter']}")
check(history["safetensors_commits"] == {"converter": 0, "developer": 0, "stkit": 1},
      f"audit: commit counts {history['safetensors_commits']}")

shutil.rmtree(plain, ignore_errors=True)
finish()
