"""Denylist gap: an asyncio submodule class that starts a process
(asyncio.unix_events._UnixSubprocessTransport); a denylist naming only `asyncio` functions misses it."""
from attack_common import *

EXPECTED = {"verdict": "dangerous",
            "finding": {"category": "process", "module": "asyncio.unix_events", "name": "_UnixSubprocessTransport"}}


def generate(folder):
    data = (proto(2) + global_op("asyncio.unix_events", "_UnixSubprocessTransport") + MARK + b"N" +
            binunicode(shell_command()) + b"\x88" + b"N" * 3 + b"K\x00" + TUPLE + REDUCE + STOP)
    return write(folder + "/model.pkl", data)
