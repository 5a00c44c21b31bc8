"""Affected population against the synthetic ground truth, and bad input."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from breachwatch.errors import UsageError
from breachwatch.ingest.pipeline import ingest
from breachwatch.linkage.affected import compute_affected
from breachwatch.store.workspace import Workspace, init_workspace, open_workspace
from breachwatch.synth import SynthManifest, generate
from breachwatch.types import Role

PEOPLE = 3000


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> SynthManifest:
    return generate(PEOPLE, 21, tmp_path_factory.mktemp("synth"))


@pytest.fixture
def linked(ws: Workspace, manifest: SynthManifest) -> Iterator[Workspace]:
    ingest(ws, [manifest.registry], None, Role.REGISTRY)
    ingest(ws, [manifest.main_leak], "main")
    yield ws


def _truth(manifest: SynthManifest) -> dict[int, str]:
    with manifest.truth["main"].open(encoding="utf-8") as handle:
        return {int(r["record_no"]): r["person_id"] for r in csv.DictReader(handle)}


def test_affected_people_match_the_truth(linked: Workspace, manifest: SynthManifest) -> None:
    report = compute_affected(linked, "main")
    truth = _truth(manifest)
    expected_people = {p for p in truth.values() if p}
    found = {r[0] for r in linked.con.execute("SELECT record_id FROM affected").fetchall()}
    true_positive = len(found & expected_people)
    precision, recall = true_positive / len(found), true_positive / len(expected_people)
    assert precision >= 0.999, precision
    assert recall >= 0.995, recall
    assert report.affected_people == len(found)
    # People, not rows: duplicates and stale copies collapse onto one person.
    assert report.matched_records > report.affected_people
    assert report.leaked_records == report.matched_records + report.unmatched_records


def test_each_leaked_record_links_to_its_own_person(
    linked: Workspace, manifest: SynthManifest
) -> None:
    compute_affected(linked, "main")
    truth = _truth(manifest)
    rows = linked.con.execute(
        """SELECT l.record_no, r.record_id FROM affected_links a
           JOIN records l ON l.record_uid = a.leak_uid
           JOIN records r ON r.record_uid = a.registry_uid"""
    ).fetchall()
    wrong = [(n, p) for n, p in rows if truth[n] != p]
    assert len(wrong) <= len(rows) * 0.001, wrong[:10]
    unmatched = linked.con.execute(
        "SELECT record_no FROM records WHERE breach = 'main' AND record_uid NOT IN "
        "(SELECT leak_uid FROM affected_links)"
    ).fetchall()
    outsiders = {n for n, p in truth.items() if not p}
    assert outsiders <= {n for (n,) in unmatched}


def test_data_classes_are_what_the_leaked_records_hold(linked: Workspace) -> None:
    report = compute_affected(linked, "main")
    assert report.by_data_class["nir"] > 0 and report.by_data_class["last_name"] > 0
    classes = linked.con.execute("SELECT data_classes FROM affected LIMIT 50").fetchall()
    for (listed,) in classes:
        assert "last_name" in listed and "record_id" not in listed
    assert set(report.by_route) <= {"nir", "agency_id", "email", "phone", "probabilistic"}
    assert report.by_route.get("nir", 0) > report.affected_people * 0.5


def test_rerun_replaces_instead_of_adding(linked: Workspace) -> None:
    first = compute_affected(linked, "main")
    second = compute_affected(linked, "main")
    assert first.affected_people == second.affected_people
    rows = linked.con.execute("SELECT count(*) FROM affected").fetchone()
    assert rows == (second.affected_people,)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"breach": "nope"}, "not an ingested leak"),
        ({"breach": "main", "engine": "oracle"}, "--engine"),
        ({"breach": "main", "threshold": 1.5}, "--threshold"),
        ({"breach": "main", "registry": "main"}, "not an ingested registry"),
    ],
)
def test_bad_requests(linked: Workspace, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        compute_affected(linked, **kwargs)  # type: ignore[arg-type]


def test_no_registry(ws: Workspace, manifest: SynthManifest) -> None:
    ingest(ws, [manifest.main_leak], "main")
    with pytest.raises(UsageError, match="no registry ingested"):
        compute_affected(ws, "main")


def test_registry_without_any_usable_key(tmp_path: Path) -> None:
    home = init_workspace(tmp_path / "w")
    registry = tmp_path / "reg.csv"
    registry.write_text("id,note\n1,foo\n2,bar\n", encoding="utf-8")
    leak = tmp_path / "leak.csv"
    leak.write_text("nom,email\nMartin,a@example.org\n", encoding="utf-8")
    with open_workspace(home) as ws:
        ingest(ws, [registry], None, Role.REGISTRY)
        ingest(ws, [leak], "l")
        with pytest.raises(UsageError, match="no usable key"):
            compute_affected(ws, "l")


def test_affected_stored_in_chunks_is_the_same(
    linked: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``affected`` written a few registry people at a time: the same rows as in one go."""
    from breachwatch.linkage import affected

    columns = "record_id, registry_uid, data_classes, match_probability, match_route, leak_uids"

    def rows() -> list[tuple[object, ...]]:
        return linked.con.execute(
            f"SELECT {columns} FROM affected WHERE breach = 'main' ORDER BY registry_uid"
        ).fetchall()

    compute_affected(linked, "main")
    whole = rows()
    monkeypatch.setattr(affected, "STORE_CHUNK", 37)
    compute_affected(linked, "main")
    assert rows() == whole and len(whole) > 10 * 37
