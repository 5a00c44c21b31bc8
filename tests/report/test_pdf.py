"""The PDF: valid, in French and English, charts embedded as images, no personal data, untrusted
text escaped; measures read from the operational database when a campaign or waves exist."""

from __future__ import annotations

import copy
import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from pypdf import PdfReader

from breachwatch.report import generate_regulator_report
from breachwatch.report.charts import render_charts
from breachwatch.report.pdf import write_pdf
from breachwatch.report.texts import texts

from .conftest import AWARE, MAIN, NOW, Built


def pdf_text(path: Path) -> str:
    reader = PdfReader(path)
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    return re.sub(r"\s+", " ", text.replace("\u00a0", " "))


def pdf_images(path: Path) -> int:
    return sum(len(page.images) for page in PdfReader(path).pages)


def test_pdf_is_valid_and_french_by_default(built: Built) -> None:
    path = built.fr.pdf_path
    assert path.read_bytes().startswith(b"%PDF-")
    text = pdf_text(path)
    people = f"{built.fr.report['counts']['affected_people']:,}".replace(",", " ")
    for expected in (
        "Notification d'une violation de données à caractère personnel",
        "Article 33 du RGPD",
        "Responsable du traitement",
        "Nature de la violation",
        "Chronologie",
        "Catégories de personnes",
        "Anciens demandeurs d'emploi",
        "Catégories de données concernées",
        "numéro de sécurité sociale",
        "Conséquences probables",
        "Kit d'usurpation d'identité",
        "Mesures prises",
        "Projet de communication aux personnes concernées (art. 34)",
        "Il reste 42,0 heures",
        people,
    ):
        assert expected in text, expected


def test_pdf_in_english(built: Built) -> None:
    text = pdf_text(built.en.pdf_path)
    people = f"{built.en.report['counts']['affected_people']:,}"
    for expected in (
        "Notification of a personal data breach",
        "Controller and data protection officer",
        "Nature of the breach",
        "Categories of people",
        "Current job seekers",
        "Categories of data concerned",
        "social security number",
        "Likely consequences",
        "Identity fraud kit",
        "Measures taken",
        "Draft statement to the people concerned (art. 34)",
        "42.0 hours left",
        people,
    ):
        assert expected in text, expected


def test_charts_are_embedded_as_images(built: Built) -> None:
    charts = built.fr.report["charts"]
    assert charts == ["departments", "exposure_by_class", "risk_distribution"]
    assert pdf_images(built.fr.pdf_path) == len(charts)
    assert pdf_images(built.en.pdf_path) == len(charts)


def test_without_campaign_no_campaign_yet_and_no_fake_chart(built: Built) -> None:
    assert built.fr.report["measures"]["campaign"] is None
    assert "campaign_progress" not in built.fr.report["charts"]
    assert "Aucune campagne pour l'instant." in pdf_text(built.fr.pdf_path)
    assert "No campaign yet." in pdf_text(built.en.pdf_path)
    assert "index pas encore construit" in pdf_text(built.fr.pdf_path)


def test_no_personal_data_in_json_or_pdf(built: Built) -> None:
    documents = {
        "json fr": built.fr.json_path.read_text(encoding="utf-8"),
        "json en": built.en.json_path.read_text(encoding="utf-8"),
        "pdf fr": pdf_text(built.fr.pdf_path),
        "pdf en": pdf_text(built.en.pdf_path),
    }
    fields = ("email", "nir", "identifiant", "tel_portable", "id_personne", "adresse")
    for person in built.registry:
        values = [person[f] for f in fields if person[f]]
        values.append(f"{person['prenom']} {person['nom']}")
        for name, document in documents.items():
            leaked = [v for v in values if v in document]
            assert not leaked, f"{name} holds personal data: {leaked}"


def test_a_unique_valued_category_column_never_reaches_the_report(
    built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BREACHWATCH_REPORT_CATEGORY_COLUMN", "email")
    with built.open() as ws:
        files = generate_regulator_report(ws, MAIN, tmp_path, aware_since=AWARE, now=NOW)
    categories = files.report["people_categories"]["categories"]
    assert [c["id"] for c in categories] == ["other"]
    assert categories[0]["people"] == files.report["counts"]["affected_people"]
    document = files.json_path.read_text(encoding="utf-8")
    assert not [p["email"] for p in built.registry if p["email"] and p["email"] in document]


def test_untrusted_text_is_escaped_in_the_pdf(built: Built, tmp_path: Path) -> None:
    report = copy.deepcopy(built.en.report)
    hostile = "<b>bold</b> & <font size=40>x</font> <a href='javascript:alert(1)'>y</a>"
    report["breach"]["sources"][0]["file"] = hostile
    report["people_categories"]["categories"][0]["label"] = hostile
    report["nature"]["description"] = hostile
    t = texts("en")
    write_pdf(report, render_charts(report, t), t, tmp_path / "r.pdf")
    text = pdf_text(tmp_path / "r.pdf")
    assert text.count("<b>bold</b> &") >= 3
    assert "javascript:alert(1)" in text  # shown as text, never a link
    assert "/URI" not in (tmp_path / "r.pdf").read_bytes().decode("latin-1")


def _make_state(path: Path) -> None:
    """The outbox and waves tables as C7/C8 lay them out (only the columns the report reads)."""
    with closing(sqlite3.connect(path)) as db, db:
        db.executescript(
            """
            CREATE TABLE notify_campaigns (id INTEGER PRIMARY KEY, name TEXT, breach TEXT,
                                           status TEXT);
            CREATE TABLE notify_outbox (campaign_id INTEGER, person INTEGER, channel TEXT,
                                        status TEXT);
            CREATE TABLE phishing_waves (id INTEGER PRIMARY KEY, first_seen TIMESTAMP,
                                         last_seen TIMESTAMP, reports INTEGER, merged_into INT);
            INSERT INTO notify_campaigns VALUES (1, 'wave-1', 'agency-2026', 'running'),
                                                (2, 'other', 'telecom-2023', 'done');
            INSERT INTO phishing_waves VALUES (1, '2030-01-01 08:00', '2030-01-01 11:00', 40, NULL),
                                              (2, '2030-01-01 09:00', '2030-01-01 10:00', 5, 1),
                                              (3, '2030-01-01 09:30', '2030-01-01 10:30', 7, NULL);
            """
        )
        rows: list[tuple[int, int, str | None, str]] = [
            (1, i, "email", "delivered") for i in range(600)
        ]
        rows += [(1, 1000 + i, "sms", "queued") for i in range(300)]
        rows += [(1, 2000 + i, None, "unreachable") for i in range(100)]
        rows += [(2, 3000 + i, "email", "delivered") for i in range(50)]
        db.executemany("INSERT INTO notify_outbox VALUES (?, ?, ?, ?)", rows)


def test_campaign_progress_and_waves_from_the_operational_database(
    built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _make_state(tmp_path / "state.db")
    monkeypatch.setenv("BREACHWATCH_STATE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    with built.open() as ws:
        files = generate_regulator_report(ws, MAIN, tmp_path / "out", lang="en", now=NOW)
    measures = files.report["measures"]
    campaign = measures["campaign"]
    assert campaign["people"] == 1000
    assert campaign["by_status"] == {"delivered": 600, "queued": 300, "unreachable": 100}
    assert (campaign["informed"], campaign["pending"], campaign["failed"]) == (600, 300, 100)
    assert campaign["campaigns"] == [{"name": "wave-1", "status": "running"}]
    assert measures["phishing"]["waves"] == {
        "waves": 2,
        "reports": 47,
        "first_seen": "2030-01-01T08:00:00Z",
        "last_seen": "2030-01-01T11:00:00Z",
    }
    assert "campaign_progress" in files.report["charts"]
    assert pdf_images(files.pdf_path) == 4
    text = pdf_text(files.pdf_path)
    assert "informed 600 (60.0 %)" in text and "No campaign yet" not in text
    assert "Phishing waves reported: 2 waves, 47 reports." in text


def test_self_check_index_is_reported_when_built(
    built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = built.home / "lookup" / f"{MAIN}.index"
    index.parent.mkdir(exist_ok=True)
    try:
        with closing(sqlite3.connect(index)) as db, db:
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            db.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [("people", "1234"), ("built_at", "2030-01-01T10:00:00+00:00")],
            )
        with built.open() as ws:
            files = generate_regulator_report(ws, MAIN, tmp_path, aware_since=AWARE, now=NOW)
    finally:
        index.unlink()
    check = files.report["measures"]["self_check"]
    assert check == {
        "url": "https://verification.example.org/",
        "people": 1234,
        "built_at": "2030-01-01T10:00:00Z",
    }
    assert files.report["timeline"]["self_check_ready_at"] == "2030-01-01T10:00:00Z"
    assert "1 234 personnes indexées" in pdf_text(files.pdf_path)


def test_a_draft_campaign_is_reported_without_a_chart(
    built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with closing(sqlite3.connect(tmp_path / "state.db")) as db, db:
        db.executescript(
            """CREATE TABLE notify_campaigns (id INTEGER PRIMARY KEY, name TEXT, breach TEXT,
                                              status TEXT);
               CREATE TABLE notify_outbox (campaign_id INTEGER, person INTEGER, channel TEXT,
                                           status TEXT);
               INSERT INTO notify_campaigns VALUES (1, 'first', 'agency-2026', 'draft');"""
        )
    monkeypatch.setenv("BREACHWATCH_STATE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    with built.open() as ws:
        files = generate_regulator_report(ws, MAIN, tmp_path / "out", lang="en", now=NOW)
    assert files.report["measures"]["campaign"]["people"] == 0
    assert "campaign_progress" not in files.report["charts"]
    text = pdf_text(files.pdf_path)
    assert 'Campaign "first" (draft): 0 people' in text and "No campaign yet" not in text
