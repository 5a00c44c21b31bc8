"""Writing normalised records: batches of raw strings → ``records``, set-based.

Low-cardinality classes (names, cities, dates of birth, postal codes, gender, addresses) are
normalised once per *distinct* value: each chunk adds its new values to a per-slot dictionary,
kept as an Arrow table, and Arrow looks every row up in it (``index_in`` + ``take``). 43 M rows
hold a few hundred thousand distinct first names, so the costly title-casing and folding run on
those, not on every row. Other classes are normalised inline, in the one ``INSERT`` per chunk.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from breachwatch.ingest.normalize import slot_exprs
from breachwatch.ingest.readers import LINE, RECORD_NO
from breachwatch.store.schema import REPEATING_CLASSES, records_columns
from breachwatch.types import SLOTS, Slot, slot_columns

DICTIONARY_CLASSES = REPEATING_CLASSES
CHUNK_ROWS = 1_000_000
# Entries a slot's dictionary may keep across chunks. The synthetic 10 M registry holds ~30 MB
# of dictionaries in all, but a real dump's addresses may be nearly all distinct (43 M rows:
# gigabytes, outside DuckDB's memory_limit): past this size a dictionary starts afresh.
DICTIONARY_CAP = 1_000_000
# record_uid = source_id << 40 | record_no: unique across the workspace and stable on re-runs.
UID_SHIFT = 40
# The name by which statements read their Arrow input (see _execute_over).
_INPUT = "bw_input"
_LOOKED_UP_PREFIX = "bw_d_"
_INLINE_PREFIX = "bw_n_"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class RecordWriter:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        columns: list[str],
        assignment: dict[str, str],
        breach: str,
        source_id: int,
    ) -> None:
        self.con = con
        self.columns = columns
        self.breach = breach
        self.source_id = source_id
        slots = {s.name: s for s in SLOTS}
        self.dictionary = {
            name: column
            for name, column in assignment.items()
            if slots[name].data_class in DICTIONARY_CLASSES
        }
        self.inline = {n: c for n, c in assignment.items() if n not in self.dictionary}
        self.dictionaries = {name: _Dictionary(con, slots[name]) for name in self.dictionary}
        self.insert_sql = self._insert_sql()

    def write_batches(self, batches: Iterator[pa.RecordBatch], schema: pa.Schema) -> None:
        for chunk in _prefetched(_rechunk(batches, schema)):
            self._write_chunk(chunk)

    def write_from(self, source: str) -> None:
        """Normalise and insert every row of ``source`` (a table name or a subquery), a chunk
        of record numbers at a time."""
        top = self.con.execute(f"SELECT max({RECORD_NO}) FROM {source}").fetchone()
        highest = int(top[0] or 0)  # type: ignore[index]
        for first in range(0, highest, CHUNK_ROWS):
            chunk = self.con.execute(
                f"SELECT * FROM {source} WHERE {RECORD_NO} > ? AND {RECORD_NO} <= ?",
                [first, first + CHUNK_ROWS],
            ).fetch_arrow_table()
            if chunk.num_rows:
                self._write_chunk(chunk)

    def close(self) -> None:
        self.dictionaries.clear()

    def _write_chunk(self, chunk: pa.Table) -> None:
        """One statement per chunk: the dictionary slots arrive looked up as extra columns, so
        the insert has no join (nine hash joins were ~40% of its time) and no temp table."""
        for name, column in self.dictionary.items():
            looked_up = self.dictionaries[name].look_up(chunk.column(column))
            for field_name in looked_up.column_names:
                chunk = chunk.append_column(
                    _LOOKED_UP_PREFIX + field_name, looked_up.column(field_name)
                )
        _execute_over(self.con, self.insert_sql, chunk, {"breach": self.breach})

    def _insert_sql(self) -> str:
        """Inline normalisers in an inner SELECT (computed once, then compared with the raw
        value); dictionary slots read from the looked-up columns."""
        inner = ["b.*"]
        values: dict[str, str] = {}
        exprs: dict[str, str] = {
            "record_uid": f"({self.source_id}::BIGINT << {UID_SHIFT}) + b.{RECORD_NO}",
            "breach": "$breach",
            "source_id": str(self.source_id),
            "line": f"b.{LINE}",
            "record_no": f"b.{RECORD_NO}",
        }
        for slot in SLOTS:
            names = slot_columns(slot)
            if slot.name in self.dictionary:
                exprs.update({c: f"b.{quote(_LOOKED_UP_PREFIX + c)}" for c, _ in names})
                values[self.dictionary[slot.name]] = exprs[slot.name]
            elif slot.name in self.inline:
                for c, e in slot_exprs(slot, f"b.{quote(self.inline[slot.name])}").items():
                    inner.append(f"{e} AS {quote(_INLINE_PREFIX + c)}")
                    exprs[c] = f"b.{quote(_INLINE_PREFIX + c)}"
                values[self.inline[slot.name]] = exprs[slot.name]
            else:
                exprs.update({c: f"NULL::{t}" for c, t in names})
        exprs["raw"] = "[" + ", ".join(_raw_sql(c, values.get(c)) for c in self.columns) + "]"
        exprs["raw"] += "::VARCHAR[]"
        select = ", ".join(f"{exprs[name]} AS {quote(name)}" for name, _ in records_columns())
        source = f"(SELECT {', '.join(inner)} FROM {_INPUT} b) b"
        return f"INSERT INTO records SELECT {select} FROM {source}"


def raw_slots(columns: list[str], assignment: dict[str, str]) -> list[str | None]:
    """Per source column, the slot whose stored value stands in for a raw value left out
    (``sources.raw_slots``); None where the raw value is always kept."""
    slot_of = {column: slot for slot, column in assignment.items()}
    return [slot_of.get(c) for c in columns]


def _raw_sql(column: str, value: str | None) -> str:
    """A raw value, left out (NULL) where it reads exactly as its slot's stored value: most of
    a clean file, so the list column (the largest single write cost) shrinks. Raw values of
    invalid or reformatted fields stay; ``records_raw`` puts the others back."""
    raw = f"b.{quote(column)}"
    return raw if value is None else f"nullif({raw}, CAST({value} AS VARCHAR))"


class _Dictionary:
    """Raw value → normalised columns of one slot, for the distinct values seen so far (up to
    DICTIONARY_CAP of them, then again from empty)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, slot: Slot) -> None:
        self.con = con
        exprs = ", ".join(f"{e} AS {quote(c)}" for c, e in slot_exprs(slot, "raw").items())
        self.normalise_sql = f"SELECT raw, {exprs} FROM {_INPUT}"
        self.table: pa.Table | None = None

    def look_up(self, column: pa.ChunkedArray) -> pa.Table:
        """The slot's columns for every row of ``column`` (NULL rows stay NULL).

        One hash of the known values per chunk: the rows are looked up in it, and only the
        values it lacks are normalised and looked up in the (small) table of fresh ones."""
        rows = None
        missing = column
        if self.table is not None:
            rows = pc.index_in(column, value_set=self.table.column("raw").combine_chunks())
            missing = column.filter(pc.is_null(rows))
        distinct = pc.unique(missing).drop_null()
        if len(distinct) or self.table is None:
            known = 0 if self.table is None else self.table.num_rows
            fresh = self._normalise(distinct)
            fresh_rows = pc.add(pc.index_in(column, value_set=fresh.column("raw")), known)
            rows = fresh_rows if rows is None else pc.coalesce(rows, fresh_rows)
            self.table = fresh if self.table is None else pa.concat_tables([self.table, fresh])
            self.table = self.table.combine_chunks()
        looked_up = self.table.drop_columns(["raw"]).take(rows)
        if self.table.num_rows > DICTIONARY_CAP:
            self.table = None
        return looked_up

    def _normalise(self, distinct: pa.Array) -> pa.Table:
        fresh = pa.table({"raw": distinct.cast(pa.string())})
        return _execute_over(self.con, self.normalise_sql, fresh).fetch_arrow_table()


def _execute_over(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    bw_input: pa.Table,
    params: dict[str, object] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Run ``sql``, which reads ``bw_input`` by that name: DuckDB finds the variable in this
    frame (its replacement scan). Not ``register``: an ingest runs in one transaction, and a
    registered table's view, once dropped, stays in the transaction's undo log until COMMIT,
    holding its Arrow table, so every chunk stayed alive (4.6 GB of Arrow at 10 M rows)."""
    return con.execute(sql, params)


def _prefetched(chunks: Iterator[pa.Table]) -> Iterator[pa.Table]:
    """Parse the next chunk on a second thread while DuckDB normalises this one (Arrow's
    parser releases the GIL). At most one chunk waits, so memory stays bounded."""
    ready: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                if stop.is_set():
                    return
                ready.put(("chunk", chunk))
            ready.put(("end", None))
        except BaseException as exc:  # noqa: BLE001 (the consumer re-raises it)
            ready.put(("error", exc))

    worker = threading.Thread(target=produce, name="bw-parse", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = ready.get()
            if kind == "end":
                return
            if kind == "error":
                raise item  # type: ignore[misc]
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while worker.is_alive():
            with contextlib.suppress(queue.Empty):
                ready.get(timeout=0.05)
        worker.join()


def _rechunk(batches: Iterator[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.Table]:
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches:
        pending.append(batch)
        rows += batch.num_rows
        if rows >= CHUNK_ROWS:
            yield pa.Table.from_batches(pending, schema)
            pending, rows = [], 0
    if pending:
        yield pa.Table.from_batches(pending, schema)
