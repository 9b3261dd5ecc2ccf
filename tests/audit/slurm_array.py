"""The audit's Slurm recipe, run under Slurm: a one-node cluster from Debian's packages
(scripts/slurm/local-cluster), the committed job script (scripts/slurm/audit-array.sbatch) as a
4-task array over a generated tree of repositories, then `stkit audit merge`, whose document must be
byte-identical to one single-process `stkit audit` of the same tree. A cluster that cannot start is a
failure, not a skip. After the cluster is stopped no process of it may be left, pass or fail.

Prints what Slurm said (sbatch, scontrol, sacct) and each task's wall time and peak memory (GNU time
inside the job, and sacct's Elapsed and sampled MaxRSS), the figures docs/audit.md quotes.
STKIT_SLURM_REPOS sets how many repositories are generated besides the fixtures' (default 36)."""
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixtures  # noqa: E402

STKIT = os.environ["STKIT_BIN"]
SCRATCH = os.environ["STKIT_SCRATCH"]
SOURCE = os.environ["STKIT_SOURCE_DIR"]
CLUSTER = os.path.join(SOURCE, "scripts", "slurm", "local-cluster")
JOB_SCRIPT = os.path.join(SOURCE, "scripts", "slurm", "audit-array.sbatch")
TASKS = 4
REPOS = int(os.environ.get("STKIT_SLURM_REPOS", "36"))
shutil.rmtree(SCRATCH, ignore_errors=True)  # a rerun starts from nothing
os.makedirs(SCRATCH)
TREE = os.path.join(SCRATCH, "tree")
PARTS = os.path.join(SCRATCH, "parts")
FAILURES = []


def check(condition, what):
    if not condition:
        FAILURES.append(what)
        print("FAIL:", what, flush=True)


def run(*args, env=None, show=True, timeout=None):
    try:
        done = subprocess.run(list(args), capture_output=True, text=True, cwd=SCRATCH, env=env, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        text = [x.decode(errors="replace") if isinstance(x, bytes) else x or "" for x in (expired.stdout, expired.stderr)]
        done = subprocess.CompletedProcess(args, -1, text[0], text[1] + f"\ntimed out after {timeout} s\n")
    if show:
        print("$", " ".join(os.path.basename(a) if a in (STKIT, CLUSTER) else a for a in args))
        print(done.stdout + done.stderr, end="", flush=True)
    return done


def git_env(date, who):
    return dict(os.environ, GIT_AUTHOR_NAME=who[0], GIT_AUTHOR_EMAIL=who[1], GIT_AUTHOR_DATE=date,
                GIT_COMMITTER_NAME=who[0], GIT_COMMITTER_EMAIL=who[1], GIT_COMMITTER_DATE=date,
                GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1")


def generate(root, count):
    """The fixtures' tree plus `count` repositories in six kinds, spread over organisations and months:
    pickle only, a developer's conversion, the converter's pull request merged from a branch, the
    converter's trailer on a direct commit, a snapshot folder without git, safetensors from the start."""
    fixtures.build(root)
    st, pt = fixtures.safetensors_bytes(), fixtures.torch_bytes()
    for i in range(count):
        name = f"org{i % 5}/model-{i:03d}"
        month = f"{2021 + i // 12 % 4}-{i % 12 + 1:02d}"
        day = lambda d: f"{month}-{d:02d}T{(i * 7) % 24:02d}:30:00+00:00"  # noqa: E731
        kind = i % 6
        if kind == 4:
            folder = os.path.join(root, name)
            fixtures.write(os.path.join(folder, "model.safetensors"), fixtures.safetensors_bytes((float(i), 1.0)))
            fixtures.write(os.path.join(folder, "pytorch_model.bin"), pt)
            stamp = 1609459200 + i * 86400  # 2021-01-01 plus i days
            for file in os.listdir(folder):
                os.utime(os.path.join(folder, file), (stamp, stamp))
            continue
        repo = fixtures.Repo(root, name)
        if kind == 5:
            repo.commit(day(1), "Upload safetensors", files={"model.safetensors": st, "config.json": "{}"})
            repo.commit(day(9), "Update README", files={"README.md": f"model {i}\n"})
            continue
        repo.commit(day(1), "Upload weights", files={"pytorch_model.bin": pt, "config.json": "{}"})
        if kind == 1:
            repo.commit(day(12), "Convert to safetensors", files={"model.safetensors": st})
        elif kind == 2:
            # The Hub's way: the converter's pull request on a branch, merged by a maintainer.
            repo.git("checkout", "-q", "-b", "pr/1")
            repo.commit(day(14), fixtures.BOT_MESSAGE + " (#1)", who=("SFconvertbot", "SFconvertbot@example.com"),
                        files={"model.safetensors": st})
            repo.git("checkout", "-q", "main")
            repo.commit(day(15), "Update config", files={"config.json": "{\"v\": 2}"})
            repo.git("merge", "-q", "--no-ff", "-m", "Merge pull request #1", "pr/1",
                     env=git_env(day(20), fixtures.MERGER))
        elif kind == 3:
            repo.commit(day(18), "Upload model.safetensors\n\n" + fixtures.BOT_TRAILER, files={"model.safetensors": st})
        if i % 4 == 0:
            repo.commit(day(25), "Remove pickle weights", remove=["pytorch_model.bin"])


def gnu_time(path):
    """Wall seconds and peak resident kilobytes from a `/usr/bin/time -v` report."""
    with open(path) as f:
        text = f.read()
    clock = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    h, m, s = clock.groups()
    return int(h or 0) * 3600 + int(m) * 60 + float(s), int(rss.group(1))


def leftovers(folder):
    """Processes that still name the cluster's folder in their command line or environment."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        for what in ("cmdline", "environ"):
            try:
                with open(f"/proc/{pid}/{what}", "rb") as f:
                    if folder.encode() in f.read():
                        with open(f"/proc/{pid}/cmdline", "rb") as c:
                            found.append(pid + " " + c.read().replace(b"\0", b" ").decode(errors="replace"))
                        break
            except OSError:
                pass
    return found


def audit_under_slurm(env):
    """Submits the array, checks every part and the merge; returns the per-task figures."""
    os.makedirs(PARTS)
    run("sinfo", env=env)
    started = time.monotonic()
    # Bounded below the test's own timeout, so that a job that never runs still ends in a stop.
    submit = run("sbatch", f"--array=0-{TASKS - 1}", "--wait", JOB_SCRIPT, TREE, PARTS, str(TASKS), "--history",
                 env=env, timeout=600)
    elapsed = time.monotonic() - started
    check(submit.returncode == 0, f"sbatch --wait exit code {submit.returncode}")
    job = re.search(r"Submitted batch job (\d+)", submit.stdout)
    check(job is not None, "sbatch printed the job id")
    if job is None:
        return []
    job = job.group(1)
    print(f"array of {TASKS} tasks finished {elapsed:.1f} s after submission")
    # Slurm's own account of the tasks, from its accounting database. slurmctld sends the records
    # to slurmdbd on its own time, so wait for all of them to read COMPLETED.
    fields = "JobID,JobName,State,ExitCode,Elapsed,MaxRSS"
    for _ in range(60):
        rows = run("sacct", "-j", job, "-n", "-P", f"--format={fields}", env=env, show=False).stdout.splitlines()
        tasks = {row.split("|")[0]: row.split("|") for row in rows if re.fullmatch(rf"{job}_\d+", row.split("|")[0])}
        if len(tasks) == TASKS and all(t[2] == "COMPLETED" for t in tasks.values()):
            break
        time.sleep(0.5)
    run("sacct", "-j", job, f"--format={fields}", env=env)
    for task in range(TASKS):
        row = tasks.get(f"{job}_{task}")
        check(row is not None and row[2:4] == ["COMPLETED", "0:0"], f"sacct: array task {task} completed: {row}")
    sampled = {row.split("|")[0]: row.split("|")[4:6] for row in rows}
    with open(os.path.join(SCRATCH, "single.json"), "rb") as f:
        single = f.read()
    everyone = [r["repo"] for r in json.loads(single)["repos"]]
    parts, seen, figures = [], [], []
    for task in range(TASKS):
        k = task + 1
        part = os.path.join(PARTS, f"shard-{k}-of-{TASKS}.json")
        check(os.path.exists(part), f"task {task} wrote {os.path.basename(part)}")
        if not os.path.exists(part):
            continue
        parts.append(part)
        with open(part) as f:
            document = json.load(f)
        check(document["audit"]["shard"] == f"{k}/{TASKS}" and document["audit"]["history"] is True,
              f"header of shard {k}: {document['audit']}")
        names = [r["repo"] for r in document["repos"]]
        check(len(names) > 0, f"shard {k} holds repositories")
        seen += names
        log = os.path.join(SCRATCH, f"stkit-audit-{job}_{task}.log")
        with open(log) as f:
            check(f"shard {k}/{TASKS} of {TREE}" in f.read(), f"task {task}'s log names its shard")
        wall, rss = gnu_time(os.path.join(PARTS, f"shard-{k}-of-{TASKS}.time"))
        elapsed, max_rss = sampled.get(f"{job}_{task}.batch", ["?", "?"])
        figures.append((task, k, len(names), wall, rss, elapsed, max_rss))
    check(sorted(seen) == sorted(everyone), "the shards partition the repositories of the single run")

    merge = run(STKIT, "audit", "merge", "merged.json", *parts, env=env)
    check(merge.returncode == 0, f"merge exit code {merge.returncode}")
    check("missing" not in merge.stderr, "merge warns of no missing shard")
    merged_path = os.path.join(SCRATCH, "merged.json")
    if os.path.exists(merged_path):
        with open(merged_path, "rb") as f:
            merged = f.read()
        check(merged == single, "the merged document is byte-identical to the single-process audit")
        print(f"merged.json: {len(merged)} bytes, {len(json.loads(merged)['repos'])} repositories, "
              f"{'identical' if merged == single else 'DIFFERENT'} to single.json")
    else:
        check(False, "merge wrote merged.json")
    return figures


def main():
    # The documented recipe is the file this test submits.
    with open(JOB_SCRIPT) as f, open(os.path.join(SOURCE, "docs", "audit.md")) as doc:
        check(f"```bash\n{f.read()}```" in doc.read(), "docs/audit.md shows scripts/slurm/audit-array.sbatch verbatim")
    generate(TREE, REPOS)
    single = run("/usr/bin/time", "-v", "-o", "single.time", STKIT, "audit", TREE, "--history", "--json", "single.json")
    check(single.returncode == 0, f"single-process audit exit code {single.returncode}")
    single_wall, single_rss = gnu_time(os.path.join(SCRATCH, "single.time"))

    start = run(CLUSTER, "start", "--owner", str(os.getpid()))
    conf = re.search(r"^SLURM_CONF=(.+)$", start.stdout, re.M)
    check(start.returncode == 0 and conf is not None, f"local-cluster start (exit code {start.returncode})")
    if conf is None:
        return
    folder = os.path.dirname(conf.group(1))
    env = dict(os.environ, SLURM_CONF=conf.group(1), STKIT=STKIT)
    try:
        figures = audit_under_slurm(env)
    finally:
        stop = run(CLUSTER, "stop", folder)
        check(stop.returncode == 0, f"local-cluster stop exit code {stop.returncode}")
        check(not os.path.exists(folder), f"{folder} removed")
        left = leftovers(folder)
        check(not left, f"no process of the cluster left running: {left}")
    print(f"\nper task: GNU time around stkit inside the job, and sacct for the task's batch step"
          f" (sampled each second); single process: {single_wall:.2f} s, {single_rss / 1024:.1f} MB")
    print("task  shard  repositories  wall s  max RSS MB  sacct Elapsed  sacct MaxRSS")
    for task, k, names, wall, rss, elapsed, max_rss in figures:
        print(f"{task:>4}  {k}/{TASKS}  {names:>12}  {wall:>6.2f}  {rss / 1024:>10.1f}  {elapsed:>13}  {max_rss:>12}")


main()
if FAILURES:
    print(f"{len(FAILURES)} check(s) failed")
    sys.exit(1)
print("slurm array: all checks passed")
