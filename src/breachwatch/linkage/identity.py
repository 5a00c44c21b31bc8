"""Identities across the registry and every ingested leak (C3, exposure across leaks).

All rows of ``records`` (registry and leaks alike, duplicates within one breach included) are
grouped into identities: one cluster per person, whichever datasets hold them.

1. Deterministic edges: two records share a valid NIR or agency id, or an e-mail (match form)
   or E.164 phone corroborated by the same date of birth (or, where a side has none, the same
   first name and postal code, or the same city when first names are missing too; a record
   with neither date of birth nor first name, a forum account, links on the key alone when
   the records behind that value show at most one date of birth). A key value
   held by more than ``MAX_KEY_RECORDS`` records (a shared mailbox, a placeholder number) links
   nobody: it would weld strangers into one giant cluster.
2. Probabilistic edges: Splink dedupe_only over all records, with the comparisons, priors and
   regularisation of ``probabilistic.py``; pairs at or above the threshold are kept, except
   those whose birth dates differ by more than one typing slip (``BIRTH_DATES_AGREE``: a
   namesake relative). A record without a date of birth whose linked neighbours show several
   birth dates keeps only the edges to its best neighbour's date: one record, one person.
3. Connected components over both kinds of edge, set-based in DuckDB: label propagation (each
   record takes the least label among itself and its neighbours, then the label of its label)
   until nothing changes. A cluster's id is the least record_uid it holds.
4. Attachment: a record left alone whose Splink pairs at or above ``attach_threshold`` all
   lead into one cluster joins it through its best such pair (route ``attached``), and the
   components are computed again. Only pairs where both records hold a birth year (of a
   birth date, or alone: a forum's) count, and ``BIRTH_DATES_AGREE`` made them agree: without
   one, a namesake relative at the same address looks the same. A pair scores one
   record against one other; a record with a single candidate identity has no namesake in
   the data to be mistaken for (two candidate clusters: it has, and it stays alone).
   A record holding a birth year but no birth date (a forum account) has candidates from the
   lower ``year_attach_threshold``: full name, year and town give it ~6 bits where a birth
   date gives ~14, and at 0.5 most of them stayed alone (decision 0008).

Splink's working tables live in a private in-memory catalog, detached afterwards (see
``probabilistic.py``).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
from splink import DuckDBAPI, Linker
from splink.internals.database_api import DatabaseAPI
from splink.internals.splink_dataframe import SplinkDataFrame

from breachwatch.linkage import ATTACH_THRESHOLD, YEAR_ATTACH_THRESHOLD
from breachwatch.linkage.probabilistic import (
    BIRTH_DATES_AGREE,
    EXACT_NAME_DOB_RECALL,
    Scalar,
    _check_arguments,
    _duckdb_scalar,
    _explanation_sql,
    _level_labels,
    _predict_pairs,
    _quiet_splink,
    _regularised,
    _settings,
    _target_name,
    input_select,
    scratch_cursor,
    train,
)

if TYPE_CHECKING:
    from breachwatch.linkage.engine import LinkageEngine

CLUSTERS_TABLE = "clusters"
EDGES_TABLE = "cluster_edges"
# Splink's name for the one input table of the dedupe run (in the scratch catalog).
_INPUT = "identity_input"
# A key value shared by more records than this links none of them. A person can appear once in
# the registry and in each leak, plus a duplicate or two: a handful. Beyond that the value is a
# shared mailbox, a family landline or a placeholder.
MAX_KEY_RECORDS = 8
# The DuckDB engine sorts the key values of about this many records at a time (key_pairs_sql).
KEY_SLICE_RECORDS = 5_000_000
# Splink scores the pairs of about this many records per side at a time on DuckDB
# (predict_chunks): 10 M people (43 M records) in 4 × 4 chunks.
PREDICT_CHUNK_RECORDS = 12_000_000
# Least probability of the pair that attaches a lone record to its only candidate cluster
# (step 4). On the synthetic 100 k benchmark 98 % of the lone records attached at 0.5 went to
# their own identity; their pairs agree on names and birth date with every contact stale.
# Label propagation halves the distance to the least label at every round (neighbour step plus
# pointer jump); this bounds a run that should never come close.
MAX_ROUNDS = 200

# (route, priority, key columns with their validity column, needs corroboration)
_KEYS: tuple[tuple[str, int, tuple[tuple[str, str], ...], bool], ...] = (
    ("nir", 1, (("nir", "nir_valid"),), False),
    ("agency_id", 2, (("agency_id", "agency_id_valid"),), False),
    (
        "email",
        3,
        (("email_match", "email_valid"), ("email_2_match", "email_2_valid")),
        True,
    ),
    ("phone", 4, (("phone", "phone_valid"), ("phone_2", "phone_2_valid")), True),
)
# The ``records`` columns the key rules read (``key_edges_sql``).
KEYED_COLUMNS: tuple[str, ...] = (
    "record_uid",
    "breach",
    *sorted({c for _, _, cols, _ in _KEYS for pair in cols for c in pair}),
    "first_name_match",
    "postal_code",
    "city_match",
    "date_of_birth",
)
# The corroboration of an e-mail or phone pair (symmetric form of deterministic.py's): the two
# records agree on the date of birth; or, when either lacks one, on first name and postal code;
# or, when first names are missing too, on the city; or, for a record with neither date of birth
# nor first name (a forum account, nothing to corroborate with), the key alone links it if every
# record holding the key value that has a date of birth has the same one (one person's address,
# not a family's). In key_edges_sql ``l`` is a record and ``r<d>`` the d-th next holder of the
# key value; ``fn_pc`` / ``city_h`` are 64-bit hashes of (first name, postal code) and of the
# city, NULL where a part is missing: two different values agree with probability 2^-64.
_CORROBORATION_LEVELS = (
    ("date_of_birth", "l.dob = r.dob"),
    ("first_name and postal_code", "(l.dob IS NULL OR r.dob IS NULL) AND l.fn_pc = r.fn_pc"),
    (
        "city",
        "(l.dob IS NULL OR r.dob IS NULL) AND (l.fn_null OR r.fn_null) AND l.city_h = r.city_h",
    ),
    (
        "single date of birth behind the key",
        "(l.dob IS NULL AND l.fn_null OR r.dob IS NULL AND r.fn_null) AND l.one_dob",
    ),
)
_EDGE_COLUMNS = (
    "left_uid BIGINT, right_uid BIGINT, route VARCHAR, match_probability DOUBLE, "
    "explanation VARCHAR"
)
_CLUSTER_COLUMNS = "record_uid BIGINT, cluster_id BIGINT, breach VARCHAR"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterReport:
    records: int  # rows of ``records`` clustered
    clusters: int  # identities found, singletons included
    multi_record_clusters: int  # identities holding two records or more
    pairs_scored: int  # record pairs Splink's blocking rules produced and scored
    threshold: float
    seconds: float


def cluster_identities(
    con: duckdb.DuckDBPyConnection,
    threshold: float = 0.99,
    seed: int = 42,
    attach_threshold: float = ATTACH_THRESHOLD,
    year_attach_threshold: float = YEAR_ATTACH_THRESHOLD,
    engine: LinkageEngine | None = None,
) -> ClusterReport:
    """Cluster every row of ``records`` into identities.

    Writes (CREATE OR REPLACE) ``clusters(record_uid, cluster_id, breach)``, every record once,
    ``cluster_id`` the least record_uid of its cluster; and ``cluster_edges(left_uid, right_uid,
    route, match_probability, explanation)``, one row per linked record pair (left < right):
    the strongest deterministic key when one links them (probability 1), else Splink's pair
    (route ``probabilistic``, or ``attached`` for step 4). ``attach_threshold`` at or above
    ``threshold`` attaches nothing but records holding a birth year without a birth date, which
    attach from ``year_attach_threshold`` (or ``attach_threshold`` if lower).

    ``engine`` (default: DuckDB, in this process) computes the key edges and scores Splink's
    pairs (``engine.py``); whichever it is, its results land in the scratch catalog and the
    rest (birth-date rules, components, attachment, outputs) runs here in DuckDB.
    """
    started = time.perf_counter()
    _check_arguments(threshold, CLUSTERS_TABLE)
    _check_arguments(attach_threshold, CLUSTERS_TABLE)
    _check_arguments(year_attach_threshold, CLUSTERS_TABLE)
    records = records_to_cluster(con)
    if engine is None:
        from breachwatch.linkage.engine import DuckDBEngine

        engine = DuckDBEngine()
    clusters_target = _target_name(con, CLUSTERS_TABLE)
    edges_target = _target_name(con, EDGES_TABLE)
    scratch = f"bw_identity_{uuid.uuid4().hex[:12]}"
    con.execute(f"ATTACH ':memory:' AS {scratch} (COMPRESS)")
    try:
        engine.identity_key_edges(con, scratch)
        pairs = _probabilistic_edges(
            con,
            scratch,
            records,
            threshold,
            (attach_threshold, year_attach_threshold),
            seed,
            engine,
        )
        _components(con, scratch, ("det_edges", "prob_edges"))
        if _attach_lone_records(con, scratch):
            _components(con, scratch, ("det_edges", "prob_edges", "attach_edges"))
        _write_outputs(con, scratch, clusters_target, edges_target)
    finally:
        con.execute(f"DETACH DATABASE IF EXISTS {scratch}")
    row = con.execute(
        f"""SELECT count(*), count(*) FILTER (WHERE n > 1) FROM
            (SELECT count(*) AS n FROM {clusters_target} GROUP BY cluster_id)"""
    ).fetchone()
    assert row is not None
    return ClusterReport(
        records=records,
        clusters=int(row[0]),
        multi_record_clusters=int(row[1]),
        pairs_scored=pairs,
        threshold=threshold,
        seconds=time.perf_counter() - started,
    )


def records_to_cluster(con: duckdb.DuckDBPyConnection) -> int:
    """The rows of ``records``; none is an error (checked before an engine starts)."""
    row = con.execute("SELECT count(*) FROM records").fetchone()
    records = int(row[0]) if row else 0
    if records == 0:
        raise ValueError(
            "the workspace holds no records: there is nothing to cluster (ingest the registry "
            "with --role registry and the leaks first)"
        )
    return records


def duckdb_key_edges(con: duckdb.DuckDBPyConnection, scratch: str) -> None:
    """The DuckDB engine's step 1: table ``det_edges``. The key values are cut into slices by
    a hash (``key_pairs_sql``), each slice small enough for DuckDB to sort in its memory
    limit (its window operator does not spill far: one pass over 10 M people's keys ran out of
    4 GB); a pair found through two key values in two slices is settled by the final GROUP BY,
    which spills."""
    records = int(con.execute("SELECT count(*) FROM records").fetchone()[0])  # type: ignore[index]
    slices = max(1, -(-records // KEY_SLICE_RECORDS))
    pairs = f"{scratch}.main.key_pairs"
    con.execute(f"CREATE TABLE {pairs} (left_uid BIGINT, right_uid BIGINT, rank INTEGER)")
    for part in range(slices):
        con.execute(f"INSERT INTO {pairs} {key_pairs_sql('records', slice_of=(part, slices))}")
    store_key_edges(con, scratch, key_edges_sql(pairs))
    con.execute(f"DROP TABLE {pairs}")


def store_key_edges(con: duckdb.DuckDBPyConnection, scratch: str, edges_sql: str) -> None:
    """Table ``det_edges`` from ``key_edges_sql``'s rows (run by any engine): the explanation
    is built here, in DuckDB."""
    con.execute(
        f"""CREATE TABLE {scratch}.main.det_edges AS
            SELECT left_uid, right_uid, route, 1.0::DOUBLE AS match_probability,
                   CAST(json_object('route', route, 'corroborated_by', corroborated_by)
                        AS VARCHAR) AS explanation
            FROM ({edges_sql}) AS edges"""
    )


def key_edges_sql(pairs: str) -> str:
    """The strongest route of each record pair in ``pairs`` (``key_pairs_sql``'s rows, or that
    query in parentheses), and ``corroborated_by`` (NULL for a NIR or an agency id, which need
    none). Portable SQL for DuckDB and Spark."""
    width = len(_CORROBORATION_LEVELS) + 1
    routes = " ".join(f"WHEN best < {(p + 1) * width} THEN '{r}'" for r, p, _, _ in _KEYS)
    levels = " ".join(
        f"WHEN {level} THEN '{name}'"
        for level, (name, _) in enumerate(_CORROBORATION_LEVELS, start=1)
    )
    return f"""SELECT left_uid, right_uid, CASE {routes} END AS route,
                      CASE best % {width} {levels} END AS corroborated_by
               FROM (SELECT left_uid, right_uid, min(rank) AS best FROM {pairs} AS candidates
                     GROUP BY left_uid, right_uid) AS best_pairs"""


def key_pairs_sql(keyed: str, hash64: str = "hash", slice_of: tuple[int, int] | None = None) -> str:
    """Record pairs (left < right) sharing a key value held by at most MAX_KEY_RECORDS records
    of ``keyed`` (``KEYED_COLUMNS`` of ``records``), corroborated where the key needs it, one
    row per (pair, key value): ``rank`` is the route's priority times the number of
    corroboration levels + 1, plus the level (0 for a key that needs none); the least rank of a
    pair is its strongest route (``key_edges_sql``). Portable SQL for DuckDB and Spark;
    ``hash64`` names the engine's 64-bit hash (DuckDB ``hash``, Spark ``xxhash64``).
    ``slice_of`` (i, n): only the key values whose hash is i modulo n (DuckDB's hash is
    unsigned).

    No join: one pass lays every (route, key value, record) out with a dozen bytes for the
    corroboration, one window sorts them by key value and hands each row the next
    MAX_KEY_RECORDS - 1 holders of its value (``lead``), and the pairs are unrolled from those
    columns. (A GROUP BY of the key values joined back and self-joined spilled 46 GB at 10 M
    people.) A record holding the same value in both columns of a route (``email``,
    ``email_2``) counts once.
    """
    keys: list[str] = []
    cases: list[tuple[int, int]] = []
    for _, priority, columns, _ in _KEYS:
        seen: list[tuple[str, str]] = []
        for col, valid in columns:
            # The same value in an earlier column of this route: already laid out.
            again = " OR ".join(f"coalesce({v} AND {c} = {col}, false)" for c, v in seen)
            keep = f"{valid} AND {col} IS NOT NULL" + (f" AND NOT ({again})" if again else "")
            keys.append(f"CASE WHEN {keep} THEN {col} END AS key_{len(keys)}")
            cases.append((len(cases), priority))
            seen.append((col, valid))
    layout = " UNION ALL ".join(f"SELECT {i} AS slot, {p} AS priority" for i, p in cases)
    pick = " ".join(f"WHEN {i} THEN key_{i}" for i, _ in cases)
    part = f" AND {hash64}(k) % {slice_of[1]} = {slice_of[0]}" if slice_of else ""
    offsets = range(1, MAX_KEY_RECORDS)
    order = "PARTITION BY priority, k ORDER BY record_uid"
    whole = f"({order} ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"
    leads = ", ".join(
        f"lead({col}, {d}) OVER ({order}) AS {col}_{d}"
        for d in offsets
        for col in ("record_uid", "dob", "fn_pc", "city_h", "fn_null")
    )
    corroborated = ", ".join(str(p) for _, p, _, corroborate in _KEYS if corroborate)
    # Per next holder d: 0 for a key that needs no corroboration, else the first level that
    # holds (1-based), NULL when none does (or there is no d-th holder).
    codes = []
    for d in offsets:
        whens = " ".join(
            f"WHEN {_at(condition, d)} THEN {level}"
            for level, (_, condition) in enumerate(_CORROBORATION_LEVELS, start=1)
        )
        codes.append(
            f"CASE WHEN record_uid_{d} IS NULL THEN NULL "
            f"WHEN priority NOT IN ({corroborated}) THEN 0 {whens} END AS code_{d}"
        )
    right = " ".join(f"WHEN {d} THEN record_uid_{d}" for d in offsets)
    code = " ".join(f"WHEN {d} THEN code_{d}" for d in offsets)
    offset_rows = " UNION ALL ".join(f"SELECT {d} AS d" for d in offsets)
    width = len(_CORROBORATION_LEVELS) + 1
    return f"""
        WITH base AS (SELECT record_uid, date_of_birth AS dob,
                             CASE WHEN first_name_match IS NOT NULL AND postal_code IS NOT NULL
                                  THEN {hash64}(first_name_match, postal_code) END AS fn_pc,
                             CASE WHEN city_match IS NOT NULL THEN {hash64}(city_match)
                                  END AS city_h,
                             first_name_match IS NULL AS fn_null, {", ".join(keys)}
                      FROM {keyed}),
        kv AS (SELECT * FROM (SELECT l.priority, CASE l.slot {pick} END AS k, record_uid, dob,
                                     fn_pc, city_h, fn_null
                              FROM base CROSS JOIN ({layout}) AS l) AS laid
               WHERE k IS NOT NULL{part}),
        held AS (SELECT priority, record_uid, dob, fn_pc, city_h, fn_null,
                        count(*) OVER {whole} AS holders,
                        min(dob) OVER {whole} IS NOT DISTINCT FROM max(dob) OVER {whole}
                          AS one_dob,
                        {leads}
                 FROM kv),
        coded AS (SELECT priority, record_uid, {", ".join(codes)},
                         {", ".join(f"record_uid_{d}" for d in offsets)}
                  FROM held WHERE holders BETWEEN 2 AND {MAX_KEY_RECORDS})
        SELECT * FROM (SELECT record_uid AS left_uid, CASE o.d {right} END AS right_uid,
                              priority * {width} + CASE o.d {code} END AS rank
                       FROM coded CROSS JOIN ({offset_rows}) AS o) AS unrolled
        WHERE rank IS NOT NULL"""


def _at(condition: str, d: int) -> str:
    """A corroboration condition between a holder (``l.``, the window's own row) and its d-th
    next holder (``r.``, the ``lead`` columns ending in ``_d``)."""
    condition = re.sub(r"\br\.(\w+)", lambda m: f"{m.group(1)}_{d}", condition)
    return re.sub(r"\bl\.(\w+)", r"\1", condition)


def _probabilistic_edges(
    con: duckdb.DuckDBPyConnection,
    scratch: str,
    records: int,
    threshold: float,
    attach_thresholds: tuple[float, float],
    seed: int,
    engine: LinkageEngine,
) -> int:
    """Tables ``prob_edges`` (pairs at or above ``threshold``) and ``prob_candidates`` (pairs
    where both records hold a birth year, of a birth date or alone: every pair at or above the
    attach threshold, ``strong``, and those of a side without a birth date at or above the year
    attach threshold) from a Splink dedupe_only run; returns the pairs scored."""
    attach_threshold = attach_thresholds[0]
    year_attach = min(attach_thresholds)
    lowest = min(threshold, year_attach)
    pairs, model = engine.identity_predictions(con, scratch, records, lowest, seed)
    predictions = f"{scratch}.main.predictions"
    columns = {d[0] for d in con.execute(f"SELECT * FROM {predictions} LIMIT 0").description}
    con.execute(
        f"""CREATE TABLE {scratch}.main.prob_scored AS
            SELECT least(record_uid_l, record_uid_r) AS left_uid,
                   greatest(record_uid_l, record_uid_r) AS right_uid,
                   'probabilistic' AS route, match_probability, match_weight,
                   CASE WHEN record_uid_l < record_uid_r THEN date_of_birth_l
                        ELSE date_of_birth_r END AS dob_left,
                   CASE WHEN record_uid_l < record_uid_r THEN date_of_birth_r
                        ELSE date_of_birth_l END AS dob_right,
                   CASE WHEN record_uid_l < record_uid_r THEN birth_year_l
                        ELSE birth_year_r END AS year_left,
                   CASE WHEN record_uid_l < record_uid_r THEN birth_year_r
                        ELSE birth_year_l END AS year_right,
                   match_probability >= {attach_threshold!r} AS strong,
                   {_explanation_sql(_level_labels(model), columns)} AS explanation
            FROM {predictions}
            WHERE match_probability >= {lowest!r}
              AND {BIRTH_DATES_AGREE}"""
    )
    # A side with a birth year but no birth date (a forum account) may attach through a pair
    # weaker than attach_threshold: ``year_only_left`` / ``_right`` say which side it is.
    con.execute(
        f"""CREATE TABLE {scratch}.main.prob_candidates AS
            SELECT left_uid, right_uid, match_probability, explanation, strong,
                   dob_left IS NULL AS year_only_left, dob_right IS NULL AS year_only_right
            FROM {scratch}.main.prob_scored
            WHERE year_left IS NOT NULL AND year_right IS NOT NULL
              AND (strong OR (match_probability >= {year_attach!r}
                              AND (dob_left IS NULL OR dob_right IS NULL)))"""
    )
    con.execute(f"DELETE FROM {scratch}.main.prob_scored WHERE match_probability < {threshold!r}")
    _one_birth_date_per_record(con, f"{scratch}.main.prob_scored")
    con.execute(
        f"""CREATE TABLE {scratch}.main.prob_edges AS
            SELECT left_uid, right_uid, route, match_probability, explanation
            FROM {scratch}.main.prob_scored"""
    )
    return pairs


def duckdb_predictions(
    con: duckdb.DuckDBPyConnection, scratch: str, records: int, threshold: float, seed: int
) -> tuple[int, dict[str, Any]]:
    """The DuckDB engine's Splink run: table ``predictions`` in the scratch catalog (pairs at or
    above ``threshold``); returns the pairs scored and the trained model."""
    with _scratch_cursor(con, scratch) as cursor:
        data, scalar = register_identity_input(DuckDBAPI(cursor)), _duckdb_scalar(cursor)
        model = train_identity_model(data, scalar, records, seed)
        predictions, pairs = predict_identity_pairs(
            data, scalar, model, threshold, predict_chunks(records)
        )
        cursor.execute(f"ALTER TABLE {predictions.physical_name} RENAME TO predictions")
    return pairs, model


def duckdb_identity_model(
    con: duckdb.DuckDBPyConnection, scratch: str, records: int, seed: int
) -> dict[str, Any]:
    """The dedupe model trained in DuckDB, for an engine that scores the pairs elsewhere."""
    with _scratch_cursor(con, scratch) as cursor:
        data = register_identity_input(DuckDBAPI(cursor))
        return train_identity_model(data, _duckdb_scalar(cursor), records, seed)


@contextmanager
def _scratch_cursor(
    con: duckdb.DuckDBPyConnection, scratch: str
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor on table ``identity_input`` (``records`` in the model's columns) of the scratch
    catalog (``probabilistic.scratch_cursor``)."""
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {scratch}.main.{_INPUT} AS "
        f"SELECT {input_select()} FROM records"
    )
    with scratch_cursor(con, scratch) as cursor:
        yield cursor


def register_identity_input(db_api: DatabaseAPI[Any]) -> SplinkDataFrame:
    """Table ``identity_input`` of ``db_api``'s backend as Splink's input (once per API)."""
    return db_api.register(_INPUT, dataset_display_name=_INPUT)


def train_identity_model(
    data: SplinkDataFrame, scalar: Scalar, records: int, seed: int
) -> dict[str, Any]:
    """The dedupe model (prior, u, m) trained on ``data`` (``register_identity_input``), as
    Splink's JSON in the SQL dialect of its backend."""
    prior = _prior(scalar, records)
    with _quiet_splink():
        trainer = Linker(data, _settings(prior, "dedupe_only"), log_level=None)
        train(trainer, seed, records, lambda columns: _blocked_pairs(scalar, columns))
        return _regularised(trainer.misc.save_model_to_json())


def predict_identity_pairs(
    data: SplinkDataFrame,
    scalar: Scalar,
    model: dict[str, Any],
    threshold: float,
    chunks: int = 1,
) -> tuple[SplinkDataFrame, int]:
    """Scores the blocked pairs of ``data`` with ``model`` (JSON in the SQL dialect of its
    backend), in ``chunks`` × ``chunks`` pieces (``probabilistic._predict_pairs``): returns the
    predictions (pairs at or above ``threshold``) and the number of pairs scored."""
    with _quiet_splink():
        return _predict_pairs(Linker(data, model, log_level=None), scalar, threshold, chunks)


def predict_chunks(records: int) -> int:
    """Slices per side for scoring ``records`` records on DuckDB: one up to
    PREDICT_CHUNK_RECORDS, so that a chunk's pruned input (at most twice that) and the pairs
    it spills stay a few gigabytes."""
    return max(1, -(-records // PREDICT_CHUNK_RECORDS))


def _attach_lone_records(con: duckdb.DuckDBPyConnection, scratch: str) -> int:
    """Table ``attach_edges``: for each record alone in its cluster whose candidate pairs
    (``prob_candidates``) all lead into one cluster, its best such pair. Returns how many.

    A pair below the attach threshold (``strong`` false) is a candidate only for its side that
    holds a birth year but no birth date; the other side does not see it.

    The best pair is the most probable to 1e-9, then the least record_uid: records of one
    cluster that agree alike with the lone one score the same up to the order in which the
    engine summed their weights (1e-13), and the choice must not follow that order."""
    s = f"{scratch}.main"
    con.execute(
        f"""CREATE TABLE {s}.attach_edges AS
            WITH lone AS (SELECT label FROM {s}.labels GROUP BY label HAVING count(*) = 1),
                 cand AS (SELECT left_uid AS uid, right_uid AS other, match_probability,
                                 explanation FROM {s}.prob_candidates
                          WHERE strong OR year_only_left
                          UNION ALL
                          SELECT right_uid, left_uid, match_probability, explanation
                          FROM {s}.prob_candidates WHERE strong OR year_only_right),
                 c AS (SELECT *, (round(match_probability, 9), -other) AS best FROM cand),
                 picked AS (
                     SELECT c.uid, arg_max(c.other, c.best) AS other,
                            arg_max(c.match_probability, c.best) AS match_probability,
                            arg_max(c.explanation, c.best) AS explanation
                     FROM c JOIN lone ON lone.label = c.uid
                     JOIN {s}.labels o ON o.uid = c.other
                     GROUP BY c.uid HAVING count(DISTINCT o.label) = 1)
            SELECT DISTINCT least(uid, other) AS left_uid, greatest(uid, other) AS right_uid,
                   'attached' AS route, match_probability, explanation
            FROM picked"""
    )
    row = con.execute(f"SELECT count(*) FROM {s}.attach_edges").fetchone()
    return int(row[0]) if row else 0


def _one_birth_date_per_record(con: duckdb.DuckDBPyConnection, edges: str) -> None:
    """A record without a date of birth whose probabilistic neighbours show several birth
    dates keeps only the edges to its best-scoring neighbour's date (and to neighbours without
    one): those are several people (a father and his namesake son at one address), and a record
    is one person. Otherwise that single record would weld their clusters into one.

    Neighbours of equal weight (a father and his namesake son, the record without a birth date
    agreeing with both on name and address) are told apart by the least record_uid: without it
    the choice followed row order, and two runs (or engines) kept different edges. Weights are
    compared to 1e-6 bits: another engine sums the same weights in another order."""
    best = f"bw_best_birth_date_{uuid.uuid4().hex[:8]}"
    con.execute(
        f"""CREATE TEMP TABLE {best} AS
            WITH d AS (SELECT left_uid AS uid, right_uid AS neighbour, dob_left AS own,
                              dob_right AS other, match_weight FROM {edges}
                       UNION ALL
                       SELECT right_uid, left_uid, dob_right, dob_left, match_weight
                       FROM {edges})
            SELECT uid, arg_max(other, (round(match_weight, 6), -neighbour)) AS dob
            FROM d
            WHERE own IS NULL AND other IS NOT NULL
            GROUP BY uid HAVING count(DISTINCT other) > 1"""
    )
    try:
        # One side at a time: an OR of the two made DuckDB join every edge with every such
        # record (47 GB of temporary storage at 10 M people before it was stopped).
        for own, other in (("left", "right"), ("right", "left")):
            con.execute(
                f"""DELETE FROM {edges} e WHERE EXISTS (
                        SELECT 1 FROM {best} b WHERE b.uid = e.{own}_uid
                        AND e.dob_{other} IS NOT NULL AND e.dob_{other} <> b.dob)"""
            )
    finally:
        con.execute(f"DROP TABLE IF EXISTS {best}")


def _prior(scalar: Scalar, records: int) -> float:
    """Probability that two random records are one person: the pairs agreeing exactly on first
    name, last name and date of birth, scaled up by the recall of such agreement on true
    matches, over all pairs."""
    twins = scalar(
        f"""SELECT sum(n * (n - 1) / 2) FROM (
                SELECT count(*) AS n FROM {_INPUT}
                WHERE first_name IS NOT NULL AND last_name IS NOT NULL
                  AND date_of_birth IS NOT NULL
                GROUP BY first_name, last_name, date_of_birth) AS twins"""
    )
    expected = max(twins, 1) / EXACT_NAME_DOB_RECALL
    all_pairs = max(records * (records - 1) / 2, 1)
    return min(expected / all_pairs, 0.5)


def _blocked_pairs(scalar: Scalar, columns: tuple[str, ...]) -> int:
    """Pairs a self equi-join on ``columns`` yields, from per-key counts."""
    cols = ", ".join(columns)
    not_null = " AND ".join(f"{c} IS NOT NULL" for c in columns)
    return scalar(
        f"""SELECT sum(n * (n - 1) / 2) FROM
            (SELECT count(*) AS n FROM {_INPUT} WHERE {not_null} GROUP BY {cols}) AS blocks"""
    )


def _components(con: duckdb.DuckDBPyConnection, scratch: str, edges: tuple[str, ...]) -> None:
    """Table ``labels(uid, label)``: each record's least reachable record_uid over the edge
    tables ``edges``.

    Every round, each record takes the least label of its neighbours when smaller than its own,
    then the label its label holds (pointer jumping); stops on a round that changes nothing."""
    s = f"{scratch}.main"
    union = " UNION ".join(f"SELECT left_uid, right_uid FROM {s}.{t}" for t in edges)
    con.execute(
        f"""CREATE OR REPLACE TABLE {s}.adjacency AS
            WITH e AS ({union})
            SELECT left_uid AS a, right_uid AS b FROM e
            UNION ALL SELECT right_uid, left_uid FROM e"""
    )
    con.execute(
        f"CREATE OR REPLACE TABLE {s}.labels AS "
        "SELECT record_uid AS uid, record_uid AS label FROM records"
    )
    for _ in range(MAX_ROUNDS):
        changed = _update(
            con,
            f"""UPDATE {s}.labels SET label = n.label
                FROM (SELECT e.a AS uid, min(l.label) AS label
                      FROM {s}.adjacency e JOIN {s}.labels l ON l.uid = e.b GROUP BY e.a) n
                WHERE labels.uid = n.uid AND n.label < labels.label""",
        )
        changed += _update(
            con,
            f"""UPDATE {s}.labels SET label = j.label
                FROM (SELECT x.uid, y.label FROM {s}.labels x
                      JOIN {s}.labels y ON y.uid = x.label WHERE y.label < x.label) j
                WHERE labels.uid = j.uid""",
        )
        if changed == 0:
            return
    raise RuntimeError(f"identity clustering did not converge in {MAX_ROUNDS} rounds")


def _update(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _write_outputs(con: duckdb.DuckDBPyConnection, scratch: str, clusters: str, edges: str) -> None:
    s = f"{scratch}.main"
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE OR REPLACE TABLE {clusters} ({_CLUSTER_COLUMNS})")
        con.execute(
            f"""INSERT INTO {clusters}
                SELECT r.record_uid, l.label, r.breach
                FROM records r JOIN {s}.labels l ON l.uid = r.record_uid
                ORDER BY l.label, r.record_uid"""
        )
        con.execute(f"CREATE OR REPLACE TABLE {edges} ({_EDGE_COLUMNS})")
        con.execute(
            f"""INSERT INTO {edges}
                SELECT * FROM {s}.det_edges
                UNION ALL
                SELECT * FROM {s}.attach_edges
                UNION ALL
                SELECT * FROM {s}.prob_edges p WHERE NOT EXISTS (
                    SELECT 1 FROM {s}.det_edges d
                    WHERE d.left_uid = p.left_uid AND d.right_uid = p.right_uid)
                ORDER BY left_uid, right_uid"""
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
