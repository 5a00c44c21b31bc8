"""The clustering scores on hand-made truth: the benchmarks' numbers cannot silently lie."""

from __future__ import annotations

import duckdb
import pytest

from breachwatch.linkage.scoring import Scores, score

# Truth: A = {1, 2, 3}, B = {4, 5}, C = {6}.
_TRUTH = [(1, "A"), (2, "A"), (3, "A"), (4, "B"), (5, "B"), (6, "C")]


def _scores(clusters: dict[int, int]) -> Scores:
    con = duckdb.connect()
    con.execute("CREATE TABLE a (record_uid BIGINT, cluster_id BIGINT, identity_id VARCHAR)")
    con.executemany(
        "INSERT INTO a VALUES (?, ?, ?)", [(uid, clusters[uid], who) for uid, who in _TRUTH]
    )
    return score(con, "SELECT * FROM a")


def test_a_mixed_clustering_scores_as_counted_by_hand() -> None:
    # Clusters {1, 2}, {3, 4, 5}, {6}.
    s = _scores({1: 1, 2: 1, 3: 3, 4: 3, 5: 3, 6: 6})
    assert s.records == 6
    # True pairs: 12 13 23 45 = 4; predicted: 12 34 35 45 = 4; right: 12 45 = 2.
    assert (s.pairwise.right, s.pairwise.predicted, s.pairwise.true) == (2, 4, 4)
    assert s.pairwise.precision == s.pairwise.recall == s.pairwise.f1 == 0.5
    # Only {6} is exactly an identity: 1 of 3 clusters, 1 of 3 identities.
    assert (s.cluster.right, s.cluster.predicted, s.cluster.true) == (1, 3, 3)
    assert s.cluster.f1 == pytest.approx(1 / 3)
    # B-cubed precision per record: 1, 1, 1/3, 2/3, 2/3, 1; recall: 2/3, 2/3, 1/3, 1, 1, 1.
    assert s.bcubed.precision == pytest.approx((3 + 1 / 3 + 4 / 3) / 6)
    assert s.bcubed.recall == pytest.approx((4 / 3 + 1 / 3 + 3) / 6)


def test_the_true_clustering_scores_one() -> None:
    s = _scores({1: 1, 2: 1, 3: 1, 4: 4, 5: 4, 6: 6})
    for part in (s.pairwise, s.cluster, s.bcubed):
        assert part.precision == part.recall == part.f1 == 1.0


def test_singletons_make_no_false_link_and_find_no_pair() -> None:
    s = _scores({uid: uid for uid, _ in _TRUTH})
    assert (s.pairwise.precision, s.pairwise.recall, s.pairwise.f1) == (1.0, 0.0, 0.0)
    # {6} is right; 6 clusters predicted, 3 identities.
    assert (s.cluster.right, s.cluster.predicted, s.cluster.true) == (1, 6, 3)
    assert s.bcubed.precision == 1.0
    assert s.bcubed.recall == pytest.approx((3 * 1 / 3 + 2 * 1 / 2 + 1) / 6)


def test_one_cluster_of_everything_finds_every_pair_and_little_else() -> None:
    s = _scores({uid: 0 for uid, _ in _TRUTH})
    assert (s.pairwise.right, s.pairwise.predicted, s.pairwise.true) == (4, 15, 4)
    assert s.pairwise.recall == 1.0
    assert s.cluster.right == 0 and s.cluster.f1 == 0.0
