"""Probabilistic linkage of leaked records to the registry: Splink 5 (Fellegi-Sunter) on DuckDB.

The model (settings, priors, training, single best link) is written once for every Splink
backend: ``score_pairs`` takes the backend's database API; the Spark engine (``spark.py``) runs
it on ``SparkAPI``.

Runs on the leaked records that no deterministic key settled (``deterministic.py``): first
name, last name (or a full name's words), date of birth (or a birth year where a side has no
date), address (street, postal code, city), e-mail and phone are compared level by level; each
level weighs log2(m/u) bits and their sum, with the prior, says how much more likely the pair
is one person than two.

Splink's working tables go to a private in-memory catalog attached for the run and detached
afterwards: they never bloat the encrypted workspace file (DuckDB reuses freed blocks but never
returns them) and nothing of them survives the call. DuckDB still spills them to the workspace's
temp directory, which is encrypted.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import duckdb
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink import comparison_level_library as cll
from splink import comparison_library as cl
from splink.internals.database_api import DatabaseAPI
from splink.internals.exceptions import EMTrainingException
from splink.internals.splink_dataframe import SplinkDataFrame

LEAK, REGISTRY = "leak", "registry"
# The registry records the model is trained on, when not all of ``registry`` (see
# _narrow_registry).
TRAINING = "registry_training"

# The columns Splink sees, under the names the explanation shows, and the ``records`` columns
# each comes from (the ``*_match`` forms are the folded values ingest prepared for comparison).
# Casts fix the types: a leak query may write ``NULL AS email_match`` and an untyped NULL would
# not union with the registry's strings. STRING, not VARCHAR: Spark wants VARCHAR(n).
# A full name ("jean dupont", a forum's display name) stands in for a missing first and last
# name: its first word and the rest ("marie le gall": marie, le gall; a compound first name
# lands partly in the last name, where Jaro-Winkler still sees most of it).
_FULL_NAME_FIRST = "nullif(split_part(full_name_match, ' ', 1), '')"
_FULL_NAME_REST = (
    "nullif(substr(full_name_match, length(split_part(full_name_match, ' ', 1)) + 2), '')"
)
_INPUT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("record_uid", "record_uid", "BIGINT"),
    ("first_name", f"coalesce(first_name_match, {_FULL_NAME_FIRST})", "STRING"),
    ("last_name", f"coalesce(last_name_match, {_FULL_NAME_REST})", "STRING"),
    ("birth_name", "birth_name_match", "STRING"),
    ("date_of_birth", "date_of_birth", "DATE"),
    # A birth year alone (a forum's) or the year of the birth date.
    ("birth_year", "coalesce(birth_year, year(date_of_birth))", "INTEGER"),
    ("postal_code", "postal_code", "STRING"),
    ("city", "city_match", "STRING"),
    ("postal_address", "postal_address_match", "STRING"),
    ("email", "email_match", "STRING"),
    ("phone", "phone", "STRING"),
)
# The ``records`` columns the model reads: what the Spark engine ships of each side.
INPUT_SOURCE_COLUMNS = (
    "record_uid",
    "first_name_match",
    "last_name_match",
    "full_name_match",
    "birth_name_match",
    "date_of_birth",
    "birth_year",
    "postal_code",
    "city_match",
    "postal_address_match",
    "email_match",
    "phone",
)

# u is measured on random pairs (almost all non-matches). 1e7 pairs pin down u of the rare
# levels (exact e-mail, exact address) and cost little next to scoring the blocked pairs.
U_MAX_PAIRS = 1e7
# EM sees at most this many blocked pairs per training rule (a deterministic hash sample).
EM_MAX_PAIRS = 2e6
# Below this many blocked pairs an EM run learns nothing reliable: the rule is skipped.
EM_MIN_PAIRS = 200
# Records Splink's EM probe samples to estimate the blocked pairs when it has to subsample.
EM_PROBE_RECORDS = 1e5
# Above this many registry records the model is trained on a uniform sample of this size: u
# and m are rates, which a sample of a million records measures as well as 43 M do.
TRAIN_REGISTRY_ROWS = 1_000_000
# Columns whose exact level is adjusted by term frequency (see _name_comparison).
TF_COLUMNS = ("first_name", "last_name")
# EM blockings, the first that yields enough pairs is used (see _train).
EM_BLOCKINGS: tuple[tuple[str, ...], ...] = (("date_of_birth",), ("first_name", "last_name"))
# Prior m of each comparison's levels (non-null levels, in order): EM's starting point, and
# what a level keeps when EM cannot train it (a small residual leak, or a typo level a clean
# leak never shows). From how a leak degrades a record: names and birth dates are copied with
# rare typos, addresses and contacts go stale.
M_PRIORS: dict[str, tuple[float, ...]] = {
    "first_name": (0.93, 0.03, 0.01, 0.005, 0.015, 0.01),
    "last_name": (0.88, 0.05, 0.03, 0.01, 0.005, 0.015, 0.01),
    # exact, one typo, <= 1 month, <= 1 year, <= 10 years, other
    "date_of_birth": (0.96, 0.02, 0.008, 0.006, 0.003, 0.003),
    # same year, other (only where a side has no full birth date)
    "birth_year": (0.97, 0.03),
    "address": (0.8, 0.05, 0.03, 0.02, 0.03, 0.07),
    "email": (0.8, 0.2),
    "phone": (0.8, 0.2),
}
# Comparisons whose m stays at the prior. EM cannot learn the date of birth from a leak: the
# pairs that agree on everything else are a household's namesakes as often as the person (a son
# named after his father, same address), so EM learns that birth dates change (m = 12 % for
# "other date" on the telecom leak's residual after deterministic keys). A leak copies a birth
# date; a true match disagrees on it by a typo, rarely by more.
FIXED_M = frozenset({"date_of_birth", "birth_year"})
# Least m probability of a level: at most log2(M_FLOOR / u) ~ -10 bits for one disagreement.
M_FLOOR = 1e-3
# Share of true matches assumed to agree exactly on first name, last name and date of birth:
# turns the count of such agreements into the prior (see _prior).
EXACT_NAME_DOB_RECALL = 0.8

# A link needs the two birth dates to agree, or to differ by one typing slip (one character
# changed, or two swapped: 1985-03-12 / 1985-03-21) within ten years, when both records have
# one. Dates further apart, even by days, are two people: a leak copies a birth date, it does
# not round it. Same-name pairs a month, a year or a few years apart are a household's
# namesakes or a relative at the same address, whose names and address outweigh the few
# negative bits of the date comparison (on the synthetic data every such link above the
# threshold was wrong); a father and his namesake son may be one slip apart (1960 / 1990).
# Portable SQL (DuckDB, and Spark with Splink's UDF jar, which has damerau_levenshtein).
# Where a side holds a birth year but no birth date (a forum), the years must be equal.
BIRTH_DATES_AGREE = (
    "(date_of_birth_l IS NULL OR date_of_birth_r IS NULL OR (damerau_levenshtein("
    "CAST(date_of_birth_l AS STRING), CAST(date_of_birth_r AS STRING)) <= 1 "
    "AND abs(year(date_of_birth_l) - year(date_of_birth_r)) <= 10)) "
    "AND (birth_year_l IS NULL OR birth_year_r IS NULL "
    "OR (date_of_birth_l IS NOT NULL AND date_of_birth_r IS NOT NULL) "
    "OR birth_year_l = birth_year_r)"
)

_OUT_COLUMNS = (
    "leak_uid BIGINT, registry_uid BIGINT, match_probability DOUBLE, match_weight DOUBLE, "
    "explanation VARCHAR"
)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

logger = logging.getLogger(__name__)
# Runs a query in a Splink backend and returns its first column of its first row (0 for NULL).
Scalar = Callable[[str], int]


@dataclass(frozen=True)
class ProbabilisticResult:
    # Table in the connection's default catalog: leak_uid, registry_uid, match_probability,
    # match_weight, explanation (JSON: comparison -> {"level": label, "weight": match weight}).
    table: str
    candidates: int  # leaked records considered
    pairs_scored: int  # record pairs the blocking rules produced and Splink scored
    seconds: float


def link_probabilistic(
    con: duckdb.DuckDBPyConnection,
    leak_sql: str,
    registry_sql: str,
    threshold: float = 0.99,
    out_table: str = "affected_probabilistic",
    seed: int = 42,
    narrow: bool = True,
) -> ProbabilisticResult:
    """Link each record of ``leak_sql`` to its best registry record of ``registry_sql``.

    Both queries return rows of the ``records`` table and run on ``con`` (so they may use its
    temp views). Writes ``out_table`` (CREATE OR REPLACE) with at most one row per leaked record:
    its single best registry candidate, if that pair reaches ``threshold``.

    ``narrow=False`` scores against a copy of the whole registry with Splink's own term
    frequencies (the same predictions, slower: see ``_narrow_registry``; for tests).

    The default threshold is high on purpose: a false link tells someone their data leaked
    when it did not and hides the real victim, whereas a record left unlinked stays in the
    count of unmatched leaked records that the response team reviews.
    """
    started = time.perf_counter()
    _check_arguments(threshold, out_table)
    target = _target_name(con, out_table)
    scratch = f"bw_splink_{uuid.uuid4().hex[:12]}"
    con.execute(f"ATTACH ':memory:' AS {scratch}")
    try:
        candidates, registry = _stage_inputs(con, scratch, leak_sql, registry_sql)
        if registry == 0:
            raise ValueError(
                "the registry query returned no records: there is nobody to link the leak to "
                "(ingest the registry with --role registry, or check registry_sql)"
            )
        pairs, best = 0, None
        if candidates and _narrow_registry(con, scratch, registry, seed, narrow):
            pairs, labels = _run_splink(
                con, scratch, candidates, registry, threshold, seed, TF_COLUMNS if narrow else ()
            )
            predictions = f"{scratch}.main.predictions"
            columns = _columns(con, predictions)
            best = explained_links_sql(
                f"({best_links_sql(predictions, labels, columns, threshold)})", labels, columns
            )
        write_output(con, target, best)
    finally:
        con.execute(f"DETACH DATABASE IF EXISTS {scratch}")
    return ProbabilisticResult(out_table, candidates, pairs, time.perf_counter() - started)


def _check_arguments(threshold: float, out_table: str) -> None:
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold {threshold}: expected a match probability in (0, 1)")
    if not _IDENTIFIER.fullmatch(out_table):
        raise ValueError(f"out_table {out_table!r}: expected a plain SQL identifier")


def _target_name(con: duckdb.DuckDBPyConnection, out_table: str) -> str:
    # Resolved now: the output belongs to the caller's default catalog, whatever Splink selects.
    row = con.execute("SELECT current_database(), current_schema()").fetchone()
    assert row is not None
    return f'"{row[0]}"."{row[1]}"."{out_table}"'


def input_select() -> str:
    """The select list that turns ``records`` rows into the model's input columns."""
    return ", ".join(f"CAST({source} AS {kind}) AS {name}" for name, source, kind in _INPUT_COLUMNS)


def _stage_inputs(
    con: duckdb.DuckDBPyConnection, scratch: str, leak_sql: str, registry_sql: str
) -> tuple[int, int]:
    """Copies the compared columns of both sides into the scratch catalog; returns row counts."""
    select = input_select()
    counts = []
    for name, sql in ((LEAK, leak_sql), (REGISTRY, registry_sql)):
        con.execute(f"CREATE TABLE {scratch}.main.{name} AS SELECT {select} FROM ({sql}) AS src")
        row = con.execute(f"SELECT count(*) FROM {scratch}.main.{name}").fetchone()
        counts.append(int(row[0]) if row else 0)
    return counts[0], counts[1]


def _narrow_registry(
    con: duckdb.DuckDBPyConnection, scratch: str, registry: int, seed: int, narrow: bool = True
) -> int:
    """Splits the staged registry in two: the records some prediction blocking rule pairs with
    a leaked record (table ``registry``, returns how many: 0, no pair to score), and those the
    model is trained on (table ``TRAINING``): the whole registry up to ``TRAIN_REGISTRY_ROWS``,
    a uniform sample of that size above.

    A few thousand leftover records against a 43 M registry: Splink would otherwise build its
    working tables (records with term frequencies, EM's comparison vectors of every pair
    sharing a birth date) over the whole registry. The pairs scored are the same and so are
    their weights: the term frequencies are computed first over the whole registry and the leak
    (as Splink computes them, tables ``tf_<column>``), and the prior keeps the whole registry's
    size. A uniform sample keeps the share of true matches among the pairs EM sees and the
    agreement rates of random pairs u is measured on; the records the rules pair with the leak
    would not (they look like leaked records by construction: u measured on them came out
    1.7× too high for first names, 16× for e-mails)."""
    leak, full = f"{scratch}.main.{LEAK}", f"{scratch}.main.{REGISTRY}"
    for column in TF_COLUMNS if narrow else ():
        con.execute(
            f"""CREATE TABLE {scratch}.main.tf_{column} AS
                WITH concat AS (SELECT {column} FROM {leak} UNION ALL SELECT {column} FROM {full})
                SELECT {column}, CAST(count(*) AS DOUBLE)
                       / (SELECT count({column}) FROM concat) AS tf_{column}
                FROM concat WHERE {column} IS NOT NULL GROUP BY {column}"""
        )
    joins = " UNION ".join(
        f"SELECT r.record_uid FROM {leak} AS l JOIN {full} AS r ON {rule}"
        for rule in blocking_rules_sql()
    )
    con.execute(
        f"""CREATE TABLE {scratch}.main.bw_paired AS
            SELECT * FROM {full} WHERE {f"record_uid IN ({joins})" if narrow else "true"}"""
    )
    if registry > TRAIN_REGISTRY_ROWS:
        # By a hash of the uid: the same sample on every run, whatever the threads.
        con.execute(
            f"""CREATE TABLE {scratch}.main.{TRAINING} AS SELECT * FROM {full}
                WHERE hash(record_uid, {int(seed)}) % {registry} < {TRAIN_REGISTRY_ROWS}"""
        )
        con.execute(f"DROP TABLE {full}")
    else:
        con.execute(f"ALTER TABLE {full} RENAME TO {TRAINING}")
    con.execute(f"ALTER TABLE {scratch}.main.bw_paired RENAME TO {REGISTRY}")
    row = con.execute(f"SELECT count(*) FROM {full}").fetchone()
    return int(row[0]) if row else 0


def blocking_rules_sql(dialect: str = "duckdb") -> list[str]:
    """The prediction blocking rules as SQL conditions on ``l`` and ``r``."""
    return [
        rule if isinstance(rule, str) else rule.get_blocking_rule(dialect).blocking_rule_sql
        for rule in _prediction_blocking_rules()
    ]


class _DropUntrainedLevelNotices(logging.Filter):
    """Drops Splink's "level ... not observed in dataset" warnings.

    They are expected, not a fault: a clean leak shows no typo, so EM never sees the fuzzy
    levels (``_regularised`` gives them a small m). Logged here at DEBUG instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "not observed in dataset" in message:
            logger.debug("splink: %s", " ".join(message.split()))
            return False
        return True


@contextmanager
def _quiet_splink() -> Iterator[None]:
    # Splink logs progress at INFO; only its warnings and errors reach the caller's handlers.
    # A logger's filter sees only the records of that very logger, so it goes on every splink.*
    # logger (they exist once splink is imported).
    splink_logger = logging.getLogger("splink")
    previous = splink_logger.level
    notices = _DropUntrainedLevelNotices()
    loggers = [splink_logger] + [
        logging.getLogger(name)
        for name in list(logging.root.manager.loggerDict)
        if name.startswith("splink.")
    ]
    splink_logger.setLevel(logging.WARNING)
    for each in loggers:
        each.addFilter(notices)
    try:
        yield
    finally:
        for each in loggers:
            each.removeFilter(notices)
        splink_logger.setLevel(previous)


def _run_splink(
    con: duckdb.DuckDBPyConnection,
    scratch: str,
    candidates: int,
    registry: int,
    threshold: float,
    seed: int,
    tf_columns: tuple[str, ...],
) -> tuple[int, dict[str, dict[int, str]]]:
    """Trains the model, scores the blocked pairs into ``scratch.main.predictions``.

    Returns the number of pairs scored and, per comparison, the label of each gamma value."""
    with scratch_cursor(con, scratch) as cursor:
        predictions, pairs, model = score_pairs(
            DuckDBAPI(cursor),
            _duckdb_scalar(cursor),
            candidates,
            registry,
            threshold,
            seed,
            training=TRAINING,
            tf_tables={column: f"tf_{column}" for column in tf_columns},
        )
        cursor.execute(f"ALTER TABLE {predictions.physical_name} RENAME TO predictions")
    return pairs, _level_labels(model)


@contextmanager
def scratch_cursor(
    con: duckdb.DuckDBPyConnection, scratch: str
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor of its own whose default catalog is ``scratch``: Splink creates its tables in
    the default catalog, which must be the scratch one without moving the caller's."""
    cursor = con.cursor()
    try:
        cursor.execute(f"USE {scratch}")
        yield cursor
    finally:
        cursor.close()


def _duckdb_scalar(cursor: duckdb.DuckDBPyConnection) -> Scalar:
    def scalar(sql: str) -> int:
        row = cursor.execute(sql).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    return scalar


def score_pairs(
    db_api: DatabaseAPI[Any],
    scalar: Scalar,
    candidates: int,
    registry: int,
    threshold: float,
    seed: int,
    training: str = REGISTRY,
    tf_tables: dict[str, str] | None = None,
) -> tuple[SplinkDataFrame, int, dict[str, Any]]:
    """Trains the model on tables ``leak`` and ``registry`` of ``db_api``'s backend and scores
    their blocked pairs: returns the predictions (pairs at or above ``threshold``), the number of
    pairs scored, and the trained model.

    ``registry`` is the size of the whole registry (the prior's denominator), which table
    ``registry`` may hold only part of; the model is trained on table ``training`` against the
    leak; ``tf_tables`` names, per column of ``TF_COLUMNS``, a table of term frequencies
    (``column``, ``tf_column``) to use instead of those of the tables at hand."""
    prior = _prior(scalar, candidates, registry)
    with _quiet_splink():
        inputs = [db_api.register(n, dataset_display_name=n) for n in (LEAK, REGISTRY)]
        if training != REGISTRY:
            # Shown to Splink under the registry's name: its random samples (u, EM) hash that
            # name with the record uids, so a registry trained on whole draws what it always did.
            registered = db_api.register(
                training, dataset_display_name=REGISTRY, table_name=f"{training}_input"
            )
            training_inputs = [inputs[0], registered]
        else:
            training_inputs = inputs
        trainer = Linker(training_inputs, _settings(prior), log_level=None)
        _register_tf(trainer, db_api, tf_tables)
        _train(trainer, scalar, seed, training)
        model = _regularised(trainer.misc.save_model_to_json())
        linker = Linker(inputs, model, log_level=None)
        _register_tf(linker, db_api, tf_tables)
        predictions, pairs = _predict_pairs(linker, scalar, threshold)
    return predictions, pairs, model


def _register_tf(
    linker: Linker, db_api: DatabaseAPI[Any], tf_tables: dict[str, str] | None
) -> None:
    for column, table in (tf_tables or {}).items():
        linker.table_management.register_term_frequency_lookup(db_api.register(table), column)


def _predict_pairs(
    linker: Linker, scalar: Scalar, threshold: float, chunks: int = 1
) -> tuple[SplinkDataFrame, int]:
    """Scores the blocked pairs; returns those at or above ``threshold`` and how many were
    scored.

    ``chunks`` > 1 cuts each side's records into that many slices by a hash of their id and
    scores the pairs of each (left slice, right slice) in turn (Splink's predict chunks, on
    DuckDB with the input pruned to the slices' records): every pair falls in exactly one, and
    what a scoring join spills is bounded by one chunk's share instead of the whole. (In one
    piece, 10 M people's 43 M records filled 54 GB of temporary storage before it was stopped.)
    """
    if chunks <= 1:
        # Blocking first, as a table of its own, to count the pairs: predict() keeps only
        # those above the threshold.
        blocked = linker.inference.compute_blocked_pairs_for_predict()
        pairs = scalar(f"SELECT count(*) FROM {blocked.physical_name}")
        linker.table_management.register_blocked_pairs_for_predict(blocked)
        predictions = linker.inference.predict(
            threshold_match_probability=threshold, warning_mode="never"
        )
        # Out of the API's cache (and the database): a later predict on the same API would
        # otherwise score these again, or refuse to chunk.
        blocked.drop_table_from_database_and_remove_from_cache()
        return predictions, pairs
    pairs, collected = 0, None
    for left, right in itertools.product(range(1, chunks + 1), repeat=2):
        left_chunk, right_chunk = (left, chunks), (right, chunks)
        blocked = linker.inference.compute_blocked_pairs_for_predict_chunk(left_chunk, right_chunk)
        pairs += scalar(f"SELECT count(*) FROM {blocked.physical_name}")
        part = linker.inference.predict_chunk(
            left_chunk, right_chunk, threshold_match_probability=threshold, warning_mode="never"
        )
        blocked.drop_table_from_database_and_remove_from_cache()
        if collected is None:
            collected = part
            continue
        scalar(f"INSERT INTO {collected.physical_name} SELECT * FROM {part.physical_name}")
        part.drop_table_from_database_and_remove_from_cache()
    assert collected is not None
    return collected, pairs


def _prior(scalar: Scalar, candidates: int, registry: int) -> float:
    """Probability that a random (leaked, registry) pair is a match.

    Estimated from the leaked records with an exact first name + last name + date of birth
    twin in the registry, scaled up by the recall such agreement has on true matches. Capped at
    1 / registry size: a leaked record is at most one registry person (and at 1/2). The twins
    are found in a narrowed registry too: the birth date + name prefix rules keep them."""
    twins = scalar(
        f"""SELECT count(DISTINCT l.record_uid) FROM {LEAK} l JOIN {REGISTRY} r
            ON l.first_name = r.first_name AND l.last_name = r.last_name
            AND l.date_of_birth = r.date_of_birth"""
    )
    # At least one expected match: a prior of 0 would make every probability 0.
    expected = max(twins, 1) / EXACT_NAME_DOB_RECALL
    # Below 1/2 even for a registry of one person: Splink turns a prior of 1 into infinite bits.
    return min(expected / (candidates * registry), 1.0 / registry, 0.5)


def _settings(
    prior: float, link_type: Literal["link_only", "dedupe_only"] = "link_only"
) -> SettingsCreator:
    """The model of both linkage jobs: leak × registry (link_only) and identities (dedupe_only)."""
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="record_uid",
        probability_two_random_records_match=prior,
        comparisons=_comparisons(),
        blocking_rules_to_generate_predictions=_prediction_blocking_rules(),
        retain_matching_columns=True,  # gamma_* columns: the level of each comparison
        retain_intermediate_calculation_columns=True,  # mw_* columns: its match weight
    )


def _comparisons() -> list[Any]:
    comparisons = [
        _name_comparison("first_name", "last_name", "first name"),
        _name_comparison("last_name", "first_name", "last name", birth_name=True),
        cl.DateOfBirthComparison("date_of_birth", input_is_string=False),
        _birth_year_comparison(),
        _address_comparison(),
        cl.ExactMatch("email"),
        cl.ExactMatch("phone"),
    ]
    for comparison, priors in zip(comparisons, M_PRIORS.values(), strict=True):
        comparison.configure(m_probabilities=list(priors))
    return comparisons


def _name_comparison(col: str, other: str, label: str, birth_name: bool = False) -> Any:
    """Jaro-Winkler levels with term frequencies on the exact level (a shared ``martin`` says
    less than a shared ``kerbrat``), plus the levels a true match shows when names moved:
    first and last name swapped, or a married name against the birth name."""
    levels: list[Any] = [
        cll.NullLevel(col),
        cll.ExactMatchLevel(col, term_frequency_adjustments=True),
    ]
    if birth_name:
        levels.append(
            cll.CustomLevel(
                f"{col}_l = birth_name_r OR birth_name_l = {col}_r",
                label_for_charts=f"{label} is the other's birth name",
            )
        )
    levels += [
        cll.JaroWinklerLevel(col, 0.92),
        cll.JaroWinklerLevel(col, 0.88),
        cll.CustomLevel(
            f"{col}_l = {other}_r OR {other}_l = {col}_r",
            label_for_charts=f"{label} swapped with {other.replace('_', ' ')}",
        ),
        cll.JaroWinklerLevel(col, 0.7),
        cll.ElseLevel(),
    ]
    return cl.CustomComparison(levels, output_column_name=col)


def _birth_year_comparison() -> Any:
    """The birth year, only where a side has a year but no birth date: where both have a date,
    the date comparison has weighed it already (counting it twice would double its bits)."""
    return cl.CustomComparison(
        [
            cll.CustomLevel(
                "birth_year_l IS NULL OR birth_year_r IS NULL "
                "OR (date_of_birth_l IS NOT NULL AND date_of_birth_r IS NOT NULL)",
                label_for_charts="birth year is NULL or both birth dates compared",
            ).configure(is_null_level=True),
            cll.ExactMatchLevel("birth_year"),
            cll.ElseLevel(),
        ],
        output_column_name="birth_year",
    )


def _address_comparison() -> Any:
    """Street, postal code and city as one comparison, graded from the same address down to
    the same département.

    One comparison, not three: a city follows from its postal code and a street is read within
    its town, so summing them as independent evidence would count one home two or three times,
    and a relative living there would look like the person."""
    street = "postal_address"
    return cl.CustomComparison(
        [
            cll.And(cll.NullLevel(street), cll.NullLevel("postal_code"), cll.NullLevel("city")),
            cll.And(cll.ExactMatchLevel(street), cll.ExactMatchLevel("postal_code")).configure(
                label_for_charts="same street address and postal code"
            ),
            cll.And(
                cll.JaroWinklerLevel(street, 0.9),
                cll.Or(cll.ExactMatchLevel("postal_code"), cll.ExactMatchLevel("city")),
            ).configure(label_for_charts="similar street address in the same town"),
            cll.And(cll.ExactMatchLevel("postal_code"), cll.ExactMatchLevel("city")).configure(
                label_for_charts="same postal code and city, other street"
            ),
            cll.Or(
                cll.ExactMatchLevel("postal_code"), cll.JaroWinklerLevel("city", 0.92)
            ).configure(label_for_charts="same postal code or city"),
            cll.CustomLevel(
                "substr(postal_code_l, 1, 2) = substr(postal_code_r, 1, 2)",
                label_for_charts="same département",
            ),
            cll.ElseLevel(),
        ],
        output_column_name="address",
    )


def _prediction_blocking_rules() -> list[Any]:
    """Equi-joins only (decision 0009): at 43 M people a birth date alone is shared by ~2,000
    people, a first-name prefix by up to 8 % of them, so every rule asks for a birth date or a
    postal code *and* a name part. Together they let a true match through when any one of
    surname, first name, birth date or address changed. (A surname's first letter was too
    little: birth date + first name[:3] + last initial grew ×24.5 from 1 M to 10 M people.)"""
    return [
        # Same person, same address, another surname (marriage, typo, swapped names).
        block_on("date_of_birth", "postal_code", "substr(first_name, 1, 1)"),
        # Moved: the address changed, the names kept their first letters.
        block_on("date_of_birth", "substr(last_name, 1, 3)", "substr(first_name, 1, 1)"),
        # Moved, and a slip at the start of the surname: its end is intact.
        block_on("date_of_birth", "substr(first_name, 1, 3)", "right(last_name, 3)"),
        # A birth date mistyped or missing on one side.
        block_on("postal_code", "last_name", "substr(first_name, 1, 3)"),
        block_on("email"),
        block_on("phone"),
        # A side without a birth date (a forum's full name and birth year, a customer file
        # without birth dates): the same full name in the same birth year or the same town.
        "l.first_name = r.first_name AND l.last_name = r.last_name "
        "AND l.birth_year = r.birth_year "
        "AND (l.date_of_birth IS NULL OR r.date_of_birth IS NULL)",
        "l.first_name = r.first_name AND l.last_name = r.last_name AND l.city = r.city "
        "AND (l.date_of_birth IS NULL OR r.date_of_birth IS NULL)",
    ]


def _train(linker: Linker, scalar: Scalar, seed: int, registry: str = REGISTRY) -> None:
    """The leak × ``registry`` model, trained as ``train`` says."""
    records = scalar(f"SELECT count(*) FROM {LEAK}") + scalar(f"SELECT count(*) FROM {registry}")
    train(linker, seed, records, lambda columns: _blocked_pairs(scalar, columns, registry))


def train(
    linker: Linker, seed: int, records: int, blocked_pairs: Callable[[tuple[str, ...]], int]
) -> None:
    """u from random pairs, m by EM on pairs sharing a date of birth: names, address, e-mail
    and phone are free to vary there, and few non-matches share one. Pairs sharing first and
    last name stand in when the data hold no date of birth; the priors stand in when EM cannot
    run. ``blocked_pairs`` counts the pairs an equi-join on some columns yields."""
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=seed)
    for columns in EM_BLOCKINGS:
        if expectation_maximisation(linker, blocked_pairs(columns), columns, records):
            break


def expectation_maximisation(
    linker: Linker, pairs: int, columns: tuple[str, ...], records: int
) -> bool:
    """One EM run blocked on ``columns`` (which yield ``pairs``); False when it did not run:
    too few pairs, or EM failed and the priors stand."""
    if pairs < EM_MIN_PAIRS:
        return False
    # Splink sizes its EM sample from a probe of 1 % of the records, which finds nothing on a
    # small leak: no sampling when the pairs fit, else a probe of ~EM_PROBE_RECORDS records.
    try:
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(*columns),
            max_pairs=EM_MAX_PAIRS if pairs > EM_MAX_PAIRS else None,
            record_sample_proportion=min(1.0, EM_PROBE_RECORDS / records),
        )
    except (ValueError, EMTrainingException) as exc:
        # Few leftover records against a large registry can drive an m to exactly 0, which
        # Splink refuses: the hand-set priors (M_PRIORS) stand in for this run.
        logger.warning("EM blocked on %s failed (%s); keeping the prior m values", columns, exc)
        return False
    return True


def _blocked_pairs(scalar: Scalar, columns: tuple[str, ...], registry: str = REGISTRY) -> int:
    """Pairs an equi-join on ``columns`` yields, from per-key counts (no join of the rows)."""
    cols = ", ".join(columns)
    not_null = " AND ".join(f"{c} IS NOT NULL" for c in columns)
    return scalar(
        f"""SELECT sum(l.n * r.n) FROM
            (SELECT {cols}, count(*) AS n FROM {LEAK} WHERE {not_null} GROUP BY ALL) l
            JOIN (SELECT {cols}, count(*) AS n FROM {registry} WHERE {not_null} GROUP BY ALL) r
            USING ({cols})"""
    )


def _regularised(model: dict[str, Any]) -> dict[str, Any]:
    """The trained model, its m probabilities completed and floored (then renormalised).

    EM leaves m empty for a level it never saw among matches (no typo in a clean leak): the
    prior stands in, as it does for the FIXED_M comparisons. EM drives m to ~1e-14 for a level
    it saw only among non-matches: a single nickname or swapped field would then outweigh every
    other agreement (-43 bits on our data). The floor says "rare among matches", not
    "impossible"."""
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        levels = [lvl for lvl in comparison["comparison_levels"] if not lvl.get("is_null_level")]
        trained = [None if name in FIXED_M else lvl.get("m_probability") for lvl in levels]
        floored = [
            max(m or prior, M_FLOOR) for m, prior in zip(trained, M_PRIORS[name], strict=True)
        ]
        total = sum(floored)
        for level, m in zip(levels, floored, strict=True):
            level["m_probability"] = m / total
    return model


def _level_labels(model: dict[str, Any]) -> dict[str, dict[int, str]]:
    """gamma value -> level label, per comparison, from the saved model.

    Splink numbers the levels of a comparison in order: the null level is -1, the others count
    down to 0 (the ELSE level)."""
    labels: dict[str, dict[int, str]] = {}
    for comparison in model["comparisons"]:
        levels = comparison["comparison_levels"]
        gamma = sum(1 for lvl in levels if not lvl.get("is_null_level")) - 1
        by_gamma: dict[int, str] = {}
        for level in levels:
            if level.get("is_null_level"):
                by_gamma[-1] = level.get("label_for_charts", "null")
            else:
                by_gamma[gamma] = level.get("label_for_charts", str(gamma))
                gamma -= 1
        labels[comparison["output_column_name"]] = by_gamma
    return labels


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _explanation_sql(labels: dict[str, dict[int, str]], columns: set[str]) -> str:
    parts = []
    for name, by_gamma in labels.items():
        cases = " ".join(f"WHEN {g} THEN {_sql_str(lbl)}" for g, lbl in by_gamma.items())
        # A term-frequency adjustment is part of the level's weight: it says how rare the
        # agreeing value is.
        tf = f" + coalesce(mw_tf_adj_{name}, 0)" if f"mw_tf_adj_{name}" in columns else ""
        parts.append(
            f"{_sql_str(name)}, json_object('level', CASE gamma_{name} {cases} END, "
            f"'weight', round(mw_{name}{tf}, 4))"
        )
    return f"CAST(json_object({', '.join(parts)}) AS VARCHAR)"


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {d[0] for d in con.execute(f"SELECT * FROM {table} LIMIT 0").description}


def _explained_columns(labels: dict[str, dict[int, str]], columns: set[str]) -> list[str]:
    """The predictions' columns an explanation reads: each comparison's level and weight."""
    wanted = []
    for name in labels:
        wanted += [f"gamma_{name}", f"mw_{name}", f"mw_tf_adj_{name}"]
    return [c for c in wanted if c in columns]


def best_links_sql(
    predictions: str, labels: dict[str, dict[int, str]], columns: set[str], threshold: float
) -> str:
    """One row per leaked record: its best registry candidate, with the columns its
    explanation needs (``explained_links_sql``). Portable SQL: DuckDB and Spark.

    Single best link because a leaked row is one person and the registry holds each person once;
    a second candidate above the threshold is a relative or a namesake, not a second victim.
    Ties go to the lowest registry uid so that the result does not depend on row order."""
    leak_uid = f"CASE WHEN source_dataset_l = '{LEAK}' THEN record_uid_l ELSE record_uid_r END"
    registry_uid = f"CASE WHEN source_dataset_l = '{LEAK}' THEN record_uid_r ELSE record_uid_l END"
    explained = "".join(f", {c}" for c in _explained_columns(labels, columns))
    return f"""
        SELECT leak_uid, registry_uid, match_probability, match_weight{explained}
        FROM (
            SELECT {leak_uid} AS leak_uid, {registry_uid} AS registry_uid,
                   match_probability, match_weight{explained},
                   row_number() OVER (PARTITION BY {leak_uid}
                                      ORDER BY match_weight DESC, {registry_uid}) AS link_rank
            FROM {predictions}
            WHERE match_probability >= {threshold!r} AND {BIRTH_DATES_AGREE}
        ) AS ranked
        WHERE link_rank = 1"""


def explained_links_sql(source: str, labels: dict[str, dict[int, str]], columns: set[str]) -> str:
    """The output rows (``_OUT_COLUMNS``) from ``best_links_sql``'s rows in ``source``: the
    explanation is built in DuckDB, whichever engine scored the pairs."""
    return f"""SELECT leak_uid, registry_uid, match_probability, match_weight,
                      {_explanation_sql(labels, columns)} AS explanation
               FROM {source} AS best"""


def write_output(con: duckdb.DuckDBPyConnection, target: str, select_sql: str | None) -> None:
    """Replaces table ``target`` (a qualified name) by the rows of ``select_sql`` (none: empty)."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE OR REPLACE TABLE {target} ({_OUT_COLUMNS})")
        if select_sql is not None:
            con.execute(f"INSERT INTO {target} {select_sql}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
