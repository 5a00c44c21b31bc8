"""Ingest every synthetic file and check it against the generator's ground truth."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from breachwatch.ingest.pipeline import ingest
from breachwatch.store.workspace import Workspace
from breachwatch.synth import SynthManifest, generate
from breachwatch.types import Role


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> SynthManifest:
    return generate(3000, 11, tmp_path_factory.mktemp("synth"))


def _truth_record_nos(path: Path) -> list[int]:
    with path.open(encoding="utf-8") as handle:
        return sorted(int(row["record_no"]) for row in csv.DictReader(handle))


def test_every_leaked_row_is_stored_with_its_record_number(
    ws: Workspace, manifest: SynthManifest
) -> None:
    leaks = {"main": manifest.main_leak, **manifest.earlier_leaks}
    for name, path in leaks.items():
        report = ingest(ws, [path], name)
        totals = report.totals()
        expected = _truth_record_nos(manifest.truth[name])
        assert totals["rows_quarantined"] == 0, (name, report.sources[0].quarantine_reasons)
        assert totals["rows_read"] == len(expected), name
        stored = [
            r[0]
            for r in ws.con.execute(
                "SELECT record_no FROM records WHERE breach = ? ORDER BY record_no", [name]
            ).fetchall()
        ]
        assert stored == expected, name


def test_registry_is_fully_valid_where_the_generator_made_valid_values(
    ws: Workspace, manifest: SynthManifest
) -> None:
    report = ingest(ws, [manifest.registry], None, Role.REGISTRY)
    classes = report.totals()["data_classes"]
    for data_class in ("nir", "email", "phone", "date_of_birth", "postal_code", "gender"):
        assert classes[data_class]["invalid"] == 0, data_class
        assert classes[data_class]["valid"] > 0, data_class
    assert report.totals()["columns"]["id_personne"] == "record_id"
    assert report.totals()["rows_read"] == 3000


def test_main_leak_columns_are_all_recognised(ws: Workspace, manifest: SynthManifest) -> None:
    columns = ingest(ws, [manifest.main_leak], "main").totals()["columns"]
    assert "unknown" not in columns.values()
    assert columns["ssn"] == "nir" and columns["phone2"] == "phone"
