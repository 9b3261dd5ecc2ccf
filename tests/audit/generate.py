"""A synthetic audit JSON document of N repositories, made without git or model files, for the
report tests: creation months over ten years, adoptions by the bot, developers and stkit convert,
every status. Deterministic for a seed. generate(n) returns the document as a dict."""
import datetime
import hashlib
import random

FORMATS = [("safetensors", "safe"), ("torch-zip", "safe"), ("pickle", "dangerous"), ("npy", "safe"),
           ("onnx", "safe"), ("gguf", "safe")]
ADOPTERS = [("converter-bot", True, "converter"), ("developer", False, "developer"), ("stkit", False, "stkit")]


def day(index):
    """2014-01-01 plus `index` days, as YYYY-MM-DD."""
    return (datetime.date(2014, 1, 1) + datetime.timedelta(days=index)).isoformat()


def generate(n, seed=13):
    rng = random.Random(seed)
    repos = []
    for i in range(n):
        name = f"org{i % 97}/model-{i:06d}"
        created = rng.randrange(0, 3650)  # ten years: 120 creation months
        kinds = rng.choice([["torch-zip"], ["safetensors"], ["safetensors", "torch-zip"], ["pickle"], [],
                            ["npy"], ["onnx", "torch-zip"], ["gguf"], ["safetensors", "pickle"]])
        files = []
        for k, fmt in enumerate(sorted(kinds)):
            verdict = dict(FORMATS)[fmt]
            files.append({"path": f"weights{k}.{fmt}", "format": fmt, "verdict": verdict, "bytes": 1000 + k,
                          "sha256": hashlib.sha256(f"{i}/{k}".encode()).hexdigest(), "lfs_pointer": False})
        unsafe = [f["format"] in ("torch-zip", "pickle") for f in files]
        status = "no-model" if not files else "safe" if not any(unsafe) else "unsafe" if all(unsafe) else "mixed"
        history = {"commits": rng.randrange(1, 40), "first_model_commit": None, "first_model_date": None,
                   "first_safetensors_commit": None, "days_to_safetensors": None, "days_from_first_model": None,
                   "unsafe_removed_after": False, "safetensors_commits": {"converter": 0, "developer": 0, "stkit": 0}}
        if files:
            history["first_model_commit"] = hashlib.sha1(f"m{i}".encode()).hexdigest()
            history["first_model_date"] = day(created) + "T12:00:00Z"
        if "safetensors" in kinds:
            wait = int(rng.expovariate(1 / 120))
            adopted_by, bot, key = rng.choices(ADOPTERS, weights=[5, 4, 1])[0]
            date = day(min(created + wait, 3650 + 400)) + "T13:00:00Z"
            history["first_safetensors_commit"] = {
                "commit": hashlib.sha1(f"s{i}".encode()).hexdigest(), "date": date, "author": "A <a@example.com>",
                "by_converter": bot, "adopted_by": adopted_by, "author_date": date}
            history["days_to_safetensors"] = history["days_from_first_model"] = min(wait, 3650 + 400 - created)
            history["safetensors_commits"][key] = 1
        repos.append({"repo": name, "status": status, "unsafe_covered": status != "unsafe", "git": True,
                      "created": day(created), "files": files, "history": history, "error": None})
    repos.sort(key=lambda r: r["repo"])
    return {"audit": {"format": "stkit-audit", "version": 1, "history": True, "shard": None}, "repos": repos,
            "summary": {}}
