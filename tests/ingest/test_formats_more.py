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


def test_sql_dump_line_numbers_hold_across_any_chunking() -> None:
    """Each tuple's line is its line in the file, however the text arrives: lines are counted
    forward from the last tuple (counting from the start of the buffer for every tuple made a
    100 k-row dump take minutes)."""
    from breachwatch.ingest.readers import Parsed
    from breachwatch.ingest.structured import SqlDumpParser

    lines = ["-- dump", "CREATE TABLE `t` (`a` int, `b` text);", "INSERT INTO `t` VALUES"]
    lines += [f"({i},'x{i}\\n;y')," for i in range(1, 400)] + ["(400,'last');", ""]
    lines += ["INSERT INTO `t` VALUES (401,'a'),(402,'b');"]
    text = "\n".join(lines)
    expected = [(4 + i, i + 1) for i in range(400)] + [(len(lines), 401), (len(lines), 402)]
    for size in (1, 7, 64, 4096, len(text)):
        chunks = (text[i : i + size] for i in range(0, len(text), size))
        parser = SqlDumpParser(chunks, "t.sql", Parsed(format="sql", columns=[], batches=iter(())))
        assert [(line, n) for line, n, _, _ in parser.rows()] == expected, size
