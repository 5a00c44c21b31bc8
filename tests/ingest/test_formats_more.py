"""Spreadsheets, Parquet and JSON arrays go through the same pipeline."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq

from breachwatch.ingest.pipeline import ingest
from breachwatch.store.workspace import Workspace

DUMPS = Path(__file__).parents[1] / "data" / "dumps"


def test_xlsx_first_sheet(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Nom", "Prénom", "Téléphone", "Code postal"])
    sheet.append(["Martin", "Léa", 612345678, 1000])  # numbers: the zeros were eaten by Excel
    sheet.append([None, None, None, None])
    sheet.append(["Petit", "Luc", "07 81 22 33 44", "75011"])
    book.save(path)
    report = ingest(ws, [path], "xl")
    totals = report.totals()
    assert (totals["rows_read"], report.sources[0].blank_lines) == (2, 1)
    rows = ws.con.execute(
        "SELECT last_name, phone, postal_code, line FROM records ORDER BY record_no"
    ).fetchall()
    assert rows == [("Martin", "+33612345678", "01000", 2), ("Petit", "+33781223344", "75011", 4)]


def test_parquet(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "dump.parquet"
    pq.write_table(
        pa.table(
            {"email": ["A.B@Example.org", None], "dob": ["1985-03-21", "21/03/1985"], "n": [1, 2]}
        ),
        path,
    )
    ingest(ws, [path], "pq")
    rows = ws.con.execute(
        "SELECT email, date_of_birth::VARCHAR FROM records ORDER BY record_no"
    ).fetchall()
    assert rows == [("a.b@example.org", "1985-03-21"), (None, "1985-03-21")]


def test_json_array(ws: Workspace) -> None:
    report = ingest(ws, [DUMPS / "array.json"], "arr")
    totals = report.totals()
    assert (totals["rows_accepted"], totals["rows_quarantined"]) == (2, 1)
    reason = ws.con.execute("SELECT reason, record_no FROM quarantine").fetchall()
    assert reason == [("array element is not an object", 3)]
