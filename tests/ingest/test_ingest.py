"""Ingest end to end on messy dumps: what is stored, what is quarantined, counts reconcile."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from breachwatch.errors import InputError, UsageError
from breachwatch.ingest.pipeline import ingest
from breachwatch.store.workspace import Workspace
from breachwatch.types import DataClass, Role

DUMPS = Path(__file__).parents[1] / "data" / "dumps"


def _rows(ws: Workspace, sql: str, *params: object) -> list[tuple[object, ...]]:
    return ws.con.execute(sql, list(params)).fetchall()


def _reconciles(totals: dict[str, object]) -> None:
    assert totals["rows_read"] == totals["rows_accepted"] + totals["rows_quarantined"]  # type: ignore[operator]


def test_cp1252_semicolon_file_is_typed_and_normalised(ws: Workspace) -> None:
    report = ingest(ws, [DUMPS / "telecom_cp1252.csv"], "telecom")
    totals = report.totals()
    _reconciles(totals)
    assert totals["rows_read"] == 3 and totals["rows_quarantined"] == 0
    assert totals["columns"] == {
        "NOM": "last_name",
        "PRENOM": "first_name",
        "TEL": "phone",
        "EMAIL": "email",
        "VILLE": "city",
    }
    assert report.sources[0].encoding == "cp1252" and report.sources[0].delimiter == ";"
    phones = _rows(ws, "SELECT phone, phone_valid FROM records ORDER BY record_no")
    assert phones == [("+33612345678", True), ("+33698765432", True), ("+33781223344", True)]
    names = _rows(ws, "SELECT last_name, last_name_match, line, record_no FROM records ORDER BY 4")
    assert names[1][0] == "O’Brien" and names[0][1] == "lefevre"
    assert [n[2] for n in names] == [2, 3, 4]
    raw = _rows(ws, "SELECT raw['VILLE'] FROM records_raw WHERE record_no = 1")
    assert raw == [("Besançon",)]


def test_reingesting_the_same_file_adds_nothing(ws: Workspace) -> None:
    ingest(ws, [DUMPS / "telecom_cp1252.csv"], "telecom")
    again = ingest(ws, [DUMPS / "telecom_cp1252.csv"], "telecom")
    assert again.sources[0].skipped
    assert _rows(ws, "SELECT count(*) FROM records") == [(3,)]
    ingest(ws, [DUMPS / "telecom_cp1252.csv"], "other-breach")
    assert _rows(ws, "SELECT count(*) FROM records") == [(6,)]


def test_quoted_newlines_keep_physical_lines(ws: Workspace) -> None:
    ingest(ws, [DUMPS / "quoted_newlines.csv"], "q")
    rows = _rows(ws, "SELECT record_id, line, record_no, postal_address FROM records ORDER BY 3")
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("1", 2, 1),
        ("2", 4, 2),
        ("3", 5, 3),
        ("4", 8, 4),
    ]
    assert rows[0][3] == "12 rue des Lilas Batiment B"


def test_repeated_headers_and_blank_lines_are_not_records(ws: Workspace) -> None:
    report = ingest(ws, [DUMPS / "concatenated.csv"], "c")
    source = report.sources[0]
    assert (source.rows_read, source.header_lines, source.blank_lines) == (4, 2, 1)
    lines = _rows(ws, "SELECT last_name, line, record_no FROM records ORDER BY record_no")
    assert lines == [("Dupont", 2, 1), ("Durand", 3, 2), ("Leroy", 5, 3), ("Moreau", 8, 4)]


def test_ragged_rows_are_quarantined_with_line_and_reason(ws: Workspace) -> None:
    report = ingest(ws, [DUMPS / "ragged.csv"], "r")
    totals = report.totals()
    _reconciles(totals)
    assert (totals["rows_accepted"], totals["rows_quarantined"]) == (2, 2)
    quarantined = _rows(ws, "SELECT line, record_no, reason FROM quarantine ORDER BY line")
    assert quarantined == [
        (3, 2, "expected 3 fields, found 2 separated by ';'"),
        (4, 3, "expected 3 fields, found 5 separated by ';'"),
    ]


def test_unbalanced_quote_does_not_swallow_the_file_silently(ws: Workspace) -> None:
    report = ingest(ws, [DUMPS / "unbalanced_quote.csv"], "u")
    totals = report.totals()
    _reconciles(totals)
    assert totals["rows_quarantined"] >= 1
    reasons = [r[0] for r in _rows(ws, "SELECT reason FROM quarantine")]
    assert any("quote" in r or "fields" in r for r in reasons)


def test_mixed_encoding_file(ws: Workspace) -> None:
    ingest(ws, [DUMPS / "mixed_encoding.csv"], "m")
    assert _rows(ws, "SELECT city FROM records ORDER BY record_no") == [
        ("Besançon",),
        ("Sélestat",),
        ("Orléans",),
    ] or _rows(ws, "SELECT upper(city) FROM records ORDER BY record_no") == [
        ("BESANÇON",),
        ("SÉLESTAT",),
        ("ORLÉANS",),
    ]


def test_json_lines_keys_and_bad_lines(ws: Workspace) -> None:
    report = ingest(ws, [DUMPS / "lines.jsonl"], "j")
    totals = report.totals()
    _reconciles(totals)
    assert (totals["rows_accepted"], totals["rows_quarantined"]) == (3, 2)
    assert set(totals["columns"]) == {
        "customer_id",
        "first_name",
        "email",
        "last_name",
        "phone",
        "extra",
    }
    q = _rows(ws, "SELECT line, reason FROM quarantine ORDER BY line")
    assert q == [(3, "not valid JSON"), (5, "JSON value is not an object")]
    rows = _rows(
        ws, "SELECT record_id, first_name, line, record_no FROM records ORDER BY record_no"
    )
    assert rows == [("1", "Léa", 1, 1), ("2", None, 2, 2), ("4", "Zoé", 6, 5)]


def test_sql_dump(ws: Workspace) -> None:
    report = ingest(ws, [DUMPS / "dump.sql"], "s")
    totals = report.totals()
    _reconciles(totals)
    assert (totals["rows_accepted"], totals["rows_quarantined"]) == (4, 1)
    rows = _rows(
        ws,
        "SELECT v.raw['nom'], r.nir, r.nir_valid, r.line FROM records r "
        "JOIN records_raw v USING (record_uid) ORDER BY r.record_no",
    )
    assert rows[0][0] == "D'Artagnan" and rows[1][0] == "O'Neil" and rows[2][0] == "Back\\slash"
    assert rows[0][3] == 13 and rows[2][3] == 14


def test_gzip_tsv_and_zip_members(ws: Workspace) -> None:
    ingest(ws, [DUMPS / "gzipped.tsv.gz"], "g")
    assert _rows(ws, "SELECT email FROM records WHERE breach = 'g' ORDER BY record_no") == [
        ("lea@example.org",),
        ("luc@example.org",),
    ]
    report = ingest(ws, [DUMPS / "two_parts.zip"], "z")
    assert [s.rows_read for s in report.sources] == [1, 2]


def test_map_override_and_unknown_columns_are_kept(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "opaque.csv"
    path.write_text("c1,c2\nfoo,1 85 03 75 123 456 78\nbar,xyz\n", encoding="utf-8")
    report = ingest(ws, [path], "o", overrides={"c2": DataClass.NIR})
    assert report.totals()["columns"]["c2"] == "nir"
    assert report.sources[0].confidence["c2"] == 1.0
    rows = _rows(ws, "SELECT raw[1], nir_valid FROM records ORDER BY record_no")
    assert rows[0][0] == "foo" and rows[1][1] is False


def test_map_to_a_missing_column_is_a_usage_error(ws: Workspace) -> None:
    with pytest.raises(UsageError, match="does not have"):
        ingest(ws, [DUMPS / "ragged.csv"], "r", overrides={"nope": DataClass.NIR})
    assert _rows(ws, "SELECT count(*) FROM records") == [(0,)]


@pytest.mark.parametrize("name", ["empty.csv", "garbage.bin"])
def test_unreadable_files_are_clear_errors(ws: Workspace, name: str) -> None:
    with pytest.raises(InputError, match=name):
        ingest(ws, [DUMPS / name], "bad")


def test_leak_needs_a_name_registry_does_not(ws: Workspace) -> None:
    with pytest.raises(UsageError, match="--breach"):
        ingest(ws, [DUMPS / "bom.csv"], None)
    report = ingest(ws, [DUMPS / "registry_small.csv"], None, Role.REGISTRY)
    assert report.breach == "registry"
    with pytest.raises(UsageError, match="already exists as a registry"):
        ingest(ws, [DUMPS / "ragged.csv"], "registry", Role.LEAK)


def test_catalogue_and_sources_record_the_ingest(ws: Workspace) -> None:
    ingest(ws, [DUMPS / "telecom_cp1252.csv"], "telecom")
    row = _rows(ws, "SELECT format, encoding, delimiter, rows_read FROM sources")
    assert row == [("delimited", "cp1252", ";", 3)]
    created = _rows(ws, "SELECT created_at FROM breaches WHERE name = 'telecom'")[0][0]
    assert isinstance(created, dt.datetime)


def test_over_long_line_is_quarantined_with_its_line(
    ws_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from breachwatch.store.workspace import open_workspace

    monkeypatch.setenv("BREACHWATCH_MAX_LINE_BYTES", "4096")
    path = tmp_path / "long.csv"
    path.write_bytes(b"nom;prenom\nMartin;Lea\n" + b"A" * 100_000 + b";B\nPetit;Luc\n")
    with open_workspace(ws_home) as workspace:
        totals = ingest(workspace, [path], "long").totals()
        assert (totals["rows_accepted"], totals["rows_quarantined"]) == (2, 1)
        ((line, record_no, reason),) = _rows(
            workspace, "SELECT line, record_no, reason FROM quarantine"
        )
        assert (line, record_no) == (3, 2)
        assert "line too long: 100,002 bytes" in reason
        lines = _rows(workspace, "SELECT line FROM records ORDER BY record_no")
        assert lines == [(2,), (4,)]


def test_registry_needs_its_own_id_column(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "reg.csv"
    path.write_text("nom,prenom\nMartin,Léa\n", encoding="utf-8")
    with pytest.raises(UsageError, match="record_id"):
        ingest(ws, [path], None, Role.REGISTRY)
    assert _rows(ws, "SELECT count(*) FROM records") == [(0,)]
    report = ingest(ws, [path], None, Role.REGISTRY, overrides={"nom": DataClass.RECORD_ID})
    assert report.totals()["rows_accepted"] == 1


def test_blank_and_header_rows_need_every_column(ws: Workspace, tmp_path: Path) -> None:
    """A row is blank or a repeated header only when every column is, not just the first."""
    path = tmp_path / "partial.csv"
    path.write_text(
        'nom,ville,note\nDupont,Lyon,"deux\nlignes"\nnom,Paris,x\n,Nantes,\n , ,\n'
        "NOM , Ville,note\nLeroy,Lille,\n",
        encoding="utf-8",
    )
    source = ingest(ws, [path], "p").sources[0]
    assert (source.rows_read, source.header_lines, source.blank_lines) == (4, 1, 1)
    lines = _rows(ws, "SELECT line, record_no FROM records ORDER BY record_no")
    assert lines == [(2, 1), (4, 2), (5, 3), (8, 4)]


def test_raw_values_left_out_only_where_the_stored_value_reads_the_same(
    ws: Workspace, tmp_path: Path
) -> None:
    """records.raw keeps what normalising changed or refused; records_raw gives back
    every value as read."""
    path = tmp_path / "mixed.csv"
    rows = [
        ["nom", "email", "tel", "date_naissance", "ville", "note"],
        ["Martin", "lea.martin@example.org", "+33612345678", "1980-02-03", "Lyon", "a"],
        ["DURAND", "Luc@Example.org", "06 12 34 56 78", "03/02/1980", " Paris", "b"],
        ["Petit", "pas-un-email", "12", "31/02/1980", "", "c"],
    ]
    path.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    ingest(ws, [path], "mixed", overrides={"note": DataClass.UNKNOWN})
    stored = _rows(ws, "SELECT raw FROM records ORDER BY record_no")
    assert stored[0] == ([None, None, None, None, None, "a"],)
    assert stored[1] == (
        ["DURAND", "Luc@Example.org", "06 12 34 56 78", "03/02/1980", " Paris", "b"],
    )
    assert stored[2] == ([None, "pas-un-email", "12", "31/02/1980", None, "c"],)
    read = _rows(ws, "SELECT raw FROM records_raw ORDER BY record_no")
    assert [list(r[0].values()) for r in read] == [[v or None for v in r] for r in rows[1:]]
    assert list(read[0][0]) == rows[0]
