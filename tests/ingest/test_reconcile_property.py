"""Property: for any delimited input, rows read = accepted + quarantined, and a well-formed
file loses no row."""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from breachwatch.errors import InputError
from breachwatch.ingest.pipeline import ingest
from breachwatch.store.workspace import Workspace

_counter = itertools.count()
cell = st.text(
    alphabet=st.sampled_from(list("abcXYZ019 éà@.+-'\";,|\t\n\r")), min_size=0, max_size=12
)
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / f"in{next(_counter)}.csv"
    path.write_bytes(data)
    return path


@SETTINGS
@given(text=st.text(alphabet=st.sampled_from(list('ab1,;"\n\r é|\t')), min_size=1, max_size=300))
def test_arbitrary_text_reconciles(ws: Workspace, tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, text.encode("utf-8"))
    try:
        report = ingest(ws, [path], f"p{next(_counter)}")
    except InputError:
        return  # refused as a whole with a clear message: nothing half-stored
    for source in report.sources:
        assert source.rows_read == source.rows_accepted + source.rows_quarantined
        stored = ws.con.execute(
            "SELECT count(*) FROM records r JOIN sources s USING (source_id) WHERE s.path = ?",
            [str(path)],
        ).fetchone()
        assert stored == (source.rows_accepted,)


@SETTINGS
@given(
    rows=st.lists(st.lists(cell, min_size=3, max_size=3), min_size=1, max_size=40),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
)
def test_well_formed_csv_loses_nothing(
    ws: Workspace, tmp_path: Path, rows: list[list[str]], delimiter: str
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(["nom", "prenom", "ville"])
    writer.writerows(rows)
    path = _write(tmp_path, buffer.getvalue().encode("utf-8"))
    report = ingest(ws, [path], f"w{next(_counter)}")
    source = report.sources[0]
    blank = sum(all(not c.strip() for c in row) for row in rows)
    assert source.rows_read == len(rows) - blank
    assert source.rows_quarantined == 0
    assert source.delimiter == delimiter
