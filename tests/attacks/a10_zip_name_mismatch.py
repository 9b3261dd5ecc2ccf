"""Zip whose local header names the payload member differently from the central directory: a scanner
that walks local headers scans 'archive/notes.txt'; torch, reading the central directory, loads
'archive/data.pkl' from the same bytes."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "evasion"}}


def generate(folder):
    archive = torch_zip_bytes([("data.pkl", os_system_pickle()), ("version", b"3\n")])
    at = find_local_header(archive, "archive/data.pkl")
    archive[at + 30:at + 30 + len("archive/data.pkl")] = b"archive/datb.pkl"
    return write(folder + "/model.pt", bytes(archive))
