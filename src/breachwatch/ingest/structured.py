"""Readers for inputs that are not line-delimited text: SQL INSERT dumps, spreadsheets,
JSON arrays and Parquet. All yield the same batches as the delimited reader."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from breachwatch.errors import InputError, Location
from breachwatch.ingest.readers import (
    LINE,
    QUARANTINE_TEXT_CHARS,
    RECORD_NO,
    Parsed,
    Quarantined,
    strings_batch,
    unique_names,
)

BATCH_ROWS = 50_000
# A row of a Python-side reader: (physical line or None, record number, values).
_Row = tuple[int | None, int, list[Any]]

# --- SQL INSERT dumps (MySQL / PostgreSQL / SQLite syntax) -------------------------------------
_STRING = r"'(?:[^'\\]|\\.|'')*'"
_INSERT = re.compile(
    r"INSERT\s+(?:IGNORE\s+)?INTO\s+[`\"\[]?(?P<table>[\w.]+)[`\"\]]?\s*"
    r"(?:\((?P<cols>[^)]*)\))?\s*VALUES\s*",
    re.IGNORECASE,
)
_TUPLE = re.compile(r"\s*\(\s*(?P<body>(?:" + _STRING + r"|[^'()])*)\)\s*(?P<end>[,;])?", re.DOTALL)
_VALUE = re.compile(r"\s*(?:(?P<s>" + _STRING + r")|(?P<bare>[^,']*?))\s*(?:,|$)", re.DOTALL)
_CREATE = re.compile(
    r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?[`\"\[]?(?P<table>[\w.]+)[`\"\]]?\s*\((?P<body>.*?)\)\s*[^)]*?;",
    re.IGNORECASE | re.DOTALL,
)
_OTHER_STATEMENT = re.compile(r"(?:" + _STRING + r"|--[^\n]*\n|/\*.*?\*/|[^;'])*;", re.DOTALL)
_SKIP = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/|#[^\n]*(?:\n|$))+", re.DOTALL)
_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}
_ESCAPE = re.compile(r"\\(.)|''", re.DOTALL)


def _unescape(quoted: str) -> str:
    body = quoted[1:-1]
    if "\\" not in body and "''" not in body:
        return body
    return _ESCAPE.sub(
        lambda m: "'" if m.group(0) == "''" else _ESCAPES.get(m.group(1), m.group(1)), body
    )


def _values(body: str) -> list[str | None]:
    out: list[str | None] = []
    for m in _VALUE.finditer(body):
        if m.start() == len(body) and out:
            break
        if m.group("s") is not None:
            out.append(_unescape(m.group("s")))
        else:
            bare = m.group("bare").strip()
            out.append(None if bare.upper() == "NULL" else bare)
        if m.end() >= len(body):
            break
    return out


def _column_names(cols: str) -> list[str]:
    return [c.strip().strip('`"[] ') for c in cols.split(",") if c.strip()]


def _create_columns(body: str) -> list[str]:
    names = []
    for part in re.split(r",\s*\n|,(?![^()]*\))", body):
        m = re.match(r"\s*[`\"\[]?(\w+)[`\"\]]?\s+\w", part)
        if m and m.group(1).upper() not in {
            "PRIMARY",
            "KEY",
            "UNIQUE",
            "CONSTRAINT",
            "INDEX",
            "FOREIGN",
            "CHECK",
        }:
            names.append(m.group(1))
    return names


class SqlDumpParser:
    """Streams tuples out of INSERT statements; other statements are skipped."""

    def __init__(self, text_stream: Iterator[str], where: str, parsed: Parsed) -> None:
        self._chunks = text_stream
        self._where = where
        self._parsed = parsed
        self._buf = ""
        self._pos = 0
        # Line number at buffer position ``_counted``: lines are counted forward from there,
        # never again from the start of the buffer (once per tuple, that was quadratic).
        self._line = 1
        self._counted = 0
        self._eof = False
        self.table: str | None = None
        self.tables: dict[str, list[str]] = {}
        self.columns: list[str] = []
        self.record_no = 0

    def _more(self) -> bool:
        chunk = next(self._chunks, None)
        if chunk is None:
            self._eof = True
            return False
        self._line = self.line_at(self._pos)
        self._buf = self._buf[self._pos :] + chunk
        self._pos = self._counted = 0
        return True

    def _match(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        """Match at the cursor, reading more text while the match could still grow."""
        while True:
            m = pattern.match(self._buf, self._pos)
            if m and (m.end() < len(self._buf) or self._eof):
                return m
            if self._eof or not self._more():
                return pattern.match(self._buf, self._pos)

    def _advance(self, end: int) -> None:
        self._pos = end

    def line_at(self, pos: int) -> int:
        if pos < self._counted:
            return self._line - self._buf.count("\n", pos, self._counted)
        self._line += self._buf.count("\n", self._counted, pos)
        self._counted = pos
        return self._line

    def rows(self) -> Iterator[tuple[int, int, list[str | None], str]]:
        """(line, values, table) for every tuple."""
        while True:
            skip = self._match(_SKIP)
            if skip and skip.end() > self._pos:
                self._advance(skip.end())
            if self._pos >= len(self._buf) and (self._eof or not self._more()):
                return
            insert = self._match(_INSERT)
            if insert:
                self._advance(insert.end())
                table = insert.group("table")
                cols = _column_names(insert.group("cols") or "") or self.tables.get(table, [])
                yield from self._tuples(table, cols)
                continue
            create = self._match(_CREATE)
            if create:
                self.tables[create.group("table")] = _create_columns(create.group("body"))
                self._advance(create.end())
                continue
            other = self._match(_OTHER_STATEMENT)
            if not other or other.end() == self._pos:
                raise InputError(
                    "unreadable SQL: statement never ends (missing ';' or unbalanced quote)",
                    Location(self._where, self.line_at(self._pos)),
                )
            self._advance(other.end())

    def _tuples(
        self, table: str, cols: list[str]
    ) -> Iterator[tuple[int, int, list[str | None], str]]:
        if self.table is None:
            self.table, self.columns = table, cols
        while True:
            m = self._match(_TUPLE)
            if not m:
                line = self.line_at(self._pos)
                rest = self._match(_OTHER_STATEMENT)
                text = self._buf[self._pos : rest.end() if rest else self._pos + 200]
                self.record_no += 1
                self._parsed.quarantined.append(
                    Quarantined(
                        line,
                        self.record_no,
                        "malformed INSERT values: rest of the statement skipped",
                        text.strip()[:QUARANTINE_TEXT_CHARS],
                    )
                )
                self._advance(rest.end() if rest else len(self._buf))
                return
            line = self.line_at(m.start("body"))
            self._advance(m.end())
            self.record_no += 1
            yield line, self.record_no, _values(m.group("body")), table
            if m.group("end") != ",":
                return


def read_sql_dump(text_chunks: Iterator[str], where: str) -> Parsed:
    parsed = Parsed(format="sql", columns=[], batches=iter(()))
    parser = SqlDumpParser(text_chunks, where, parsed)
    rows = parser.rows()
    first = next(rows, None)
    if first is None:
        raise InputError("no INSERT statement with values found in this SQL dump", Location(where))
    width = len(parser.columns) or len(first[2])
    names = (
        parser.columns if len(parser.columns) == width else [f"col_{i + 1}" for i in range(width)]
    )
    parsed.columns = unique_names(names)
    all_rows = itertools.chain((first,), rows)
    parsed.batches = _batched(_sql_rows(all_rows, parser, parsed, width), parsed.columns)
    return parsed


def _sql_rows(
    rows: Iterator[tuple[int, int, list[str | None], str]],
    parser: SqlDumpParser,
    parsed: Parsed,
    width: int,
) -> Iterator[_Row]:
    for line, record_no, values, table in rows:
        if table != parser.table or len(values) != width:
            why = (
                f"row of another table `{table}` (this source is `{parser.table}`)"
                if table != parser.table
                else f"expected {width} values, found {len(values)}"
            )
            parsed.quarantined.append(
                Quarantined(line, record_no, why, repr(values)[:QUARANTINE_TEXT_CHARS])
            )
            continue
        yield line, record_no, values


def _batched(rows: Iterable[_Row], columns: list[str]) -> Iterator[pa.RecordBatch]:
    """Batches of at most BATCH_ROWS rows from (line, record_no, values) rows."""
    lines: list[int | None] = []
    numbers: list[int] = []
    buffer: list[list[Any]] = []
    for line, record_no, values in rows:
        lines.append(line)
        numbers.append(record_no)
        buffer.append(values)
        if len(buffer) >= BATCH_ROWS:
            yield strings_batch(buffer, columns, lines, numbers)
            lines, numbers, buffer = [], [], []
    if buffer:
        yield strings_batch(buffer, columns, lines, numbers)


# --- spreadsheets, JSON arrays, Parquet ---------------------------------------------------------
def read_xlsx(path: Path, where: str) -> Parsed:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 (openpyxl raises many unrelated types)
        raise InputError(f"cannot open spreadsheet: {exc}", Location(where)) from None
    sheet = next((ws for ws in book.worksheets if ws.max_row and ws.max_row > 0), None)
    if sheet is None:
        raise InputError("spreadsheet has no rows", Location(where))
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None:
        raise InputError("spreadsheet has no rows", Location(where))
    parsed = Parsed(
        format="xlsx", columns=unique_names([str(h or "") for h in header]), batches=iter(())
    )
    numbered = ((i + 2, list(r)) for i, r in enumerate(rows))
    parsed.batches = _batched(_xlsx_rows(numbered, parsed), parsed.columns)
    return parsed


def _xlsx_rows(rows: Iterator[tuple[int, list[Any]]], parsed: Parsed) -> Iterator[_Row]:
    record_no = 0
    for line, values in rows:
        if all(v is None or str(v).strip() == "" for v in values):
            parsed.blank_lines += 1
            continue
        record_no += 1
        if len(values) > len(parsed.columns) and any(
            v not in (None, "") for v in values[len(parsed.columns) :]
        ):
            parsed.quarantined.append(
                Quarantined(
                    line,
                    record_no,
                    f"expected {len(parsed.columns)} fields, found {len(values)}",
                    repr(values)[:QUARANTINE_TEXT_CHARS],
                )
            )
            continue
        yield line, record_no, values


def read_json_array(stream: BinaryIO, where: str, limit: int) -> Parsed:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InputError(
            f"JSON array larger than {limit:,} bytes: convert it to JSON Lines (one object a line)",
            Location(where),
        )
    try:
        items = json.loads(data.decode("utf-8", errors="breachwatch-cp1252"))
    except json.JSONDecodeError as exc:
        raise InputError(
            f"invalid JSON: {exc.msg}", Location(where, exc.lineno, exc.colno)
        ) from None
    if not isinstance(items, list):
        raise InputError("JSON document is not an array of records", Location(where))
    keys: dict[str, None] = {}
    for item in items:
        if isinstance(item, dict):
            keys.update(dict.fromkeys(item))
    parsed = Parsed(format="json", columns=unique_names(list(keys)), batches=iter(()))
    parsed.batches = _batched(_json_rows(items, list(keys), parsed), parsed.columns)
    return parsed


def _json_rows(items: list[Any], keys: list[str], parsed: Parsed) -> Iterator[_Row]:
    for record_no, item in enumerate(items, 1):
        if not isinstance(item, dict):
            parsed.quarantined.append(
                Quarantined(
                    None,
                    record_no,
                    "array element is not an object",
                    json.dumps(item)[:QUARANTINE_TEXT_CHARS],
                )
            )
            continue
        yield None, record_no, [item.get(k) for k in keys]


def read_parquet(path: Path, where: str) -> Parsed:
    try:
        file = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read Parquet: {exc}", Location(where)) from None
    names = unique_names(file.schema_arrow.names)
    parsed = Parsed(format="parquet", columns=names, batches=iter(()))

    def batches() -> Iterator[pa.RecordBatch]:
        done = 0
        for batch in file.iter_batches(batch_size=BATCH_ROWS):
            arrays = [_as_strings(c) for c in batch.columns]
            n = batch.num_rows
            arrays.append(pa.nulls(n, pa.int64()))
            arrays.append(pa.array(range(done + 1, done + n + 1), pa.int64()))
            done += n
            yield pa.RecordBatch.from_arrays(arrays, names=[*names, LINE, RECORD_NO])

    parsed.batches = batches()
    return parsed


def _as_strings(column: pa.Array) -> pa.Array:
    try:
        return column.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array(
            [None if v is None else json.dumps(v, default=str) for v in column.to_pylist()],
            pa.string(),
        )
