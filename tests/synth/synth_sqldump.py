"""A test-only reader of MySQL extended INSERT dumps: enough to count and check the tuples."""

from __future__ import annotations

import re

_ESCAPES = {"0": "\0", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}
_INSERT = re.compile(r"INSERT INTO `(\w+)` \(([^)]*)\) VALUES ")


def parse_inserts(text: str) -> tuple[list[str], list[list[str | None]], list[int]]:
    """Columns, tuples (None for NULL) and the number of tuples of each INSERT statement."""
    columns: list[str] = []
    rows: list[list[str | None]] = []
    sizes: list[int] = []
    for match in _INSERT.finditer(text):
        columns = [c.strip().strip("`") for c in match.group(2).split(",")]
        position, count = match.end(), 0
        while True:
            row, position = _tuple(text, position)
            rows.append(row)
            count += 1
            if text[position] == ";":
                break
            assert text[position] == ",", f"unexpected {text[position]!r} at {position}"
            position += 1
        sizes.append(count)
    return columns, rows, sizes


def _tuple(text: str, i: int) -> tuple[list[str | None], int]:
    assert text[i] == "(", f"expected a tuple at {i}"
    i += 1
    values: list[str | None] = []
    while True:
        if text[i] == "'":
            value, i = _string(text, i + 1)
            values.append(value)
        else:
            end = min(p for p in (text.find(",", i), text.find(")", i)) if p >= 0)
            token = text[i:end]
            values.append(None if token == "NULL" else token)
            i = end
        if text[i] == ")":
            return values, i + 1
        i += 1


def _string(text: str, i: int) -> tuple[str, int]:
    out: list[str] = []
    while True:
        c = text[i]
        if c == "\\":
            out.append(_ESCAPES.get(text[i + 1], text[i + 1]))
            i += 2
        elif c == "'":
            return "".join(out), i + 1
        else:
            out.append(c)
            i += 1
