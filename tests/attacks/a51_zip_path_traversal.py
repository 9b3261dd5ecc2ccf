"""A zip member named ../../.bashrc: extracting the archive writes outside its folder."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "path-traversal"}}


def generate(folder):
    out = folder + "/model.zip"
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("model/config.json", "{}")
        z.writestr("../../.bashrc", shell_command() + "\n")
    return out
