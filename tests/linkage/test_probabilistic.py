"""Probabilistic linkage (Splink on DuckDB) against the synthetic generator's ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from breachwatch.ingest.pipeline import ingest
from breachwatch.linkage import probabilistic
from breachwatch.linkage.probabilistic import ProbabilisticResult, link_probabilistic
from breachwatch.store.workspace import Workspace
from breachwatch.synth import generate
from breachwatch.types import Role

MAIN = "SELECT * FROM records WHERE breach = 'main'"
REGISTRY = "SELECT * FROM records WHERE breach = 'registry'"
# What a leak without contact identifiers looks like: only names, birth date and address left.
NO_CONTACT = (
    "SELECT * REPLACE (NULL AS email_match, NULL AS phone, NULL AS nir) "
    "FROM records WHERE breach = 'main'"
)
COMPARISONS = {
    "first_name",
    "last_name",
    "date_of_birth",
    "birth_year",
    "address",
    "email",
    "phone",
}
OUT_COLUMNS = [
    ("leak_uid", "BIGINT"),
    ("registry_uid", "BIGINT"),
    ("match_probability", "DOUBLE"),
    ("match_weight", "DOUBLE"),
    ("explanation", "VARCHAR"),
]


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory, module_ws: Workspace) -> Workspace:
    """One workspace for the module: registry + main leak ingested, truth loaded."""
    manifest = generate(3000, 5, tmp_path_factory.mktemp("synth"))
    ingest(module_ws, [manifest.registry], None, Role.REGISTRY)
    ingest(module_ws, [manifest.main_leak], "main")
    _load_truth(module_ws, manifest.truth["main"])
    return module_ws


def _load_truth(ws: Workspace, path: Path) -> None:
    ws.con.execute(
        "CREATE TEMP TABLE truth AS SELECT CAST(record_no AS BIGINT) AS record_no, person_id "
        "FROM read_csv(?, all_varchar = true)",
        [str(path)],
    )


@pytest.fixture(scope="module")
def main_links(linked: Workspace) -> ProbabilisticResult:
    return link_probabilistic(linked.con, MAIN, REGISTRY, out_table="prob_main")


@pytest.fixture(scope="module")
def no_contact_links(linked: Workspace) -> ProbabilisticResult:
    return link_probabilistic(linked.con, NO_CONTACT, REGISTRY, out_table="prob_no_contact")


def _precision_recall(ws: Workspace, table: str) -> tuple[float, float]:
    """Against the truth: a link is right when the registry row is the leaked row's person."""
    row = ws.con.execute(
        f"""WITH truth_links AS (
                SELECT l.record_uid AS leak_uid, r.record_uid AS registry_uid
                FROM records l JOIN truth t ON t.record_no = l.record_no
                JOIN records r ON r.breach = 'registry' AND r.record_id = t.person_id
                WHERE l.breach = 'main')
            SELECT (SELECT count(*) FROM {table}),
                   (SELECT count(*) FROM truth_links),
                   (SELECT count(*) FROM {table} JOIN truth_links USING (leak_uid, registry_uid))"""
    ).fetchone()
    assert row is not None
    links, expected, right = row
    assert links and expected
    return right / links, right / expected


def _explanations(ws: Workspace, table: str) -> list[tuple[float, dict[str, dict[str, object]]]]:
    rows = ws.con.execute(f"SELECT match_weight, explanation FROM {table}").fetchall()
    return [(weight, json.loads(text)) for weight, text in rows]


def test_main_leak_is_linked_with_high_precision_and_recall(
    linked: Workspace, main_links: ProbabilisticResult
) -> None:
    precision, recall = _precision_recall(linked, main_links.table)
    assert precision >= 0.99, f"precision {precision:.4f}"
    assert recall >= 0.95, f"recall {recall:.4f}"
    leaked = linked.con.execute(f"SELECT count(*) FROM ({MAIN})").fetchone()
    assert leaked is not None and main_links.candidates == leaked[0]
    assert main_links.pairs_scored >= main_links.candidates * recall
    assert main_links.table == "prob_main" and main_links.seconds > 0


def test_one_best_link_per_leaked_record_above_the_threshold(
    linked: Workspace, main_links: ProbabilisticResult
) -> None:
    con = linked.con
    columns = [(name, kind) for name, kind, *_ in con.execute("DESCRIBE prob_main").fetchall()]
    assert columns == OUT_COLUMNS
    row = con.execute(
        """SELECT count(*), count(DISTINCT leak_uid), min(match_probability),
                  count(*) FILTER (WHERE leak_uid NOT IN (SELECT record_uid FROM records
                                                          WHERE breach = 'main')),
                  count(*) FILTER (WHERE registry_uid NOT IN (SELECT record_uid FROM records
                                                              WHERE breach = 'registry'))
           FROM prob_main"""
    ).fetchone()
    assert row is not None
    links, leaked, lowest, foreign_leak, foreign_registry = row
    assert links == leaked > 0
    assert lowest >= 0.99
    assert foreign_leak == foreign_registry == 0


def test_explanation_gives_each_comparison_its_level_and_weight(
    linked: Workspace, main_links: ProbabilisticResult
) -> None:
    explained = _explanations(linked, main_links.table)
    priors = set()
    for match_weight, explanation in explained:
        assert set(explanation) == COMPARISONS
        for part in explanation.values():
            assert isinstance(part["level"], str) and part["level"]
            assert isinstance(part["weight"], int | float)
        # The match weight is the prior's weight plus the comparisons' weights.
        total = sum(float(str(part["weight"])) for part in explanation.values())
        priors.add(round(match_weight - total, 2))
    assert len(priors) == 1 and priors.pop() < 0
    labels = {e["first_name"]["level"] for _, e in explained}
    assert "Exact match on first_name" in labels


def test_names_birth_date_and_address_alone_still_link_precisely(
    linked: Workspace, no_contact_links: ProbabilisticResult
) -> None:
    precision, recall = _precision_recall(linked, no_contact_links.table)
    assert precision >= 0.99, f"precision {precision:.4f}"
    assert recall >= 0.95, f"recall {recall:.4f}"
    for _, explanation in _explanations(linked, no_contact_links.table):
        assert explanation["email"]["weight"] == explanation["phone"]["weight"] == 0
        assert "NULL" in str(explanation["email"]["level"])


def test_no_candidate_gives_an_empty_table(linked: Workspace) -> None:
    con = linked.con
    con.execute("CREATE OR REPLACE TABLE prob_empty AS SELECT 1 AS stale")
    result = link_probabilistic(con, f"{MAIN} AND false", REGISTRY, out_table="prob_empty")
    assert (result.candidates, result.pairs_scored) == (0, 0)
    columns = [(name, kind) for name, kind, *_ in con.execute("DESCRIBE prob_empty").fetchall()]
    assert columns == OUT_COLUMNS
    assert con.execute("SELECT count(*) FROM prob_empty").fetchone() == (0,)


def test_an_empty_registry_is_refused(linked: Workspace) -> None:
    with pytest.raises(ValueError, match="registry query returned no records"):
        link_probabilistic(linked.con, MAIN, f"{REGISTRY} AND false", out_table="prob_none")


@pytest.mark.parametrize(
    ("threshold", "out_table"), [(1.0, "t"), (0.0, "t"), (0.99, "x; DROP TABLE records")]
)
def test_bad_arguments_are_refused(linked: Workspace, threshold: float, out_table: str) -> None:
    with pytest.raises(ValueError):
        link_probabilistic(linked.con, MAIN, REGISTRY, threshold, out_table)


def test_runs_are_repeatable_silent_and_leave_no_trace(
    linked: Workspace,
    main_links: ProbabilisticResult,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    con = linked.con
    # The caller's temp views are visible to the queries (the affected step passes such views).
    con.execute(f"CREATE OR REPLACE TEMP VIEW some_leak AS {MAIN} AND record_no % 3 = 0")
    runs = []
    for _ in range(2):
        link_probabilistic(con, "SELECT * FROM some_leak", REGISTRY, out_table="prob_repeat")
        runs.append(
            con.execute(
                "SELECT leak_uid, registry_uid, round(match_weight, 6), explanation "
                "FROM prob_repeat ORDER BY leak_uid"
            ).fetchall()
        )
    assert runs[0] == runs[1] and runs[0]
    assert capfd.readouterr().out == ""
    assert not [r for r in caplog.records if r.name.startswith("splink")]
    # Splink's working tables lived in a scratch catalog, detached since.
    assert con.execute("SELECT current_database(), current_schema()").fetchone() == ("ws", "main")
    assert con.execute(
        "SELECT count(*) FROM duckdb_databases() WHERE database_name LIKE 'bw_splink_%'"
    ).fetchone() == (0,)
    assert con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '__splink__%'"
    ).fetchone() == (0,)
    assert con.execute(
        "SELECT database_name, schema_name FROM duckdb_tables() WHERE table_name = 'prob_repeat'"
    ).fetchall() == [("ws", "main")]


def _links(ws: Workspace, table: str) -> list[tuple[int, int, float, str]]:
    return ws.con.execute(
        f"SELECT leak_uid, registry_uid, round(match_probability, 9), explanation FROM {table} "
        "ORDER BY leak_uid"
    ).fetchall()


def test_scoring_against_the_paired_registry_records_changes_no_link(linked: Workspace) -> None:
    # Only the registry records a blocking rule pairs with a leaked record are scored, with term
    # frequencies of the whole registry: the same links, probabilities and explanations as
    # Splink scoring against the whole registry with its own term frequencies.
    con = linked.con
    narrowed = link_probabilistic(con, NO_CONTACT, REGISTRY, out_table="prob_narrowed")
    whole = link_probabilistic(con, NO_CONTACT, REGISTRY, out_table="prob_whole", narrow=False)
    assert narrowed.pairs_scored == whole.pairs_scored > 0
    links = _links(linked, "prob_narrowed")
    assert links == _links(linked, "prob_whole") and len(links) > 2000


def test_a_model_trained_on_a_sample_of_a_large_registry_still_links_precisely(
    linked: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Above TRAIN_REGISTRY_ROWS the model learns u and m on a uniform sample of the registry
    # (the same one on every run); every registry record is still a candidate.
    monkeypatch.setattr(probabilistic, "TRAIN_REGISTRY_ROWS", 1000)
    runs = [
        link_probabilistic(linked.con, NO_CONTACT, REGISTRY, out_table=f"prob_sampled_{n}")
        for n in range(2)
    ]
    precision, recall = _precision_recall(linked, runs[0].table)
    assert precision >= 0.99, f"precision {precision:.4f}"
    assert recall >= 0.95, f"recall {recall:.4f}"
    assert _links(linked, "prob_sampled_0") == _links(linked, "prob_sampled_1")


def test_leaked_records_no_rule_pairs_with_anyone_give_an_empty_table(linked: Workspace) -> None:
    # No birth date, e-mail, phone, postal code or city: no blocking rule pairs these records.
    bare = (
        "SELECT * REPLACE (NULL AS email_match, NULL AS phone, "
        "CAST(NULL AS DATE) AS date_of_birth, NULL AS birth_year, NULL AS postal_code, "
        "NULL AS city_match) "
        "FROM records WHERE breach = 'main'"
    )
    result = link_probabilistic(linked.con, bare, REGISTRY, out_table="prob_bare")
    assert result.candidates > 2000 and result.pairs_scored == 0
    assert linked.con.execute("SELECT count(*) FROM prob_bare").fetchone() == (0,)
