"""Indicators for a CERT: CSV that a spreadsheet cannot run, and a valid STIX 2.1 bundle."""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from breachwatch.cli import app as cli_app
from breachwatch.errors import UsageError
from breachwatch.export import neutralise_cell as neutralise
from breachwatch.phishing.export import CSV_COLUMNS, export_indicators, pattern
from breachwatch.phishing.reports import file_report
from breachwatch.settings import load_settings
from breachwatch.state import audit_entries

pytest_plugins = ["tests.phishing.service"]  # fixtures: phishing_home, settings

CAMPAIGN = (
    "France Travail : {name}, votre dossier est incomplet. Mettez à jour votre dossier avant le "
    "30/11 pour éviter la suspension de vos droits : https://{domain}/maj?u={n} ou appelez le "
    "06 39 98 12 {n}"
)
PARCEL = (
    "Colissimo : votre colis n'a pas pu être livré. Des frais de 1,99 EUR sont à régler sur "
    "https://colis-relais-suivi.top/p ou http://192.0.2.44/colis avant sa destruction."
)
GENUINE = "Rendez-vous confirmé le 3 décembre à 10h à votre agence. Détails sur francetravail.fr"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TIMESTAMP_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _report_all(settings: dict[str, Any]) -> None:
    for n, (name, domain) in enumerate(
        [("Jean", "francetravail-dossier.fr"), ("Marie", "ft-maj-dossier.com")], start=10
    ):
        file_report(settings, CAMPAIGN.format(name=name, domain=domain, n=n), channel="cli")
    file_report(settings, PARCEL, channel="cli", sender='=HYPERLINK("http://x")')
    file_report(settings, GENUINE, channel="cli", sender="@SUM(1+1)")


@pytest.fixture
def reported(settings: dict[str, Any]) -> dict[str, Any]:
    _report_all(settings)
    return settings


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_neutralise_every_formula_start(start: str) -> None:
    assert neutralise(f"{start}1+2") == f"'{start}1+2"


def test_neutralise_leaves_ordinary_values() -> None:
    assert neutralise("francetravail-aide.fr") == "francetravail-aide.fr"
    assert neutralise("a=b") == "a=b"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_csv_lists_the_indicators_with_formulas_neutralised(
    reported: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "indicators.csv"
    count = export_indicators(reported, "csv", out)
    rows = _rows(out)
    assert count == len(rows) and tuple(rows[0]) == CSV_COLUMNS
    values = {(r["type"], r["value"]) for r in rows}
    assert ("domain", "francetravail-dossier.fr") in values
    assert ("ip", "192.0.2.44") in values
    assert ("phone", "'+33639981210") in values  # E.164 starts with "+": neutralised too
    assert ("sender", '\'=HYPERLINK("http://x")') in values
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
    # The genuine notice someone reported is nobody's to block, unless asked for.
    assert not any(r["value"] == "'@SUM(1+1)" for r in rows)
    export_indicators(reported, "csv", out, all_verdicts=True)
    assert any(r["value"] == "'@SUM(1+1)" for r in _rows(out))


def test_one_wave_only(reported: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "wave.csv"
    export_indicators(reported, "csv", out, wave=1)
    assert {r["wave"] for r in _rows(out)} == {"1"}
    assert "colis-relais-suivi.top" not in out.read_text(encoding="utf-8")
    with pytest.raises(UsageError, match="no such wave"):
        export_indicators(reported, "csv", out, wave=99)
    with pytest.raises(UsageError, match="csv or stix"):
        export_indicators(reported, "xml", out)


# One comparison of an observable's value with a quoted literal, as the export writes them.
_SIMPLE_PATTERN_RE = re.compile(r"\[[a-z][a-z0-9-]*:value = '(?:[^'\\]|\\.)*'\]")


def pattern_is_valid(text: str) -> bool:
    """STIX 2.1 pattern grammar (stix2-patterns, installed with stix2); without it, the one
    form the export writes."""
    try:
        from stix2patterns.validator import validate
    except ImportError:
        return _SIMPLE_PATTERN_RE.fullmatch(text) is not None
    return bool(validate(text, stix_version="2.1"))


def _by_type(bundle: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for item in bundle["objects"]:
        found.setdefault(item["type"], []).append(item)
    return found


def _check_structure(bundle: dict[str, Any]) -> None:
    """STIX 2.1's required properties, checked by hand (the stix2 library checks them too)."""
    assert bundle["type"] == "bundle" and re.fullmatch(f"bundle--{UUID_RE}", bundle["id"])
    assert "spec_version" not in bundle  # a 2.1 bundle has none
    ids = {item["id"] for item in bundle["objects"]}
    assert len(ids) == len(bundle["objects"])
    for item in bundle["objects"]:
        assert item["spec_version"] == "2.1"
        assert re.fullmatch(f"{item['type']}--{UUID_RE}", item["id"]), item["id"]
        assert TIMESTAMP_RE.fullmatch(item["created"]) and TIMESTAMP_RE.fullmatch(item["modified"])
        assert item["modified"] >= item["created"]
        if item["type"] == "indicator":
            assert item["pattern_type"] == "stix" and TIMESTAMP_RE.fullmatch(item["valid_from"])
            assert pattern_is_valid(item["pattern"]), item["pattern"]
        if item["type"] == "relationship":
            assert item["source_ref"] in ids and item["target_ref"] in ids
        if "created_by_ref" in item:
            assert item["created_by_ref"] in ids


def test_stix_bundle_is_valid(reported: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "bundle.json"
    count = export_indicators(reported, "stix", out)
    bundle = json.loads(out.read_text(encoding="utf-8"))
    _check_structure(bundle)
    objects = _by_type(bundle)
    assert len(objects["indicator"]) == count
    [identity] = objects["identity"]
    assert identity["identity_class"] == "organization"
    assert identity["name"] == reported["organisation"]
    assert {c["name"] for c in objects["campaign"]} == {
        f"Phishing wave {n} impersonating {reported['organisation']}" for n in (1, 2)
    }
    patterns = {i["pattern"] for i in objects["indicator"]}
    assert "[domain-name:value = 'francetravail-dossier.fr']" in patterns
    assert "[ipv4-addr:value = '192.0.2.44']" in patterns
    assert "[x-phone-number:value = '+33639981210']" in patterns
    assert "[url:value = 'https://ft-maj-dossier.com/maj?u=11']" in patterns
    assert all(r["relationship_type"] == "indicates" for r in objects["relationship"])
    stix2 = pytest.importorskip("stix2")
    parsed = stix2.parse(out.read_text(encoding="utf-8"), allow_custom=True)
    assert len(parsed.objects) == len(bundle["objects"])


def test_stix_ids_are_stable_across_exports(reported: dict[str, Any], tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    export_indicators(reported, "stix", first)
    export_indicators(reported, "stix", second)
    one, two = (json.loads(p.read_text(encoding="utf-8")) for p in (first, second))
    assert [o["id"] for o in one["objects"]] == [o["id"] for o in two["objects"]]
    assert one["id"] != two["id"]  # each bundle is a new message


def test_pattern_literals_are_escaped() -> None:
    tricky = "http://x.example/a'] OR [file:name = 'b\\"
    made = pattern("url", tricky)
    assert made == "[url:value = 'http://x.example/a\\'] OR [file:name = \\'b\\\\']"
    assert pattern_is_valid(made)
    assert pattern("ip", "2001:db8::1") == "[ipv6-addr:value = '2001:db8::1']"


def test_export_command_writes_the_file_and_an_audit_entry(ws_home: Path, tmp_path: Path) -> None:
    settings = load_settings(ws_home)
    _report_all(settings)
    out = tmp_path / "cert" / "indicators.json"
    done = CliRunner().invoke(
        cli_app,
        ["-w", str(ws_home), "phishing", "export", "--format", "stix", "--out", str(out)],
    )
    assert done.exit_code == 0, done.output
    assert json.loads(out.read_text(encoding="utf-8"))["type"] == "bundle"
    exports = [e for e in audit_entries(settings) if e.action == "phishing.export"]
    assert len(exports) == 1 and exports[0].actor == "cli"
    assert json.loads(exports[0].detail)["indicators"] > 0
    assert isinstance(exports[0].at, datetime)
