"""The command line as a user runs it: a real process, exit codes, stdout/stderr, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DUMPS = Path(__file__).parents[1] / "data" / "dumps"


def run(
    *args: str, home: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BREACHWATCH_") or k.endswith(("DSN", "URL", "SERVICES"))
    }
    environment.update({"BREACHWATCH_HOME": str(home), "XDG_CONFIG_HOME": str(home.parent / "cfg")})
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "breachwatch.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    assert run("init", home=path).returncode == 0
    return path


def test_ingest_json_prints_exactly_one_object(home: Path) -> None:
    result = run("ingest", str(DUMPS / "telecom_cp1252.csv"), "--breach", "t", "--json", home=home)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)  # the whole stdout is one JSON document
    for key in ("rows_read", "rows_accepted", "rows_quarantined", "columns", "data_classes"):
        assert key in payload
    assert payload["data_classes"]["phone"] == {"valid": 3, "invalid": 0}
    assert payload["rows_read"] == payload["rows_accepted"] + payload["rows_quarantined"]


def test_human_summary(home: Path) -> None:
    result = run(
        "ingest", str(DUMPS / "ragged.csv"), "--breach", "r", home=home, env={"COLUMNS": "200"}
    )
    assert result.returncode == 0, result.stderr
    assert "4 rows = 2 accepted + 2 quarantined" in result.stdout
    assert "expected 3 fields, found 2" in result.stdout


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["ingest", "nope.csv", "--breach", "x"], "no such file", 5),
        (["ingest", str(DUMPS / "empty.csv"), "--breach", "x"], "empty file", 5),
        (["ingest", str(DUMPS / "garbage.bin"), "--breach", "x"], "binary data", 5),
        (
            ["ingest", str(DUMPS / "ragged.csv"), "--breach", "x", "--map", "nom=shoe_size"],
            "unknown data class",
            2,
        ),
        (
            ["ingest", str(DUMPS / "ragged.csv"), "--breach", "x", "--map", "nope=nir"],
            "does not have",
            2,
        ),
        (["ingest", str(DUMPS / "ragged.csv")], "--breach", 2),
        (["ingest", str(DUMPS / "ragged.csv"), "--breach", "x", "--format", "docx"], "--format", 2),
        (["export", "nothing", "--out", "x.csv"], "unknown table", 2),
        (
            ["ingest", str(DUMPS / "ragged.csv"), "--breach", "x", "--disclosed", "2999-01-01"],
            "future",
            2,
        ),
        (
            ["ingest", str(DUMPS / "ragged.csv"), "--breach", "x", "--disclosed", "soon"],
            "YYYY-MM-DD",
            2,
        ),
        (["affected", "--breach", "nope"], "not an ingested leak", 2),
        (["risk", "--breach", "nope"], "not an ingested leak", 2),
        (["risk", "--breach", "nope", "--lang", "de"], "--lang", 2),
        (
            ["export", "risk", "--breach", "x", "--out", "r.csv", "--reason", "command-line test"],
            "leave out --breach",
            2,
        ),
        (["export", "records", "--out", "r.csv"], "give --reason", 2),
        (["person", "show", "P1"], "give --reason", 2),
        (["risk", "--breach", "x", "--person", "P1", "--reason", "short"], "give --reason", 2),
    ],
)
def test_user_mistakes_are_one_clear_line(
    home: Path, args: list[str], message: str, code: int
) -> None:
    result = run(*args, home=home)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_missing_key_is_reported_not_traced(home: Path, tmp_path: Path) -> None:
    for key in (tmp_path / "cfg").rglob("*.key"):
        key.unlink()
    result = run("breaches", home=home)
    assert result.returncode == 4 and "no encryption key" in result.stderr
    assert "Traceback" not in result.stderr


def test_uninitialised_workspace(tmp_path: Path) -> None:
    result = run("breaches", home=tmp_path / "none")
    assert result.returncode == 3 and "breachwatch init" in result.stderr


def test_export_csv_neutralises_formulas(home: Path, tmp_path: Path) -> None:
    dump = tmp_path / "evil.csv"
    dump.write_text(
        'nom,prenom,commentaire\n=HYPERLINK("http://x.test"),@SUM(A1),+33 6 12 34 56 78\n'
        "-2+3,Léa,ok\n",
        encoding="utf-8",
    )
    assert run("ingest", str(dump), "--breach", "evil", home=home).returncode == 0
    out = tmp_path / "records.csv"
    result = run(
        "export",
        "records",
        "--breach",
        "evil",
        "--out",
        str(out),
        "--reason",
        "command-line test",
        home=home,
    )
    assert result.returncode == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    cells = [c.strip('"') for line in text.splitlines()[1:] for c in line.split(",")]
    assert not any(c[:1] in ("=", "+", "-", "@") for c in cells if c)
    assert "'=hyperlink" in text.lower()
    parquet = tmp_path / "records.parquet"
    assert (
        run(
            "export", "records", "--out", str(parquet), "--reason", "command-line test", home=home
        ).returncode
        == 0
    )
    import pyarrow.parquet as pq

    table = pq.read_table(parquet)
    assert table.num_rows == 2 and "raw" in table.column_names


def test_breaches_catalogue_json(home: Path) -> None:
    assert (
        run("ingest", str(DUMPS / "registry_small.csv"), "--role", "registry", home=home).returncode
        == 0
    )
    run("ingest", str(DUMPS / "telecom_cp1252.csv"), "--breach", "telecom", home=home)
    result = run("breaches", "--json", home=home)
    entries = {e["name"]: e for e in json.loads(result.stdout)}
    assert entries["registry"]["role"] == "registry"
    assert entries["telecom"]["rows_accepted"] == 3
    assert (
        "nir" not in entries["telecom"]["data_classes"]
        and "phone" in entries["telecom"]["data_classes"]
    )


def test_affected_and_risk_json(home: Path) -> None:
    assert (
        run("ingest", str(DUMPS / "registry_small.csv"), "--role", "registry", home=home).returncode
        == 0
    )
    run("ingest", str(DUMPS / "gzipped.tsv.gz"), "--breach", "g", home=home)
    result = run("affected", "--breach", "g", "--json", home=home)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    for key in ("affected_people", "unmatched_records", "by_route", "by_data_class"):
        assert key in payload
    assert payload["affected_people"] + payload["unmatched_records"] <= 2
    risk = run("risk", "--breach", "g", "--json", home=home)
    assert risk.returncode == 0, risk.stderr
    assert set(json.loads(risk.stdout)) >= {"people", "by_risk", "by_highest_level"}


def test_link_and_person_show(home: Path) -> None:
    assert (
        run("person", "show", "P1", "--reason", "command-line test", home=home).returncode == 2
    )  # nothing linked yet
    assert (
        run("ingest", str(DUMPS / "registry_small.csv"), "--role", "registry", home=home).returncode
        == 0
    )
    assert run("ingest", str(DUMPS / "gzipped.tsv.gz"), "--breach", "g", home=home).returncode == 0
    result = run("link", "--json", home=home)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["records"] == 4 and report["clusters"] <= 4
    shown = run(
        "person",
        "show",
        "P1",
        "--json",
        "--reason",
        "command-line test",
        "--operator",
        "alice",
        home=home,
    )
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert any(r["record_id"] == "P1" for r in data["records"])
    missing = run("person", "show", "P999", "--reason", "command-line test", home=home)
    assert missing.returncode == 2 and "no registry person" in missing.stderr
    audit = run("audit", "verify", "--json", home=home)
    assert json.loads(audit.stdout)["ok"] is True
    import sqlite3

    rows = (
        sqlite3.connect(home / "state.db")
        .execute("SELECT actor, action, subject, reason FROM audit_log WHERE subject = 'P1'")
        .fetchall()
    )
    assert ("cli:alice", "person.view", "P1", "command-line test") in rows
