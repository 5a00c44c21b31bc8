"""``breachwatch export``: any workspace table to Parquet or CSV.

CSV cells that a spreadsheet would run as a formula (leading ``= + - @``, tab or carriage
return) are prefixed with an apostrophe, as OWASP recommends against CSV injection.
"""

from __future__ import annotations

from pathlib import Path

from breachwatch.errors import UsageError
from breachwatch.store.schema import raw_values_sql
from breachwatch.store.workspace import Workspace

EXPORTABLE = {
    "records": (
        "SELECT r.* EXCLUDE (raw), to_json(map_from_entries(list_zip(s.column_names, "
        f"{raw_values_sql('r', 's.raw_slots')})))::VARCHAR AS raw "
        "FROM records r JOIN sources s USING (source_id)"
    ),
    "quarantine": "SELECT * FROM quarantine",
    "affected": (
        "SELECT record_id, breach, data_classes, match_probability, match_route, "
        "len(leak_uids) AS leaked_records FROM affected ORDER BY breach, record_id"
    ),
    "exposure": "SELECT * FROM exposure",
    "clusters": "SELECT * FROM clusters",
    "risk": "SELECT * FROM risk",
    "unmatched": (
        "SELECT r.* EXCLUDE (raw) FROM records r JOIN breaches b ON b.name = r.breach "
        "WHERE b.role = 'leak' AND r.breach IN (SELECT breach FROM affected) "
        "AND r.record_uid NOT IN (SELECT leak_uid FROM affected_links l WHERE l.breach = r.breach)"
    ),
    "sources": "SELECT * FROM sources",
    "breaches": "SELECT * FROM breaches",
}
# What a spreadsheet would run as a formula when a cell starts with it.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_START = r"^[=+\-@\t\r]"  # the same characters, for DuckDB (set-based exports)
# Tables that hold one breach's analysis as a whole, with no breach column to filter on.
_WHOLE_TABLES = frozenset({"exposure", "risk"})


def export_table(ws: Workspace, table: str, out: Path, breach: str | None = None) -> int:
    if table not in EXPORTABLE:
        raise UsageError(
            f"unknown table {table!r}: expected one of {', '.join(sorted(EXPORTABLE))}"
        )
    fmt = {".parquet": "parquet", ".csv": "csv"}.get(out.suffix.lower())
    if fmt is None:
        raise UsageError(f"--out {out}: the file name must end in .parquet or .csv")
    query = EXPORTABLE[table]
    params: list[object] = []
    if breach is not None:
        if table in _WHOLE_TABLES:
            raise UsageError(
                f"{table} has no per-breach rows (it is built for one breach by `breachwatch "
                "risk`): leave out --breach"
            )
        column = "name" if table == "breaches" else "breach"
        query = f"SELECT * FROM ({query}) WHERE {column} = ?"
        params.append(breach)
    if fmt == "csv":
        query = _neutralised(ws, query, params)
    out.parent.mkdir(parents=True, exist_ok=True)
    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER"
    target = str(out).replace("'", "''")
    # COPY answers with the number of rows it wrote: no second pass over the table.
    written = ws.con.execute(f"COPY ({query}) TO '{target}' ({options})", params).fetchone()
    return int(written[0])  # type: ignore[index]


def neutralise_cell(value: object) -> str:
    """A value as a CSV cell a spreadsheet will not run: a leading apostrophe before a formula
    start (the row-by-row twin of the SQL below, for files written from Python)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _neutralised(ws: Workspace, query: str, params: list[object]) -> str:
    described = ws.con.execute(f"DESCRIBE ({query})", params).fetchall()
    columns = []
    for name, sql_type, *_ in described:
        quoted = '"' + name.replace('"', '""') + '"'
        if sql_type in ("VARCHAR", "JSON"):
            columns.append(
                f"CASE WHEN regexp_matches({quoted}, '{_FORMULA_START}') "
                f"THEN '''' || {quoted} ELSE {quoted} END AS {quoted}"
            )
        else:
            columns.append(quoted)
    return f"SELECT {', '.join(columns)} FROM ({query})"
