"""JSON Lines: the lines are staged as text, then DuckDB's JSON functions find every key in the
whole file and turn each object into columns, set-based. Lines that are not JSON objects are
quarantined with their line number."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import duckdb
import pyarrow as pa

from breachwatch.ingest.readers import (
    JSON_COLUMN,
    LINE,
    QUARANTINE_TEXT_CHARS,
    RECORD_NO,
    Parsed,
    Quarantined,
    too_long_reason,
    unique_names,
)
from breachwatch.ingest.sources import TOO_LONG_MARK

STAGE = "bw_stage_jsonl"


def stage_json_lines(
    con: duckdb.DuckDBPyConnection, batches: Iterator[pa.RecordBatch], parsed: Parsed
) -> tuple[str, list[str]]:
    """Returns the SQL source of the expanded rows and their column names."""
    first = next(batches, None)
    drop_stage(con)
    if first is None:
        con.execute(
            f"CREATE TEMP TABLE {STAGE} ({JSON_COLUMN} VARCHAR, {LINE} BIGINT, {RECORD_NO} BIGINT)"
        )
        return _select([], []), []
    reader = pa.RecordBatchReader.from_batches(first.schema, itertools.chain((first,), batches))
    con.register("bw_lines", reader)
    try:
        con.execute(
            f"""CREATE TEMP TABLE {STAGE} AS
                SELECT *, CASE WHEN json_valid({JSON_COLUMN})
                    THEN json_type({JSON_COLUMN}) = 'OBJECT' ELSE false END AS ok
                FROM bw_lines"""
        )
    finally:
        con.unregister("bw_lines")
    _quarantine_bad_lines(con, parsed)
    keys = [
        k
        for (k,) in con.execute(
            f"""SELECT k FROM (SELECT unnest(json_keys({JSON_COLUMN})) AS k, {RECORD_NO} AS r
                FROM {STAGE} WHERE ok) GROUP BY k ORDER BY min(r), k"""
        ).fetchall()
    ]
    names = unique_names(keys)
    return _select(keys, names), names


def _select(keys: list[str], names: list[str]) -> str:
    parts = [
        f'json_extract_string({JSON_COLUMN}, \'$."{k.replace(chr(39), chr(39) * 2)}"\') AS "{n}"'
        for k, n in zip(keys, names, strict=True)
    ]
    parts += [LINE, RECORD_NO]
    return f"(SELECT {', '.join(parts)} FROM temp.{STAGE} WHERE ok)"


def _quarantine_bad_lines(con: duckdb.DuckDBPyConnection, parsed: Parsed) -> None:
    rows = con.execute(
        f"SELECT {LINE}, {RECORD_NO}, {JSON_COLUMN}, json_valid({JSON_COLUMN}) FROM {STAGE} "
        f"WHERE NOT ok ORDER BY {RECORD_NO}"
    ).fetchall()
    for line, record_no, text, valid in rows:
        if text.startswith(TOO_LONG_MARK):
            reason = too_long_reason(text)
        else:
            reason = "JSON value is not an object" if valid else "not valid JSON"
        parsed.quarantined.append(
            Quarantined(line, record_no, reason, text[:QUARANTINE_TEXT_CHARS])
        )


def drop_stage(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"DROP TABLE IF EXISTS temp.{STAGE}")
