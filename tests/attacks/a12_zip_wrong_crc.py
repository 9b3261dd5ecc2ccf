"""Stored member whose CRC is wrong in both headers: readers that check CRCs refuse the member (and
scanners built on them skip it) while readers that do not check load it."""
from attack_common import *
import struct

EXPECTED = {"verdict": "dangerous", "finding": {"category": "evasion"}}


def generate(folder):
    payload = os_system_pickle()
    archive = torch_zip_bytes([("data.pkl", payload), ("version", b"3\n")])
    wrong = crc32(payload) ^ 0xDEADBEEF
    struct.pack_into("<I", archive, find_local_header(archive, "archive/data.pkl") + 14, wrong)
    struct.pack_into("<I", archive, find_central_header(archive, "archive/data.pkl") + 16, wrong)
    return write(folder + "/model.pt", bytes(archive))
