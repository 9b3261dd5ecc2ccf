"""Stored member with the encryption bit set (and a reserved bit): torch's reader ignores the flags and
reads the stored bytes; zip libraries used by scanners refuse or skip an 'encrypted' member."""
from attack_common import *
import struct

EXPECTED = {"verdict": "dangerous", "finding": {"category": "evasion"}}


def generate(folder):
    archive = torch_zip_bytes([("data.pkl", os_system_pickle()), ("version", b"3\n")])
    local = find_local_header(archive, "archive/data.pkl")
    central = find_central_header(archive, "archive/data.pkl")
    struct.pack_into("<H", archive, local + 6, 0x0001 | 0x0400)
    struct.pack_into("<H", archive, central + 8, 0x0001 | 0x0400)
    return write(folder + "/model.pt", bytes(archive))
