"""Parsers: every input format becomes a stream of Arrow batches of strings, in file order,
each row carrying its physical ``_line`` and its ``_record_no`` (1-based ordinal of the data
record in the file, header and blank lines excluded), plus the rows that must be quarantined.

Numbering is computed per batch with NumPy, never per row in Python, so the CSV path keeps the
speed of Arrow's C++ parser.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from breachwatch.errors import InputError, Location
from breachwatch.ingest.sources import TOO_LONG_MARK

LINE = "_line"
RECORD_NO = "_record_no"
JSON_COLUMN = "_json"
DELIMITERS = (",", ";", "\t", "|")
# A quoted field spanning more lines than this is an unbalanced quote that swallowed the file.
RUNAWAY_NEWLINES = 200
QUARANTINE_TEXT_CHARS = 2000


@dataclass
class Quarantined:
    line: int | None
    record_no: int | None
    reason: str
    text: str


@dataclass
class Parsed:
    format: str
    columns: list[str]
    batches: Iterator[pa.RecordBatch]
    quarantined: list[Quarantined] = field(default_factory=list)
    delimiter: str | None = None
    has_header: bool = True
    blank_lines: int = 0
    header_lines: int = 0


def detect_format(path: Path, sample: bytes) -> str:
    suffix = path.suffix.lower()
    text = sample.lstrip(b"\xef\xbb\xbf \t\r\n")
    if suffix in {".xlsx", ".xlsm"} or (sample[:2] == b"PK" and suffix != ".csv"):
        return "xlsx"
    if sample[:4] == b"PAR1" or suffix == ".parquet":
        return "parquet"
    if text[:1] == b"[":
        return "json"
    if text[:1] == b"{":
        return "jsonl"
    head = text[:4096].upper()
    if head.startswith((b"--", b"/*", b"INSERT INTO", b"CREATE TABLE", b"SET ", b"DROP TABLE")):
        return "sql"
    return "delimited"


def sniff_delimiter(lines: list[str]) -> str:
    """The candidate that splits the sample into the most lines of one consistent width."""
    best, best_score = ",", -1.0
    for candidate in DELIMITERS:
        widths = [len(row) for row in csv.reader(lines, delimiter=candidate)]
        if not widths:
            continue
        modal = max(set(widths), key=widths.count)
        score = widths.count(modal) / len(widths) * (modal > 1) * (1 + min(modal, 50) / 100)
        if score > best_score:
            best, best_score = candidate, score
    return best


def looks_like_header(row: list[str]) -> bool:
    from breachwatch.ingest.classify import classify_by_name

    cells = [c.strip() for c in row]
    if not cells or any(not c for c in cells) or len(set(cells)) != len(cells):
        return False
    if any(classify_by_name(c) is not None for c in cells):
        return True
    return not any(re.search(r"\d{3,}|@", c) for c in cells)


def unique_names(names: list[str]) -> list[str]:
    """Column names as given, made unique and non-empty (``col_3``, ``nom_2``)."""
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(names, 1):
        base = name.strip() or f"col_{i}"
        if base.startswith("_"):
            base = "c" + base  # our own bookkeeping columns start with "_"
        count = seen.get(base.lower(), 0)
        seen[base.lower()] = count + 1
        out.append(base if count == 0 else f"{base}_{count + 1}")
    return out


def sample_lines(sample: bytes, encoding: str, limit: int = 200) -> list[str]:
    text = sample.decode("utf-8" if encoding == "mixed" else encoding, errors="replace")
    lines = text.lstrip("\ufeff").splitlines()
    if len(sample) >= 256 * 1024 and lines:
        lines = lines[:-1]  # the sample may end mid-line
    return lines[:limit]


class _Numbering:
    """Turns Arrow's row numbers into physical lines and record ordinals, batch by batch."""

    def __init__(self, header_rows: int) -> None:
        self.header_rows = header_rows
        self.accepted = 0  # accepted rows seen so far (Arrow's own count, blank rows included)
        self.invalid_numbers: list[int] = []
        self.invalid_rows: list[tuple[str, str]] = []  # (reason, text)
        self.invalid_done = 0  # invalid rows already placed
        self.newlines_before = 0  # embedded newlines in all rows placed so far
        self.records_before = 0

    def handler(self, row: Any) -> str:
        self.invalid_numbers.append(int(row.number) if row.number is not None else -1)
        reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
        self.invalid_rows.append((reason, row.text))
        return "skip"

    def place(
        self, embedded: np.ndarray, is_record: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, str, str]]]:
        """Lines and record numbers of a batch's accepted rows; also those of the invalid rows
        reported so far: (line, record_no, reason, text)."""
        m = len(embedded)
        base = np.arange(self.accepted, self.accepted + m, dtype=np.int64) + self.header_rows + 1
        self.accepted += m
        inv = np.array(self.invalid_numbers, dtype=np.int64)
        rows = base.copy()
        for _ in range(len(inv) + 1):  # fixpoint: each invalid row before shifts the rest by one
            shifted = base + np.searchsorted(inv, rows, side="right")
            if np.array_equal(shifted, rows):
                break
            rows = shifted
        new_inv = inv[self.invalid_done :]
        inv_rows = self.invalid_rows[self.invalid_done :]
        self.invalid_done = len(inv)
        inv_newlines = np.array([text.count("\n") for _, text in inv_rows], dtype=np.int64)
        numbers = np.concatenate([rows, new_inv])
        newlines = np.concatenate([embedded.astype(np.int64), inv_newlines])
        records = np.concatenate([is_record, np.ones(len(new_inv), dtype=bool)])
        order = np.argsort(numbers, kind="stable")
        nl_before = np.empty_like(newlines)
        nl_before[order] = np.cumsum(newlines[order]) - newlines[order] + self.newlines_before
        rec_no = np.empty_like(newlines)
        rec_no[order] = np.cumsum(records[order]) + self.records_before
        self.newlines_before += int(newlines.sum())
        self.records_before += int(records.sum())
        lines = numbers + nl_before
        invalid = [
            (int(lines[m + i]), int(rec_no[m + i]), *inv_rows[i]) for i in range(len(new_inv))
        ]
        return lines[:m], rec_no[:m], invalid


def _row_flags(batch: pa.RecordBatch, header: list[str]) -> tuple[np.ndarray, ...]:
    """(embedded newlines, blank, repeated header) per row.

    Each test runs only where it can still change the answer: newlines are counted in columns
    whose bytes hold one, and a row is blank (or a repeated header) only if its first column is,
    so the other columns are looked at on those few rows only (this was half the parse time).
    """
    columns = [column.cast(pa.string()) for column in batch.columns]
    embedded = np.zeros(batch.num_rows, dtype=np.int64)
    for col in columns:
        if _may_hold_newline(col):
            embedded += pc.fill_null(pc.count_substring(col, "\n"), 0).to_numpy(
                zero_copy_only=False
            )
    n = batch.num_rows
    blank = _every_column(
        n, columns, lambda _, col: pc.equal(pc.utf8_trim_whitespace(col), ""), True
    )
    if not header:
        return embedded, blank, np.zeros(n, dtype=bool)

    def is_name(i: int, col: pa.Array) -> pa.Array:
        return pc.equal(pc.utf8_lower(pc.utf8_trim_whitespace(col)), header[i].strip().lower())

    return embedded, blank, _every_column(n, columns, is_name, False)


def _may_hold_newline(col: pa.Array) -> bool:
    """Whether the string bytes behind ``col`` hold a newline (a cheap scan of its buffer)."""
    data = col.buffers()[2]
    return data is not None and bool((np.frombuffer(data, dtype=np.uint8) == 10).any())


def _every_column(
    n: int, columns: list[pa.Array], test: Callable[[int, pa.Array], pa.Array], null_is: bool
) -> np.ndarray:
    """Rows where ``test`` holds in every column (a NULL counts as ``null_is``)."""
    rows = np.arange(n, dtype=np.int64)
    for i, col in enumerate(columns):
        if not len(rows):
            break
        part = col if len(rows) == len(col) else col.take(pa.array(rows))
        held = pc.fill_null(test(i, part), null_is).to_numpy(zero_copy_only=False)
        rows = rows[held]
    out = np.zeros(n, dtype=bool)
    out[rows] = True
    return out


def read_delimited(
    stream: BinaryIO | io.RawIOBase,
    sample: list[str],
    where: str,
    batch_bytes: int,
    delimiter: str | None = None,
    single_column: str | None = None,
) -> Parsed:
    """CSV/TSV/any separator via Arrow's streaming parser; ``single_column`` reads each line
    whole (JSON Lines)."""
    if single_column:
        delim, header_row, has_header = "\x1f", [single_column], False
    else:
        delim = delimiter or sniff_delimiter(sample)
        first = next(csv.reader(sample[:1], delimiter=delim), [])
        has_header = looks_like_header(first)
        header_row = (
            unique_names(first) if has_header else [f"col_{i + 1}" for i in range(len(first))]
        )
    quoted_newlines = single_column is None and _sample_has_quoted_newline(sample, delim)
    numbering = _Numbering(1 if has_header else 0)
    parsed = Parsed(
        format="jsonl" if single_column else "delimited",
        columns=header_row,
        batches=iter(()),
        delimiter=None if single_column else delim,
        has_header=has_header,
    )
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(
                use_threads=False,
                block_size=batch_bytes,
                column_names=header_row,
                skip_rows=1 if has_header else 0,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delim,
                quote_char=False if single_column else '"',
                newlines_in_values=quoted_newlines,
                ignore_empty_lines=False,
                invalid_row_handler=numbering.handler,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header_row},
                # Empty fields become NULL (absent), so no normaliser ever looks at them.
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot parse as delimited text: {exc}", Location(where)) from None
    repeated_header = header_row if has_header else []
    parsed.batches = _delimited_batches(reader, numbering, parsed, repeated_header, where)
    return parsed


def _sample_has_quoted_newline(lines: list[str], delim: str) -> bool:
    text = "\n".join(lines)
    rows = list(csv.reader(io.StringIO(text), delimiter=delim))
    return any("\n" in cell for row in rows for cell in row)


def _delimited_batches(
    reader: Any,
    numbering: _Numbering,
    parsed: Parsed,
    repeated_header: list[str],
    where: str,
) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except pa.ArrowInvalid as exc:
            raise InputError(f"cannot parse: {exc}", Location(where)) from None
        yield from _number_batch(batch, numbering, parsed, repeated_header)
    # Invalid rows after the last batch still need a place.
    _, _, invalid = numbering.place(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool))
    _quarantine_invalid(parsed, invalid)


def _number_batch(
    batch: pa.RecordBatch, numbering: _Numbering, parsed: Parsed, header: list[str]
) -> Iterator[pa.RecordBatch]:
    embedded, blank, is_header = _row_flags(batch, header)
    is_record = ~(blank | is_header)
    lines, rec_no, invalid = numbering.place(embedded, is_record)
    _quarantine_invalid(parsed, invalid)
    parsed.blank_lines += int(blank.sum())
    parsed.header_lines += int((is_header & ~blank).sum())
    too_long = _too_long(batch)
    runaway = embedded > RUNAWAY_NEWLINES
    bad = is_record & (too_long | runaway)
    for i in np.flatnonzero(bad):
        text = "\x1f".join(str(v) for v in batch.slice(int(i), 1).to_pylist()[0].values())
        reason = (
            too_long_reason(text)
            if too_long[i]
            else f"unbalanced quote: one field spans {int(embedded[i])} lines"
        )
        parsed.quarantined.append(
            Quarantined(int(lines[i]), int(rec_no[i]), reason, text[:QUARANTINE_TEXT_CHARS])
        )
    keep = is_record & ~bad
    if not keep.any():
        return
    out = batch.filter(pa.array(keep))
    out = out.append_column(LINE, pa.array(lines[keep])).append_column(
        RECORD_NO, pa.array(rec_no[keep])
    )
    yield out


def _too_long(batch: pa.RecordBatch) -> np.ndarray:
    first = batch.column(0).cast(pa.string())
    return pc.fill_null(pc.starts_with(first, TOO_LONG_MARK), False).to_numpy(zero_copy_only=False)


def too_long_reason(text: str) -> str:
    """The quarantine reason of a line the stream replaced by its too-long marker."""
    size = text[len(TOO_LONG_MARK) :].split("\x1f", 1)[0].strip()
    return f"line too long: {int(size):,} bytes (limit: max_line_bytes)"


def _quarantine_invalid(parsed: Parsed, invalid: list[tuple[int, int, str, str]]) -> None:
    for line, rec_no, reason, text in invalid:
        if text.startswith(TOO_LONG_MARK):
            reason = too_long_reason(text)
        elif parsed.delimiter:
            reason += f" separated by {parsed.delimiter!r}"
        parsed.quarantined.append(Quarantined(line, rec_no, reason, text[:QUARANTINE_TEXT_CHARS]))


def strings_batch(
    rows: list[list[Any]], columns: list[str], lines: list[int | None], record_nos: list[int]
) -> pa.RecordBatch:
    """A batch from Python rows (spreadsheets, SQL dumps, JSON arrays: bounded-size inputs)."""
    arrays = [
        pa.array([_to_text(r[i]) if i < len(r) else None for r in rows], pa.string())
        for i in range(len(columns))
    ]
    arrays.append(pa.array(lines, pa.int64()))
    arrays.append(pa.array(record_nos, pa.int64()))
    return pa.RecordBatch.from_arrays(arrays, names=[*columns, LINE, RECORD_NO])


def _to_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
