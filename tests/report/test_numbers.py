"""Every number of the regulator report reconciles with the stored tables, computed here by a
different route (hand-written SQL, the ``records_raw`` view, the ``affected`` lists)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import duckdb
import pytest

from breachwatch.errors import ConfigError, UsageError
from breachwatch.report import SCHEMA, build_report
from breachwatch.report.aggregates import _DEPARTMENT_SQL, record_classes, risk_counts
from breachwatch.store.schema import create_schema

from .conftest import AWARE, EARLIER, MAIN, NOW, Built


def _one(ws: Any, sql: str, params: list[object] | None = None) -> Any:
    row = ws.con.execute(sql, params or []).fetchone()
    return row[0] if row else None


def test_json_file_is_the_report(built: Built) -> None:
    on_disk = json.loads(built.fr.json_path.read_text(encoding="utf-8"))
    assert on_disk == built.fr.report
    assert on_disk["schema"] == SCHEMA and on_disk["lang"] == "fr"
    expected_keys = {
        "schema", "schema_version", "lang", "generated_at", "controller", "breach", "counts",
        "people_categories", "departments", "data_categories", "consequences", "timeline",
        "measures", "nature", "statement", "charts",
    }  # fmt: skip
    assert set(on_disk) == expected_keys
    assert set(built.en.report) == expected_keys


def test_records_and_people_reconcile(built: Built) -> None:
    counts = built.fr.report["counts"]
    with built.open() as ws:
        assert counts["affected_people"] == _one(
            ws, "SELECT count(*) FROM affected WHERE breach = ?", [MAIN]
        )
        assert counts["records"] == _one(
            ws, "SELECT count(*) FROM records WHERE breach = ?", [MAIN]
        )
        assert counts["matched_records"] == _one(
            ws, "SELECT count(*) FROM affected_links WHERE breach = ?", [MAIN]
        )
        quarantined = _one(
            ws,
            "SELECT count(*) FROM quarantine WHERE source_id IN "
            "(SELECT source_id FROM sources WHERE breach = ?)",
            [MAIN],
        )
    assert counts["quarantined_rows"] == quarantined
    assert counts["rows_read"] == counts["records"] + counts["quarantined_rows"]
    assert counts["unmatched_records"] == counts["records"] - counts["matched_records"]
    assert 0 < counts["affected_people"] <= counts["matched_records"] <= counts["records"]


def test_data_classes_match_hand_written_sql(built: Built) -> None:
    rows = {d["data_class"]: d for d in built.fr.report["data_categories"]}
    assert {"nir", "email", "phone", "last_name", "date_of_birth"} <= set(rows)
    with built.open() as ws:
        email = ws.con.execute(
            """SELECT count(*) FILTER (WHERE email IS NOT NULL OR email_2 IS NOT NULL),
                      count(*) FILTER (WHERE email_valid OR email_2_valid)
               FROM records WHERE breach = ?""",
            [MAIN],
        ).fetchone()
        nir = ws.con.execute(
            "SELECT count(nir), count(*) FILTER (WHERE nir_valid) FROM records WHERE breach = ?",
            [MAIN],
        ).fetchone()
        people = dict(
            ws.con.execute(
                "SELECT dc, count(*) FROM (SELECT unnest(data_classes) AS dc FROM affected "
                "WHERE breach = ?) GROUP BY 1",
                [MAIN],
            ).fetchall()
        )
    assert email and nir
    assert (rows["email"]["records_present"], rows["email"]["records_valid"]) == tuple(email)
    assert (rows["nir"]["records_present"], rows["nir"]["records_valid"]) == tuple(nir)
    for name, row in rows.items():
        assert row["records_valid"] + row["records_invalid"] == row["records_present"], name
        assert row["people"] == people.get(name, 0), name
        assert 0 <= row["people_first_exposed"] <= row["people"]


def test_earlier_leak_makes_some_classes_not_new(built: Built) -> None:
    rows = {d["data_class"]: d for d in built.fr.report["data_categories"]}
    # The telecom leak (2023) held phones of some of these people; NIRs were never out before.
    assert rows["phone"]["people_first_exposed"] < rows["phone"]["people"]
    assert rows["nir"]["people_first_exposed"] == rows["nir"]["people"]


def test_categories_from_the_raw_column_sum_to_people(built: Built) -> None:
    cats = built.fr.report["people_categories"]
    assert cats["column"] == "categorie"
    found = {c["id"]: c["people"] for c in cats["categories"]}
    with built.open() as ws:
        expected = dict(
            ws.con.execute(
                "SELECT r.raw['categorie'], count(*) FROM affected a "
                "JOIN records_raw r ON r.record_uid = a.registry_uid "
                "WHERE a.breach = ? GROUP BY 1",
                [MAIN],
            ).fetchall()
        )
    assert found == expected
    assert set(found) == {"demandeur_actuel", "ancien_demandeur", "compte_candidat"}
    assert sum(found.values()) == built.fr.report["counts"]["affected_people"]
    labels = {c["id"]: c["label"] for c in built.en.report["people_categories"]["categories"]}
    assert labels["ancien_demandeur"] == "Former job seekers"


def test_departments_sum_to_people_and_match_the_registry(built: Built) -> None:
    deps = built.fr.report["departments"]
    total = sum(d["people"] for d in deps["by_department"]) + deps["unknown"]
    assert total == built.fr.report["counts"]["affected_people"]
    with built.open() as ws:
        affected = {
            r[0]
            for r in ws.con.execute(
                "SELECT record_id FROM affected WHERE breach = ?", [MAIN]
            ).fetchall()
        }
    expected: dict[str, int] = {}
    for person in built.registry:
        if person["id_personne"] in affected:
            code = person["code_postal"]
            dep = code[:3] if code[:2] in ("97", "98") else code[:2]
            if dep == "20":
                dep = "2A" if code[:3] in ("200", "201") else "2B"
            expected[dep] = expected.get(dep, 0) + 1
    assert {d["code"]: d["people"] for d in deps["by_department"]} == expected


@pytest.mark.parametrize(
    ("postal_code", "valid", "department"),
    [
        ("75011", True, "75"),
        ("01000", True, "01"),
        ("20000", True, "2A"),
        ("20167", True, "2A"),
        ("20200", True, "2B"),
        ("20600", True, "2B"),
        ("97411", True, "974"),
        ("98000", True, "980"),
        ("75011", False, None),
        (None, None, None),
    ],
)
def test_department_rule(postal_code: str | None, valid: bool | None, department: str) -> None:
    row = duckdb.execute(
        f"SELECT {_DEPARTMENT_SQL} FROM (SELECT ?::VARCHAR AS postal_code, "
        "?::BOOLEAN AS postal_code_valid) r",
        [postal_code, valid],
    ).fetchone()
    assert row is not None and row[0] == department


def test_risk_levels_and_risks_match_the_risk_table(built: Built) -> None:
    consequences = built.fr.report["consequences"]
    levels = consequences["people_by_highest_level"]
    assert set(levels) == {"high", "medium", "low", "none"}
    assert sum(levels.values()) == built.fr.report["counts"]["affected_people"]
    with built.open() as ws:
        per_risk = dict(ws.con.execute("SELECT risk, count(*) FROM risk GROUP BY 1").fetchall())
        high = _one(ws, "SELECT count(DISTINCT registry_uid) FROM risk WHERE level = 'high'")
    assert {r["id"]: r["people"] for r in consequences["risks"]} == per_risk
    assert levels["high"] == high
    names = {r["id"]: r["name"] for r in consequences["risks"]}
    assert names["identity_fraud_kit"] == "Kit d'usurpation d'identité"
    assert all(r["advice"] for r in consequences["risks"])


def test_timeline_counts_72_hours_from_awareness(built: Built) -> None:
    timeline = built.fr.report["timeline"]
    assert timeline["aware_since"] == "2029-12-31T06:00:00Z"
    assert timeline["deadline"] == "2030-01-03T06:00:00Z"
    assert timeline["hours_left"] == 42.0 and timeline["overdue"] is False
    assert timeline["report_at"] == "2030-01-01T12:00:00Z"
    assert timeline["first_ingested_at"] and timeline["linked_at"]


def test_late_report_is_overdue(built: Built) -> None:
    with built.open() as ws:
        report = build_report(ws, MAIN, aware_since=AWARE - dt.timedelta(hours=50), now=NOW)
    assert report["timeline"]["hours_left"] == -8.0 and report["timeline"]["overdue"]


def test_awareness_in_the_future_is_refused(built: Built) -> None:
    with built.open() as ws, pytest.raises(UsageError, match="future"):
        build_report(ws, MAIN, aware_since=NOW + dt.timedelta(hours=1), now=NOW)


def test_risk_analysis_of_another_breach_is_a_clear_error(built: Built) -> None:
    with built.open() as ws, pytest.raises(UsageError, match="breachwatch risk --breach"):
        build_report(ws, EARLIER, now=NOW)


def test_unknown_breach_lists_the_known_ones(built: Built) -> None:
    with built.open() as ws, pytest.raises(UsageError, match="agency-2026"):
        build_report(ws, "no-such-leak", now=NOW)


def test_nature_and_statement(built: Built) -> None:
    nature = built.en.report["nature"]
    assert nature["type"] == "confidentiality"
    assert nature["data_classes_not_concerned"] == ["password", "password_hash", "iban"]
    statement = built.en.report["statement"]
    text = " ".join(statement["paragraphs"])
    assert "never ask you for your password" in text and "payment" in text
    assert "https://verification.example.org/" in text
    assert "No password, password hash or IBAN was taken." in statement["paragraphs"]
    fr = " ".join(built.fr.report["statement"]["paragraphs"])
    assert "ne vous demandera jamais votre mot de passe" in fr


def test_highest_level_bitmaps_count_each_person_once() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE sources (breach VARCHAR, rows_read BIGINT)")
    con.execute("INSERT INTO sources VALUES ('reg', 5), ('reg', 3), ('leak', 99)")
    con.execute("CREATE TABLE risk (registry_uid BIGINT, risk VARCHAR, level VARCHAR)")
    people = {  # (source, record_no): levels of the risks they have
        (1, 1): ["high", "medium", "low"],
        (1, 2): ["medium", "low"],
        (1, 5): ["low"],
        (2, 1): ["high"],
        (2, 3): ["low", "medium"],
    }
    rows = [
        ((source << 40) | record_no, f"r{i}", level)
        for (source, record_no), levels in people.items()
        for i, level in enumerate(levels)
    ]
    con.executemany("INSERT INTO risk VALUES (?, ?, ?)", rows)
    by_risk, by_level = risk_counts(con, ["reg"])
    assert by_level == {"high": 2, "medium": 2, "low": 1}
    assert by_risk == {"r0": 5, "r1": 3, "r2": 1}


def test_record_classes_count_any_slot_and_invalid_values() -> None:
    con = duckdb.connect()
    create_schema(con)
    rows = [  # (email_valid, email_2_valid, nir_valid)
        (True, False, None),
        (False, None, False),
        (None, None, None),
        (None, True, True),
        (False, False, None),
    ]
    con.executemany(
        "INSERT INTO records (breach, email_valid, email_2_valid, nir_valid) VALUES ('x', ?, ?, ?)",
        rows,
    )
    con.execute("INSERT INTO records (breach, nir_valid) VALUES ('other', true)")
    counts = record_classes(con, "x")
    assert counts == {
        "email": {"present": 4, "valid": 2, "invalid": 2},
        "nir": {"present": 2, "valid": 1, "invalid": 1},
    }


def test_a_missing_category_column_is_a_clear_error(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BREACHWATCH_REPORT_CATEGORY_COLUMN", "segment")
    with built.open() as ws, pytest.raises(ConfigError, match="report_category_column 'segment'"):
        build_report(ws, MAIN, now=NOW)
