#!/usr/bin/python3
"""Checks that README.md cannot drift from the API: every fenced code block whose first line names a
file under examples/ ("// examples/cpp/x.cpp" or "# examples/python/x.py") must be, line for line,
the text between the "README begin" and "README end" marker lines of that file (which ctest builds
and runs), dedented. Usage: check_readme.py README.md [--write]  (--write copies the files' sections
into the README instead of checking)."""
import os
import re
import sys


def section(root, name):
    source = open(os.path.join(root, name), encoding="utf-8").read().splitlines()
    marks = [i for i, line in enumerate(source) if line.strip() in ("// README begin", "# README begin",
                                                                       "// README end", "# README end")]
    if len(marks) != 2:
        raise SystemExit(f"{name}: needs one README begin and one README end line")
    snippet = source[marks[0] + 1:marks[1]]
    indent = min((len(s) - len(s.lstrip()) for s in snippet if s.strip()), default=0)
    return [s[indent:] for s in snippet]


def main():
    readme = sys.argv[1]
    write = "--write" in sys.argv[2:]
    root = os.path.dirname(os.path.abspath(readme))
    text = open(readme, encoding="utf-8").read()
    checked, failures = 0, []

    def visit(match):
        nonlocal checked
        fence, lines = match.group(1), match.group(2).splitlines()
        named = re.match(r"^(?://|#) (examples/\S+)$", lines[0]) if lines else None
        if not named:
            return match.group(0)
        checked += 1
        expected = section(root, named.group(1))
        if lines[1:] != expected:
            failures.append(f"{named.group(1)}: the README's snippet differs from the file's README section")
        return fence + "\n".join([lines[0], *expected]) + "\n```"

    updated = re.sub(r"^(```[a-z+]*\n)(.*?)^```", visit, text, flags=re.S | re.M)
    if write:
        with open(readme, "w", encoding="utf-8") as f:
            f.write(updated)
        print(f"{checked} README snippets written from examples/")
        return 0
    for failure in failures:
        print("FAIL:", failure, file=sys.stderr)
    print(f"{checked} README snippets checked against examples/")
    return 1 if failures or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
