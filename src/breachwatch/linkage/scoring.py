"""Scores of a clustering against known identities (benchmarks and tests), set-based in DuckDB.

Input: a SQL relation with one row per record, columns ``record_uid``, ``cluster_id`` (the
clustering under test) and ``identity_id`` (the truth). Three standard measures:

- **pairwise**: every pair of records in one predicted cluster is a predicted link, every pair
  in one true identity a true link; precision, recall and F1 over those pairs (counted from
  per-group sizes, n·(n−1)/2, never by enumerating pairs);
- **cluster** (exact-cluster F1): a predicted cluster is right when it holds exactly the
  records of one true identity; precision = right clusters / predicted clusters, recall =
  right clusters / true identities;
- **B-cubed** (Bagga & Baldwin 1998): per record, the share of its predicted cluster that is
  its identity (precision) and the share of its identity that is in its cluster (recall),
  averaged over records.

Over a subset of records (one leak, no forum) the clusters are those induced on the subset.
With nothing to predict (no pairs, no clusters) a precision or recall is 1.0: no error made.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    right: int  # pairs / clusters both predicted and true (B-cubed: records)
    predicted: int  # predicted pairs / clusters (B-cubed: records)
    true: int  # true pairs / identities (B-cubed: records)

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


@dataclass(frozen=True)
class Scores:
    records: int
    pairwise: Score
    cluster: Score
    bcubed: Score


def score(con: duckdb.DuckDBPyConnection, assignments_sql: str) -> Scores:
    """All three measures of ``assignments_sql`` (record_uid, cluster_id, identity_id)."""
    row = con.execute(
        f"""WITH a AS (SELECT record_uid, cluster_id, identity_id FROM ({assignments_sql})),
                 c AS (SELECT cluster_id, count(*) AS n FROM a GROUP BY ALL),
                 t AS (SELECT identity_id, count(*) AS n FROM a GROUP BY ALL),
                 ct AS (SELECT cluster_id, identity_id, count(*) AS n FROM a GROUP BY ALL),
                 j AS (SELECT ct.n, c.n AS cn, t.n AS tn FROM ct
                       JOIN c USING (cluster_id) JOIN t USING (identity_id))
            SELECT (SELECT count(*) FROM a),
                   (SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM ct),
                   (SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM c),
                   (SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM t),
                   (SELECT count(*) FILTER (WHERE n = cn AND n = tn) FROM j),
                   (SELECT count(*) FROM c),
                   (SELECT count(*) FROM t),
                   (SELECT coalesce(sum(n * n / cn), 0) FROM j),
                   (SELECT coalesce(sum(n * n / tn), 0) FROM j)"""
    ).fetchone()
    assert row is not None
    records, right_pairs, found_pairs, true_pairs, exact, clusters, identities, bp, br = row
    return Scores(
        records=int(records),
        pairwise=_score(int(right_pairs), int(found_pairs), int(true_pairs)),
        cluster=_score(int(exact), int(clusters), int(identities)),
        bcubed=Score(
            precision=float(bp) / records if records else 1.0,
            recall=float(br) / records if records else 1.0,
            right=int(records),
            predicted=int(records),
            true=int(records),
        ),
    )


def _score(right: int, predicted: int, true: int) -> Score:
    return Score(
        precision=right / predicted if predicted else 1.0,
        recall=right / true if true else 1.0,
        right=right,
        predicted=predicted,
        true=true,
    )
