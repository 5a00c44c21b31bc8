"""The writer's memory stays bounded by a chunk, whatever the number of rows or distinct values."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest

from breachwatch.ingest import writer
from breachwatch.ingest.normalize import register_udfs
from breachwatch.ingest.readers import LINE, RECORD_NO
from breachwatch.store.workspace import Workspace

ROWS_PER_CHUNK = 2_000
CHUNKS = 12


def _batches(chunks: int, cities: int = 7) -> Iterator[pa.RecordBatch]:
    """Unique e-mails (normalised inline) and ``cities`` cities (a dictionary slot)."""
    for c in range(chunks):
        numbers = range(c * ROWS_PER_CHUNK + 1, (c + 1) * ROWS_PER_CHUNK + 1)
        yield pa.RecordBatch.from_pydict(
            {
                "mail": [f"person.number.{n:09d}@example.org" for n in numbers],
                "ville": [f"Ville {n % cities}" for n in numbers],
                LINE: pa.array(numbers, pa.int64()),
                RECORD_NO: pa.array(numbers, pa.int64()),
            }
        )


def _write(ws: Workspace, batches: Iterator[pa.RecordBatch], source_id: int) -> None:
    record_writer = writer.RecordWriter(
        ws.con, ["mail", "ville"], {"email": "mail", "city": "ville"}, "b", source_id
    )
    record_writer.write_batches(batches, next(_batches(1)).schema)


@pytest.fixture
def chunked(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setattr(writer, "CHUNK_ROWS", ROWS_PER_CHUNK)
    register_udfs(ws.con)
    return ws


def test_written_chunks_are_not_kept_until_commit(chunked: Workspace) -> None:
    """An ingest is one transaction: a chunk handed to DuckDB by ``register`` stayed alive
    until COMMIT (4.6 GB of Arrow at 10 M rows). Only the dictionaries may stay now."""
    one_chunk = next(_batches(1)).nbytes
    chunked.con.execute("BEGIN TRANSACTION")
    try:
        before = pa.total_allocated_bytes()
        _write(chunked, _batches(CHUNKS), 1)
        kept = pa.total_allocated_bytes() - before
        stored = chunked.con.execute("SELECT count(*) FROM records").fetchone()
    finally:
        chunked.con.execute("ROLLBACK")
    assert stored == (CHUNKS * ROWS_PER_CHUNK,)
    assert kept < 2 * one_chunk, f"{kept:,} bytes of Arrow kept after {CHUNKS} chunks"


def _stored(ws: Workspace, source_id: int) -> list[tuple[object, ...]]:
    return ws.con.execute(
        "SELECT * EXCLUDE (record_uid, source_id) FROM records WHERE source_id = ? "
        "ORDER BY record_no",
        [source_id],
    ).fetchall()


def test_a_dictionary_past_its_cap_starts_afresh_with_the_same_records(
    chunked: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    cities = 5_000  # each chunk adds 2,000 of them: over the cap at the second chunk
    _write(chunked, _batches(6, cities), 1)
    sizes: list[int] = []
    look_up = writer._Dictionary.look_up

    def spy(self: writer._Dictionary, column: pa.ChunkedArray) -> pa.Table:
        result = look_up(self, column)
        sizes.append(0 if self.table is None else self.table.num_rows)
        return result

    monkeypatch.setattr(writer._Dictionary, "look_up", spy)
    monkeypatch.setattr(writer, "DICTIONARY_CAP", 3_000)
    _write(chunked, _batches(6, cities), 2)
    assert sizes == [2_000, 0] * 3
    assert _stored(chunked, 2) == _stored(chunked, 1)
