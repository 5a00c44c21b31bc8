"""Identity clustering across the registry and every leak, against the generator's truth."""

from __future__ import annotations

import duckdb
import pytest
from splink import DuckDBAPI

from breachwatch.ingest.pipeline import ingest
from breachwatch.linkage.identity import (
    ATTACH_THRESHOLD,
    YEAR_ATTACH_THRESHOLD,
    ClusterReport,
    _attach_lone_records,
    _one_birth_date_per_record,
    _scratch_cursor,
    cluster_identities,
    predict_identity_pairs,
    register_identity_input,
    train_identity_model,
)
from breachwatch.linkage.probabilistic import BIRTH_DATES_AGREE, _duckdb_scalar
from breachwatch.store.workspace import Workspace
from breachwatch.synth import generate
from breachwatch.types import Role

LEAKS = ("main", "telecom", "retail", "health", "forum")


@pytest.fixture(scope="module")
def clustered(
    tmp_path_factory: pytest.TempPathFactory, module_ws: Workspace
) -> tuple[Workspace, ClusterReport]:
    """Registry and all leaks of 2,000 synthetic people, clustered once; truth in temp table."""
    manifest = generate(2000, 11, tmp_path_factory.mktemp("synth"))
    ws = module_ws
    ingest(ws, [manifest.registry], None, Role.REGISTRY)
    for name, path in {"main": manifest.main_leak, **manifest.earlier_leaks}.items():
        ingest(ws, [path], name)
    truth = " UNION ALL ".join(
        f"SELECT '{name}' AS breach, CAST(record_no AS BIGINT) AS record_no, identity_id "
        f"FROM read_csv('{manifest.truth[name]}', all_varchar = true)"
        for name in LEAKS
    )
    ws.con.execute(
        f"""CREATE TEMP TABLE truth AS
            SELECT r.record_uid, t.identity_id
            FROM records r JOIN ({truth}) t USING (breach, record_no)
            UNION ALL
            SELECT record_uid, 'I0' || substr(record_id, 2) FROM records
            WHERE breach = 'registry'"""
    )
    report = cluster_identities(ws.con)
    return ws, report


def _pairwise(ws: Workspace, where: str = "true") -> tuple[float, float, int, int]:
    """Pairwise precision and recall of the clusters against the true identities, over the
    records selected by ``where``; plus the cluster and true identity counts."""
    row = ws.con.execute(
        f"""WITH j AS (SELECT c.record_uid, c.cluster_id, t.identity_id
                       FROM clusters c JOIN truth t USING (record_uid) WHERE {where}),
                 found AS (SELECT sum(n * (n - 1) / 2) AS p
                           FROM (SELECT count(*) AS n FROM j GROUP BY cluster_id)),
                 true_ AS (SELECT sum(n * (n - 1) / 2) AS p
                           FROM (SELECT count(*) AS n FROM j GROUP BY identity_id)),
                 both_ AS (SELECT sum(n * (n - 1) / 2) AS p
                           FROM (SELECT count(*) AS n FROM j GROUP BY cluster_id, identity_id))
            SELECT (SELECT p FROM both_), (SELECT p FROM found), (SELECT p FROM true_),
                   (SELECT count(DISTINCT cluster_id) FROM j),
                   (SELECT count(DISTINCT identity_id) FROM j)"""
    ).fetchone()
    assert row is not None
    right, found, expected, clusters, identities = row
    return right / found, right / expected, clusters, identities


def test_clusters_match_the_true_identities(
    clustered: tuple[Workspace, ClusterReport],
) -> None:
    ws, report = clustered
    precision, recall, clusters, identities = _pairwise(ws)
    f1 = 2 * precision * recall / (precision + recall)
    print(
        f"\npairwise P={precision:.4f} R={recall:.4f} F1={f1:.4f} "
        f"clusters={clusters} true identities={identities} {report}"
    )
    assert precision >= 0.98, f"precision {precision:.4f}"
    # Forum accounts hold an e-mail, a city, a full name and a birth year: recall 0.93 when
    # only the e-mail could link them.
    assert recall >= 0.95, f"recall {recall:.4f}"
    # Without them, names, birth dates and contacts find nearly every pair.
    precision, recall, _, _ = _pairwise(ws, "c.breach <> 'forum'")
    assert precision >= 0.98, f"precision without the forum {precision:.4f}"
    assert recall >= 0.95, f"recall without the forum {recall:.4f}"


def test_forum_accounts_link_by_full_name_and_birth_year(
    clustered: tuple[Workspace, ClusterReport],
) -> None:
    ws, _ = clustered
    row = ws.con.execute(
        """SELECT count(*) FILTER (WHERE full_name_valid), count(*) FILTER (WHERE birth_year_valid),
                  count(*) FROM records WHERE breach = 'forum'"""
    ).fetchone()
    assert row is not None and row[0] > 0.8 * row[2] and row[1] > 0.8 * row[2]
    # Edges that join a forum account to someone without going through an e-mail.
    row = ws.con.execute(
        """SELECT count(*) FROM cluster_edges e
           JOIN records l ON l.record_uid = e.left_uid JOIN records r ON r.record_uid = e.right_uid
           WHERE e.route IN ('probabilistic', 'attached')
             AND (l.breach = 'forum') <> (r.breach = 'forum')"""
    ).fetchone()
    assert row is not None and row[0] > 0


def test_every_record_is_in_exactly_one_cluster_named_by_its_least_uid(
    clustered: tuple[Workspace, ClusterReport],
) -> None:
    ws, report = clustered
    con = ws.con
    row = con.execute(
        """SELECT (SELECT count(*) FROM records), count(*), count(DISTINCT record_uid),
                  count(*) FILTER (WHERE record_uid NOT IN (SELECT record_uid FROM records)),
                  count(*) FILTER (WHERE c.breach IS DISTINCT FROM
                                   (SELECT r.breach FROM records r
                                    WHERE r.record_uid = c.record_uid))
           FROM clusters c"""
    ).fetchone()
    assert row is not None
    records, rows, distinct, foreign, wrong_breach = row
    assert records == rows == distinct == report.records
    assert foreign == wrong_breach == 0
    row = con.execute(
        """SELECT count(*), count(*) FILTER (WHERE cluster_id <> least_uid),
                  count(*) FILTER (WHERE n > 1)
           FROM (SELECT cluster_id, min(record_uid) AS least_uid, count(*) AS n
                 FROM clusters GROUP BY cluster_id)"""
    ).fetchone()
    assert row is not None
    clusters, misnamed, multi = row
    assert misnamed == 0
    assert (clusters, multi) == (report.clusters, report.multi_record_clusters)
    assert report.pairs_scored > 0 and report.threshold == 0.99 and report.seconds > 0


def test_edges_join_records_of_one_cluster(clustered: tuple[Workspace, ClusterReport]) -> None:
    ws, _ = clustered
    row = ws.con.execute(
        """SELECT count(*), count(DISTINCT (left_uid, right_uid)),
                  count(*) FILTER (WHERE left_uid >= right_uid),
                  count(*) FILTER (WHERE l.cluster_id <> r.cluster_id),
                  min(match_probability), list(DISTINCT route ORDER BY route)
           FROM cluster_edges e JOIN clusters l ON l.record_uid = e.left_uid
           JOIN clusters r ON r.record_uid = e.right_uid"""
    ).fetchone()
    assert row is not None
    edges, distinct, misordered, split, lowest, routes = row
    assert edges == distinct > 0
    assert misordered == split == 0
    assert lowest >= min(ATTACH_THRESHOLD, YEAR_ATTACH_THRESHOLD)
    assert {"nir", "email", "probabilistic"} <= set(routes)
    # Below the attach threshold, only a record with a birth year but no birth date attaches.
    row = ws.con.execute(
        f"""SELECT count(*) FILTER (WHERE NOT (
                   l.date_of_birth IS NULL AND l.birth_year IS NOT NULL
                   OR r.date_of_birth IS NULL AND r.birth_year IS NOT NULL))
            FROM cluster_edges e JOIN records l ON l.record_uid = e.left_uid
            JOIN records r ON r.record_uid = e.right_uid
            WHERE e.route = 'attached' AND e.match_probability < {ATTACH_THRESHOLD}"""
    ).fetchone()
    assert row == (0,)
    row = ws.con.execute(
        "SELECT min(match_probability) FROM cluster_edges WHERE route <> 'attached'"
    ).fetchone()
    assert row is not None and row[0] >= 0.99
    # No record left out of a multi-record cluster without an edge holding it there.
    assert ws.con.execute(
        """SELECT count(*) FROM clusters c
           WHERE c.record_uid <> c.cluster_id AND NOT EXISTS (
               SELECT 1 FROM cluster_edges e
               WHERE c.record_uid IN (e.left_uid, e.right_uid))"""
    ).fetchone() == (0,)


def test_runs_silently_and_leave_no_scratch_catalog(
    clustered: tuple[Workspace, ClusterReport], capfd: pytest.CaptureFixture[str]
) -> None:
    ws, _ = clustered
    con = ws.con
    assert capfd.readouterr().out == ""
    assert con.execute("SELECT current_database(), current_schema()").fetchone() == ("ws", "main")
    assert con.execute(
        "SELECT count(*) FROM duckdb_databases() WHERE database_name LIKE 'bw_identity_%'"
    ).fetchone() == (0,)
    assert con.execute(
        "SELECT database_name FROM duckdb_tables() "
        "WHERE table_name IN ('clusters', 'cluster_edges')"
    ).fetchall() == [("ws",), ("ws",)]


def test_an_empty_workspace_is_refused(ws: Workspace) -> None:
    with pytest.raises(ValueError, match="holds no records"):
        cluster_identities(ws.con)


def test_a_bad_threshold_is_refused(ws: Workspace) -> None:
    with pytest.raises(ValueError, match="threshold"):
        cluster_identities(ws.con, threshold=1.0)


def test_birth_dates_agree_when_equal_missing_or_one_slip_apart() -> None:
    con = duckdb.connect()
    cases: list[tuple[str | None, str | None, bool]] = [
        ("1985-03-12", "1985-03-12", True),
        ("1985-03-12", None, True),
        ("1985-03-12", "1985-03-13", True),  # one digit changed
        ("1985-03-12", "1985-03-21", True),  # two digits swapped
        ("1985-03-12", "1985-04-13", False),  # a month and a day: someone else
        ("1985-03-12", "1986-03-12", True),  # one digit of the year
        ("1985-03-12", "1987-05-12", False),
        ("1960-06-01", "1990-06-01", False),  # father and namesake son
        ("1985", "1985-03-12", True),  # a birth year alone (a forum's): the same year
        ("1985", "1986-03-12", False),
        ("1985", None, True),
    ]
    for left, right, agree in cases:
        # A bare year is a birth year without a birth date.
        year_l = int(left[:4]) if left else None
        year_r = int(right[:4]) if right else None
        date_l = left if left and len(left) > 4 else None
        date_r = right if right and len(right) > 4 else None
        row = con.execute(
            f"SELECT {BIRTH_DATES_AGREE} FROM (SELECT ?::DATE AS date_of_birth_l, "
            "?::DATE AS date_of_birth_r, ?::INTEGER AS birth_year_l, ?::INTEGER AS birth_year_r)",
            [date_l, date_r, year_l, year_r],
        ).fetchone()
        assert row == (agree,), (left, right)


def test_a_record_without_birth_date_joins_one_birth_date_only() -> None:
    """X (no date of birth) scores above the threshold with a father F (1960) and his namesake
    son S (1990): it keeps its best neighbour's date only, so F and S stay two identities."""
    con = duckdb.connect()
    con.execute(
        """CREATE TABLE e AS SELECT * FROM (VALUES
               (1, 2, 20.0, NULL, DATE '1960-06-01'),   -- X-F
               (1, 3, 15.0, NULL, DATE '1990-06-01'),   -- X-S
               (1, 4, 18.0, NULL, NULL),                -- X-Y, Y without a date either
               (2, 5, 25.0, DATE '1960-06-01', DATE '1960-06-01'),  -- F-F'
               (6, 7, 12.0, NULL, DATE '1975-01-01'))   -- someone else, one date: kept
           AS t(left_uid, right_uid, match_weight, dob_left, dob_right)"""
    )
    _one_birth_date_per_record(con, "e")
    kept = con.execute("SELECT left_uid, right_uid FROM e ORDER BY ALL").fetchall()
    assert kept == [(1, 2), (1, 4), (2, 5), (6, 7)]


@pytest.mark.parametrize("order", ["ASC", "DESC"])
def test_a_tie_between_birth_dates_goes_to_the_least_record_uid(order: str) -> None:
    """X (no date of birth) agrees equally with F (1960) and S (1990), the weights summed in
    another order by another engine: S, the least record_uid, whatever the rows' order."""
    con = duckdb.connect()
    con.execute(
        f"""CREATE TABLE e AS SELECT * FROM (VALUES
                (1, 3, 20.0 + 1e-12, NULL, DATE '1960-06-01'),  -- X-F
                (1, 2, 20.0, NULL, DATE '1990-06-01'))          -- X-S, uid 2 < 3
            AS t(left_uid, right_uid, match_weight, dob_left, dob_right)
            ORDER BY right_uid {order}"""
    )
    _one_birth_date_per_record(con, "e")
    assert con.execute("SELECT left_uid, right_uid FROM e").fetchall() == [(1, 2)]


def test_a_lone_record_attaches_to_its_only_candidate_cluster() -> None:
    con = duckdb.connect()
    con.execute("ATTACH ':memory:' AS s")
    # Clusters: {1} lone, {2, 3}, {4} lone, {5, 6}, {7, 8}, {9} and {10} lone.
    con.execute(
        """CREATE TABLE s.labels AS SELECT * FROM (VALUES (1, 1), (2, 2), (3, 2), (4, 4),
           (5, 5), (6, 5), (7, 7), (8, 7), (9, 9), (10, 10)) v(uid, label)"""
    )
    con.execute(
        """CREATE TABLE s.prob_candidates AS
           SELECT left_uid, right_uid, match_probability::DOUBLE AS match_probability,
                  explanation, true AS strong, false AS year_only_left, false AS year_only_right
           FROM (VALUES
               (1, 2, 0.7, '{}'), (1, 3, 0.9, '{}'),  -- one candidate cluster: attached to 3
               (4, 5, 0.8, '{}'), (4, 7, 0.6, '{}'),  -- two candidate clusters: stays alone
               (6, 8, 0.95, '{}'),                    -- not a lone record: nothing
               (9, 10, 0.6, '{}')                     -- lone to lone: one edge
           ) v(left_uid, right_uid, match_probability, explanation)"""
    )
    assert _attach_lone_records(con, "s") == 2
    rows = con.execute(
        "SELECT left_uid, right_uid, route, match_probability FROM s.attach_edges ORDER BY 1"
    ).fetchall()
    assert rows == [(1, 3, "attached", 0.9), (9, 10, "attached", 0.6)]


def test_a_record_with_a_birth_year_only_attaches_through_a_weaker_pair() -> None:
    """A pair below the attach threshold (``strong`` false) is a candidate for its side that
    holds a birth year without a birth date (a forum account), never for the other side."""
    con = duckdb.connect()
    con.execute("ATTACH ':memory:' AS s")
    # Clusters: {1} lone forum row, {2, 3}; {4} lone dated record, {5, 6}; {7} lone forum row,
    # {8, 9} and {10, 11}.
    con.execute(
        """CREATE TABLE s.labels AS SELECT * FROM (VALUES (1, 1), (2, 2), (3, 2), (4, 4),
           (5, 5), (6, 5), (7, 7), (8, 8), (9, 8), (10, 10), (11, 10)) v(uid, label)"""
    )
    con.execute(
        """CREATE TABLE s.prob_candidates AS
           SELECT left_uid, right_uid, match_probability::DOUBLE AS match_probability,
                  '{}' AS explanation, strong, year_only_left, year_only_right
           FROM (VALUES
               (1, 3, 0.2, false, true, false),   -- the forum row's side: attached to 3
               (4, 5, 0.2, false, false, true),   -- weak, seen from the dated side: nothing
               (7, 8, 0.3, false, true, false),   -- a weak pair still competes: two clusters
               (7, 10, 0.6, true, true, false)
           ) v(left_uid, right_uid, match_probability, strong, year_only_left, year_only_right)"""
    )
    assert _attach_lone_records(con, "s") == 1
    rows = con.execute("SELECT left_uid, right_uid FROM s.attach_edges").fetchall()
    assert rows == [(1, 3)]


@pytest.mark.parametrize("order", ["ASC", "DESC"])
def test_an_attachment_tie_goes_to_the_least_record_uid(order: str) -> None:
    """Lone record 1 agrees alike with 3 and 2 of one cluster, their probabilities apart by the
    order in which an engine summed the weights: it attaches to 2 whatever the rows' order."""
    con = duckdb.connect()
    con.execute("ATTACH ':memory:' AS s")
    con.execute(
        "CREATE TABLE s.labels AS SELECT * FROM (VALUES (1, 1), (2, 2), (3, 2)) v(uid, label)"
    )
    con.execute(
        f"""CREATE TABLE s.prob_candidates AS
            SELECT left_uid, right_uid, match_probability::DOUBLE AS match_probability,
                   explanation, true AS strong, false AS year_only_left,
                   false AS year_only_right
            FROM (VALUES (1, 3, 0.8 + 1e-13, 'via 3'), (1, 2, 0.8, 'via 2'))
                 v(left_uid, right_uid, match_probability, explanation)
            ORDER BY right_uid {order}"""
    )
    assert _attach_lone_records(con, "s") == 1
    rows = con.execute(
        "SELECT left_uid, right_uid, match_probability, explanation FROM s.attach_edges"
    ).fetchall()
    assert rows == [(1, 2, 0.8, "via 2")]


def test_chunked_scoring_gives_the_same_pairs(clustered: tuple[Workspace, ClusterReport]) -> None:
    """Splink's pairs scored in 3 × 3 chunks (as 10 M people are) are the pairs and
    probabilities of one piece, under one trained model."""
    ws, report = clustered
    scratch = "bw_test_chunks"
    ws.con.execute(f"ATTACH ':memory:' AS {scratch}")
    try:
        with _scratch_cursor(ws.con, scratch) as cursor:
            data, scalar = register_identity_input(DuckDBAPI(cursor)), _duckdb_scalar(cursor)
            model = train_identity_model(data, scalar, report.records, 42)
            found = {}
            for chunks in (1, 3):
                predictions, pairs = predict_identity_pairs(data, scalar, model, 0.01, chunks)
                rows = cursor.execute(
                    f"""SELECT record_uid_l, record_uid_r, round(match_probability, 12)
                        FROM {predictions.physical_name}"""
                ).fetchall()
                found[chunks] = (pairs, sorted(rows))
                predictions.drop_table_from_database_and_remove_from_cache()
    finally:
        ws.con.execute(f"DETACH DATABASE {scratch}")
    assert found[1][0] == report.pairs_scored
    assert found[3] == found[1]
    assert len(found[1][1]) > 1000
