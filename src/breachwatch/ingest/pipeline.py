"""Ingest orchestration: scan → parse → classify columns → normalise in SQL → store.

One pass over each input: the first batch gives the sample the column classifier needs, then
every batch streams from Arrow straight into the encrypted ``records`` table through the SQL
normalisers. Counts reconcile per source: rows read = rows accepted + rows quarantined.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from breachwatch.errors import InputError, Location, UsageError
from breachwatch.ingest import readers, structured
from breachwatch.ingest.classify import ColumnGuess, classify_columns
from breachwatch.ingest.jsonl import drop_stage, stage_json_lines
from breachwatch.ingest.normalize import register_udfs
from breachwatch.ingest.sources import (
    Scan,
    SourceRef,
    Utf8Stream,
    check_text,
    expand_inputs,
    iter_line_chunks,
    open_decompressed,
    scan,
)
from breachwatch.ingest.writer import RecordWriter, quote, raw_slots
from breachwatch.store.workspace import Workspace
from breachwatch.types import SLOTS_BY_CLASS, DataClass, Role

FORMATS = ("auto", "csv", "tsv", "jsonl", "json", "sql", "xlsx", "parquet")
ENCODINGS = ("auto", "utf-8", "utf-8-sig", "cp1252", "latin-1", "mixed", "utf-16")
SAMPLE_VALUES = 1000
MAX_JSON_ARRAY_BYTES = 1 << 30

Progress = Callable[[str, int, int], None]


@dataclass
class SourceReport:
    path: str
    skipped: bool = False
    format: str = ""
    encoding: str = ""
    delimiter: str | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    blank_lines: int = 0
    header_lines: int = 0
    columns: dict[str, str] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    unslotted: list[str] = field(default_factory=list)
    data_classes: dict[str, dict[str, int]] = field(default_factory=dict)
    slots: dict[str, str] = field(default_factory=dict)
    column_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class IngestReport:
    breach: str
    role: str
    sources: list[SourceReport]
    seconds: float = 0.0

    def totals(self) -> dict[str, Any]:
        live = [s for s in self.sources if not s.skipped]
        classes: dict[str, dict[str, int]] = {}
        columns: dict[str, str] = {}
        for s in live:
            columns.update(s.columns)
            for dc, counts in s.data_classes.items():
                agg = classes.setdefault(dc, {"valid": 0, "invalid": 0})
                agg["valid"] += counts["valid"]
                agg["invalid"] += counts["invalid"]
        return {
            "breach": self.breach,
            "role": self.role,
            "rows_read": sum(s.rows_read for s in live),
            "rows_accepted": sum(s.rows_accepted for s in live),
            "rows_quarantined": sum(s.rows_quarantined for s in live),
            "files_skipped_already_ingested": sum(s.skipped for s in self.sources),
            "columns": columns,
            "data_classes": classes,
            "seconds": round(self.seconds, 3),
            "sources": [asdict(s) for s in self.sources],
        }


def ingest(
    ws: Workspace,
    paths: list[Path],
    breach: str | None,
    role: Role = Role.LEAK,
    fmt: str = "auto",
    encoding: str = "auto",
    overrides: dict[str, DataClass] | None = None,
    progress: Progress | None = None,
    disclosed: dt.date | None = None,
) -> IngestReport:
    started = time.perf_counter()
    name = _breach_name(breach, role)
    _check_options(fmt, encoding)
    refs = expand_inputs(paths, int(ws.settings["max_compression_ratio"]))
    _upsert_breach(ws, name, role, disclosed)
    register_udfs(ws.con)
    reports = [
        _ingest_one(ws, ref, name, role, fmt, encoding, overrides or {}, progress) for ref in refs
    ]
    return IngestReport(name, role.value, reports, time.perf_counter() - started)


def _breach_name(breach: str | None, role: Role) -> str:
    if breach:
        if not breach.replace("-", "").replace("_", "").isalnum():
            raise UsageError(f"breach name {breach!r}: use letters, digits, '-' and '_' only")
        return breach
    if role == Role.REGISTRY:
        return "registry"
    raise UsageError(
        "--breach NAME is required for a leak (it may be left out with --role registry)"
    )


def _check_options(fmt: str, encoding: str) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if encoding not in ENCODINGS:
        raise UsageError(f"--encoding {encoding!r}: expected one of {', '.join(ENCODINGS)}")


def _upsert_breach(ws: Workspace, name: str, role: Role, disclosed: dt.date | None) -> None:
    row = ws.con.execute("SELECT role FROM breaches WHERE name = ?", [name]).fetchone()
    if row and row[0] != role.value:
        raise UsageError(f"dataset {name!r} already exists as a {row[0]}, not a {role.value}")
    if disclosed is not None:
        if role == Role.REGISTRY:
            raise UsageError("--disclosed is for a leak, not for the registry")
        if disclosed > dt.date.today():
            raise UsageError(f"--disclosed {disclosed}: a disclosure date cannot be in the future")
    if row:
        ws.con.execute(
            "UPDATE breaches SET updated_at = now(), "
            "disclosed_on = coalesce(?, disclosed_on) WHERE name = ?",
            [disclosed, name],
        )
    else:
        ws.con.execute(
            "INSERT INTO breaches (name, role, created_at, updated_at, disclosed_on) "
            "VALUES (?, ?, now(), now(), ?)",
            [name, role.value, disclosed],
        )


def _ingest_one(
    ws: Workspace,
    ref: SourceRef,
    breach: str,
    role: Role,
    fmt: str,
    encoding: str,
    overrides: dict[str, DataClass],
    progress: Progress | None,
) -> SourceReport:
    started = time.perf_counter()
    report = SourceReport(path=ref.display)
    info = scan(ref, ws.settings)
    if _already_ingested(ws, breach, info.sha256):
        report.skipped = True
        return report
    parsed = _parse(ref, info, fmt, encoding, ws.settings)
    report.format, report.encoding = (
        parsed.format,
        encoding if encoding != "auto" else info.encoding,
    )
    report.delimiter = parsed.delimiter
    source_id = int(ws.con.execute("SELECT nextval('source_ids')").fetchone()[0])  # type: ignore[index]
    ws.con.execute("BEGIN TRANSACTION")
    try:
        _store(ws, parsed, ref, info, breach, role, source_id, overrides, report, progress)
        report.seconds = time.perf_counter() - started
        _insert_source(ws, report, ref, info, breach, source_id)
        ws.con.execute("COMMIT")
    except BaseException:
        ws.con.execute("ROLLBACK")
        raise
    return report


def _already_ingested(ws: Workspace, breach: str, sha256: str) -> bool:
    found = ws.con.execute(
        "SELECT 1 FROM sources WHERE breach = ? AND sha256 = ?", [breach, sha256]
    ).fetchone()
    return found is not None


def _parse(
    ref: SourceRef, info: Scan, fmt: str, encoding: str, settings: dict[str, Any]
) -> readers.Parsed:
    kind = _format_of(ref, info, fmt)
    where = ref.display
    if kind == "xlsx":
        return structured.read_xlsx(ref.path, where)
    if kind == "parquet":
        return structured.read_parquet(ref.path, where)
    check_text(info.sample, Location(where, 1))
    enc = info.encoding if encoding == "auto" else encoding
    if enc == "utf-16":
        raise InputError(
            "UTF-16 text: convert it to UTF-8 first (iconv -f UTF-16)", Location(where)
        )
    max_line = int(settings["max_line_bytes"])
    if kind == "json":
        stream = Utf8Stream(open_decompressed(ref, settings), enc, MAX_JSON_ARRAY_BYTES)
        return structured.read_json_array(stream, where, MAX_JSON_ARRAY_BYTES)  # type: ignore[arg-type]
    if kind == "sql":
        stream = Utf8Stream(open_decompressed(ref, settings), enc, max_line)
        chunks = (c.decode("utf-8") for c in iter_line_chunks(stream))  # type: ignore[arg-type]
        return structured.read_sql_dump(chunks, where)
    stream = Utf8Stream(open_decompressed(ref, settings), enc, max_line)
    sample = readers.sample_lines(info.sample, enc)
    block = max(1 << 20, min(16 << 20, max_line + 1))
    if kind == "jsonl":
        return readers.read_delimited(
            stream, sample, where, block, single_column=readers.JSON_COLUMN
        )
    delimiter = "\t" if kind == "tsv" else None
    return readers.read_delimited(stream, sample, where, block, delimiter=delimiter)


def _format_of(ref: SourceRef, info: Scan, fmt: str) -> str:
    if fmt != "auto":
        return {"csv": "delimited"}.get(fmt, fmt)
    detected = readers.detect_format(Path(ref.name), info.sample)
    if detected == "delimited" and Path(ref.name.removesuffix(".gz")).suffix.lower() == ".tsv":
        return "tsv"
    return detected


def _store(
    ws: Workspace,
    parsed: readers.Parsed,
    ref: SourceRef,
    info: Scan,
    breach: str,
    role: Role,
    source_id: int,
    overrides: dict[str, DataClass],
    report: SourceReport,
    progress: Progress | None,
) -> None:
    batches = _with_progress(parsed.batches, ref.display, info.newlines, progress)
    if parsed.format == "jsonl":
        source_sql, columns = stage_json_lines(ws.con, batches, parsed)
        head = ws.con.execute(f"SELECT * FROM {source_sql} LIMIT {SAMPLE_VALUES}")
        table = head.fetch_arrow_table()
        sample = table if table.num_rows else None
    else:
        columns, sample = parsed.columns, next(batches, None)
    _check_overrides(overrides, columns, ref)
    guesses = classify_columns(columns, _samples(sample, columns), overrides)
    assignment = _assign_slots(guesses, report)
    _check_registry_id(role, assignment, ref)
    writer = RecordWriter(ws.con, columns, assignment, breach, source_id)
    if parsed.format == "jsonl":
        writer.write_from(source_sql)
        drop_stage(ws.con)
    elif sample is not None:
        writer.write_batches(itertools.chain((sample,), batches), sample.schema)
    writer.close()
    _insert_quarantine(ws, parsed, breach, source_id)
    _finish_report(ws, parsed, report, source_id)


def _check_registry_id(role: Role, assignment: dict[str, str], ref: SourceRef) -> None:
    """Every later step names registry people by the registry's own id: it must be there."""
    if role == Role.REGISTRY and "record_id" not in assignment:
        raise UsageError(
            f"{ref.display}: no column holds the registry's own person id; "
            "name it with --map COLUMN=record_id"
        )


def _check_overrides(overrides: dict[str, DataClass], columns: list[str], ref: SourceRef) -> None:
    missing = sorted(set(overrides) - set(columns))
    if missing:
        raise UsageError(
            f"--map names column(s) {', '.join(missing)} that {ref.display} does not have "
            f"(its columns: {', '.join(columns)})"
        )


def _with_progress(
    batches: Iterator[pa.RecordBatch], label: str, total: int, progress: Progress | None
) -> Iterator[pa.RecordBatch]:
    done = 0
    for batch in batches:
        done += batch.num_rows
        if progress:
            progress(label, done, max(total, done))
        yield batch


def _samples(
    batch: pa.RecordBatch | pa.Table | None, columns: list[str]
) -> dict[str, list[str | None]]:
    if batch is None:
        return {c: [] for c in columns}
    out = {}
    for name in columns:
        values = batch.column(name).drop_null()
        out[name] = values.filter(_non_blank(values)).slice(0, SAMPLE_VALUES).to_pylist()
    return out


def _non_blank(values: pa.Array) -> pa.Array:
    return pc.not_equal(pc.utf8_trim_whitespace(values), "")


def _assign_slots(guesses: list[ColumnGuess], report: SourceReport) -> dict[str, str]:
    """slot name → source column. The most confident column of a class takes its first slot;
    columns beyond the class's slots stay in the raw map only (and are reported)."""
    assignment: dict[str, str] = {}
    for guess in guesses:
        report.columns[guess.column] = guess.data_class.value
        report.confidence[guess.column] = round(guess.confidence, 3)
        report.reasons[guess.column] = guess.reason
    ranked = sorted(enumerate(guesses), key=lambda ig: (-ig[1].confidence, ig[0]))
    for _, guess in ranked:
        free = [s for s in SLOTS_BY_CLASS[guess.data_class] if s.name not in assignment]
        if free:
            assignment[free[0].name] = guess.column
        elif guess.data_class != DataClass.UNKNOWN:
            report.unslotted.append(guess.column)
    report.slots = {column: slot for slot, column in assignment.items()}
    return assignment


def _insert_quarantine(ws: Workspace, parsed: readers.Parsed, breach: str, source_id: int) -> None:
    if not parsed.quarantined:
        return
    table = pa.table(
        {
            "breach": [breach] * len(parsed.quarantined),
            "source_id": pa.array([source_id] * len(parsed.quarantined), pa.int32()),
            "line": pa.array([q.line for q in parsed.quarantined], pa.int64()),
            "record_no": pa.array([q.record_no for q in parsed.quarantined], pa.int64()),
            "reason": [q.reason for q in parsed.quarantined],
            "raw_text": [q.text for q in parsed.quarantined],
        }
    )
    ws.con.register("bw_quarantine", table)
    try:
        ws.con.execute("INSERT INTO quarantine SELECT * FROM bw_quarantine")
    finally:
        ws.con.unregister("bw_quarantine")


def _finish_report(
    ws: Workspace, parsed: readers.Parsed, report: SourceReport, source_id: int
) -> None:
    con = ws.con
    accepted = con.execute(
        "SELECT count(*) FROM records WHERE source_id = ?", [source_id]
    ).fetchone()
    report.rows_accepted = int(accepted[0])  # type: ignore[index]
    report.rows_quarantined = len(parsed.quarantined)
    report.rows_read = report.rows_accepted + report.rows_quarantined
    report.blank_lines, report.header_lines = parsed.blank_lines, parsed.header_lines
    for q in parsed.quarantined:
        key = q.reason.split(":")[0] if q.reason.startswith("line too long") else q.reason
        report.quarantine_reasons[key] = report.quarantine_reasons.get(key, 0) + 1
    _check_numbering(con, source_id, report)
    _class_counts(con, source_id, report)


def _check_numbering(con: Any, source_id: int, report: SourceReport) -> None:
    """Record numbers must run 1..N without gaps: proof that no row vanished in between."""
    top = con.execute(
        "SELECT max(record_no), count(record_no) FROM ("
        " SELECT record_no FROM records WHERE source_id = $s"
        " UNION ALL SELECT record_no FROM quarantine WHERE source_id = $s)",
        {"s": source_id},
    ).fetchone()
    highest, numbered = int(top[0] or 0), int(top[1])
    if highest != numbered:
        raise InputError(
            f"internal accounting error: {numbered} numbered rows but record numbers reach "
            f"{highest}; nothing was stored",
            Location(report.path),
        )


def _class_counts(con: Any, source_id: int, report: SourceReport) -> None:
    """Valid / invalid counts per column (through its slot) and per data class."""
    parts = []
    for slot in report.slots.values():
        v = quote(f"{slot}_valid")
        parts.append(f"count(*) FILTER (WHERE {v})")
        parts.append(f"count(*) FILTER (WHERE NOT {v})")
    report.data_classes = {
        dc: {"valid": 0, "invalid": 0} for dc in set(report.columns.values()) - {"unknown"}
    }
    if not parts:
        return
    row = con.execute(
        f"SELECT {', '.join(parts)} FROM records WHERE source_id = ?", [source_id]
    ).fetchone()
    for i, column in enumerate(report.slots):
        counts = {"valid": int(row[2 * i]), "invalid": int(row[2 * i + 1])}
        report.column_counts[column] = counts
        totals = report.data_classes[report.columns[column]]
        totals["valid"] += counts["valid"]
        totals["invalid"] += counts["invalid"]


def _insert_source(
    ws: Workspace, report: SourceReport, ref: SourceRef, info: Scan, breach: str, source_id: int
) -> None:
    ws.con.execute(
        "INSERT INTO sources (source_id, breach, path, sha256, format, encoding, delimiter, "
        "rows_read, rows_accepted, rows_quarantined, blank_lines, header_lines, columns, "
        "column_names, ingested_at, seconds, raw_slots) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now(), ?, ?)",
        [
            source_id,
            breach,
            ref.display,
            info.sha256,
            report.format,
            report.encoding,
            report.delimiter,
            report.rows_read,
            report.rows_accepted,
            report.rows_quarantined,
            report.blank_lines,
            report.header_lines,
            json.dumps(report.columns),
            list(report.columns),
            report.seconds,
            raw_slots(list(report.columns), {s: c for c, s in report.slots.items()}),
        ],
    )
