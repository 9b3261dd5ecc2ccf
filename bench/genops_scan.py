#!/usr/bin/python3
"""The baseline for bench/scan_bench.sh: an opcode-walking pickle scanner in the manner of
picklescan (which is not installable here: no PyPI), written for this benchmark. It does the work
such a scanner must do at the least: decode every opcode with pickletools.genops, follow the memo
so STACK_GLOBAL operands are known, and look each global up in a deny list. It does no more: no
zip handling, no nested pickles, so it is a lower bound on that kind of scanner's time.

Usage: genops_scan.py FILE...   prints one line per file: the globals found, and 'dangerous' or not.
"""
import pickletools
import sys

DENY = {"os", "posix", "nt", "subprocess", "builtins", "__builtin__", "runpy", "socket", "shutil", "pty"}


def globals_of(data):
    found, strings, memo, offset = [], [], {}, 0
    while offset < len(data):
        end = None
        for op, arg, pos in pickletools.genops(data[offset:]):
            name = op.name
            if name in ("GLOBAL", "INST"):
                found.append(tuple(arg.split(" ", 1)))
            elif name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING",
                          "BINSTRING", "SHORT_BINSTRING"):
                strings.append(arg)
            elif name in ("BINPUT", "LONG_BINPUT", "PUT") and strings:
                memo[arg] = strings[-1]
            elif name == "MEMOIZE" and strings:
                memo[len(memo)] = strings[-1]
            elif name in ("BINGET", "LONG_BINGET", "GET") and arg in memo:
                strings.append(memo[arg])
            elif name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append((strings[-2], strings[-1]))
            elif name == "STOP":
                end = offset + pos + 1
        if end is None or end <= offset:
            break
        offset = end
    return found


for path in sys.argv[1:]:
    with open(path, "rb") as f:
        data = f.read()
    try:
        found = globals_of(data)
    except Exception as error:  # noqa: BLE001 - a broken pickle is reported, as such scanners do
        print(f"{path}: error {error}")
        continue
    bad = sorted({f"{m}.{n}" for m, n in found if m.split(".")[0] in DENY})
    print(f"{path}: {len(found)} globals, {'dangerous ' + ', '.join(bad) if bad else 'no dangerous global'}")
