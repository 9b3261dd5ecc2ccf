"""A tar whose symbolic link points outside the extraction folder, then a member written through
it: tarfile (before its data filter) and naive extractors follow the link."""
from attack_common import *
import io
import tarfile

EXPECTED = {"verdict": "dangerous", "finding": {"category": "path-traversal"}}


def generate(folder):
    out = folder + "/model.tar"
    with tarfile.open(out, "w") as t:
        link = tarfile.TarInfo("checkpoint/cache")
        link.type = tarfile.SYMTYPE
        link.linkname = "../../../home/user/.ssh"
        t.addfile(link)
        data = shell_command().encode()
        entry = tarfile.TarInfo("checkpoint/cache/authorized_keys")
        entry.size = len(data)
        t.addfile(entry, io.BytesIO(data))
    return out
