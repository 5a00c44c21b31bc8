"""The linkage on Spark: the same key rules and the same Splink model as on DuckDB.

The workspace stays the store. The columns the linkage reads of ``bw_leak`` and ``bw_reg`` go
to Spark as Arrow (DuckDB → Arrow → ``createDataFrame``, through the driver); the key rules run
as the very SQL text DuckDB runs (``deterministic_links_sql``); the leftover records go to Splink
on ``SparkAPI`` with the model of ``probabilistic.py``; the links come back as Arrow into the
DuckDB tables the DuckDB engine fills. Everything between stays in Spark's memory or in its
encrypted local files (``spark_session.py``).

Identity clustering (``link``) ships the columns of ``records`` its key rules and the model read;
the key edges (``identity.key_pairs_sql``, ``key_edges_sql``) and Splink's dedupe pairs
(``score_identity_pairs``) are computed on Spark and come back as Arrow into ``identity.py``'s
scratch catalog, where the birth-date rules, the connected components and the attachment run in
DuckDB as for the DuckDB engine: one code path from the edges to the clusters.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
from splink import Linker
from splink.internals.splink_dataframe import SplinkDataFrame

from breachwatch.linkage.deterministic import (
    DETERMINISTIC_COLUMNS,
    DETERMINISTIC_TABLE,
    deterministic_steps,
)
from breachwatch.linkage.identity import (
    _INPUT,
    KEYED_COLUMNS,
    duckdb_identity_model,
    key_edges_sql,
    key_pairs_sql,
    predict_identity_pairs,
    register_identity_input,
    store_key_edges,
)
from breachwatch.linkage.probabilistic import (
    INPUT_SOURCE_COLUMNS,
    LEAK,
    REGISTRY,
    ProbabilisticResult,
    _check_arguments,
    _explained_columns,
    _level_labels,
    _quiet_splink,
    _settings,
    _target_name,
    best_links_sql,
    explained_links_sql,
    input_select,
    score_pairs,
    write_output,
)
from breachwatch.linkage.spark_session import SparkOptions, spark_session
from breachwatch.store.workspace import Workspace

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# The DuckDB relations an engine reads (created by affected.py), shipped under the same names.
SHIPPED = ("bw_leak", "bw_reg")
# Columns of each shipped relation: what the key rules and the model read, nothing else.
SHIPPED_COLUMNS = tuple(dict.fromkeys(DETERMINISTIC_COLUMNS + INPUT_SOURCE_COLUMNS))
# What ``link`` ships of ``records`` (as view ``bw_records``): the key rules' and the model's.
IDENTITY_COLUMNS = tuple(dict.fromkeys(KEYED_COLUMNS + INPUT_SOURCE_COLUMNS))
IDENTITY_SHIPPED = "bw_records"
# The columns of Splink's dedupe predictions that identity.py reads besides the explanation's.
PREDICTION_COLUMNS = tuple(
    f"{column}_{side}"
    for column in ("record_uid", "date_of_birth", "birth_year")
    for side in ("l", "r")
) + ("match_probability", "match_weight")
# Rows per Arrow batch read from DuckDB.
ARROW_BATCH_ROWS = 1_000_000


@contextmanager
def spark_engine(ws: Workspace, master: str | None = None) -> Iterator[SparkEngine]:
    """A Spark engine on ``master`` (default: the ``spark_master`` setting)."""
    options = SparkOptions.from_settings(ws.settings, master)
    with spark_session(options, ws.home / "tmp") as spark:
        engine = SparkEngine(spark)
        try:
            yield engine
        finally:
            engine.release()


class SparkEngine:
    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self._views: list[str] = []

    def link_deterministic(self, con: duckdb.DuckDBPyConnection) -> int:
        for name in SHIPPED:
            self._ship(con, name)
        for name, sql in deterministic_steps():
            step = self.spark.sql(sql).localCheckpoint(eager=True)
            self._view(step, DETERMINISTIC_TABLE if name == "links" else name)
        links = self.spark.table(DETERMINISTIC_TABLE)
        table = links.toArrow()
        _to_duckdb(con, table, f"CREATE OR REPLACE TEMP TABLE {DETERMINISTIC_TABLE} AS")
        return table.num_rows

    def link_probabilistic(
        self,
        con: duckdb.DuckDBPyConnection,
        leak_sql: str,
        registry_sql: str,
        threshold: float,
        out_table: str,
        seed: int = 42,
    ) -> ProbabilisticResult:
        """As ``probabilistic.link_probabilistic``; the queries run on Spark, on the shipped
        relations and ``bw_det_links``."""
        started = time.perf_counter()
        _check_arguments(threshold, out_table)
        target = _target_name(con, out_table)
        candidates = self._stage(LEAK, leak_sql)
        registry = self._stage(REGISTRY, registry_sql)
        if registry == 0:
            raise ValueError("the registry query returned no records: there is nobody to link")
        pairs, best = 0, None
        if candidates:
            db_api = _splink_api(self.spark)
            predictions, pairs, model = score_pairs(
                db_api, self._scalar, candidates, registry, threshold, seed
            )
            labels = _level_labels(model)
            columns = set(self.spark.table(predictions.physical_name).columns)
            table = self.spark.sql(
                best_links_sql(predictions.physical_name, labels, columns, threshold)
            ).toArrow()
            con.register("bw_spark_best", table)
            best = explained_links_sql("bw_spark_best", labels, columns)
        try:
            write_output(con, target, best)
        finally:
            if best is not None:
                con.unregister("bw_spark_best")
        return ProbabilisticResult(out_table, candidates, pairs, time.perf_counter() - started)

    def identity_key_edges(self, con: duckdb.DuckDBPyConnection, scratch: str) -> None:
        self._ship_records(con)
        pairs = key_pairs_sql(IDENTITY_SHIPPED, hash64="xxhash64")
        edges = self.spark.sql(key_edges_sql(f"({pairs})")).toArrow()
        con.register("bw_spark_edges", edges)
        try:
            store_key_edges(con, scratch, "SELECT * FROM bw_spark_edges")
        finally:
            con.unregister("bw_spark_edges")

    def identity_predictions(
        self,
        con: duckdb.DuckDBPyConnection,
        scratch: str,
        records: int,
        threshold: float,
        seed: int,
    ) -> tuple[int, dict[str, Any]]:
        """Splink's pairs scored on Spark, with the model trained in DuckDB: its training
        (u from random pairs, EM on a sample of blocked pairs) is bounded whatever the data's
        size, and each engine draws its random samples differently from one seed, so a model
        trained on Spark differs slightly and so do a few clusters (BENCHMARKS.md)."""
        model = duckdb_identity_model(con, scratch, records, seed)
        self._ship_records(con)
        staged = self.spark.sql(f"SELECT {input_select()} FROM {IDENTITY_SHIPPED}")
        self._view(staged.localCheckpoint(eager=True), _INPUT)
        data = register_identity_input(_splink_api(self.spark))
        predictions, pairs = predict_identity_pairs(
            data, self._scalar, _in_dialect_of(data, model), threshold
        )
        found = set(self.spark.table(predictions.physical_name).columns)
        columns = PREDICTION_COLUMNS + tuple(_explained_columns(_level_labels(model), found))
        table = self.spark.sql(
            f"SELECT {', '.join(columns)} FROM {predictions.physical_name}"
        ).toArrow()
        _to_duckdb(con, table, f"CREATE TABLE {scratch}.main.predictions AS")
        return pairs, model

    def release(self) -> None:
        """Drops what this engine left in the session (which may outlive it)."""
        for name in self._views:
            self.spark.catalog.dropTempView(name)
        self.spark.catalog.clearCache()

    def _ship(
        self,
        con: duckdb.DuckDBPyConnection,
        name: str,
        source: str | None = None,
        columns: tuple[str, ...] = SHIPPED_COLUMNS,
    ) -> None:
        """DuckDB relation ``source`` (default: ``name``) to Spark view ``name``."""
        select = f"SELECT {', '.join(columns)} FROM {source or name}"
        reader = con.execute(select).fetch_record_batch(ARROW_BATCH_ROWS)
        frame = self.spark.createDataFrame(reader.read_all())
        self._view(frame.localCheckpoint(eager=True), name)

    def _ship_records(self, con: duckdb.DuckDBPyConnection) -> None:
        if IDENTITY_SHIPPED not in self._views:
            self._ship(con, IDENTITY_SHIPPED, "records", IDENTITY_COLUMNS)

    def _stage(self, name: str, sql: str) -> int:
        frame = self.spark.sql(f"SELECT {input_select()} FROM ({sql}) AS src")
        frame = frame.localCheckpoint(eager=True)
        self._view(frame, name)
        return int(frame.count())

    def _view(self, frame: DataFrame, name: str) -> None:
        frame.createOrReplaceTempView(name)
        self._views.append(name)

    def _scalar(self, sql: str) -> int:
        value: Any = self.spark.sql(sql).first()
        return int(value[0]) if value is not None and value[0] is not None else 0


def _splink_api(spark: SparkSession) -> Any:
    """Splink's SparkAPI, its intermediate tables kept by ``localCheckpoint``.

    Splink breaks the lineage of its big intermediate tables; its default writes plain Parquet
    to a checkpoint directory (personal data unencrypted on disk), and ``persist`` keeps every
    upstream plan, which Spark re-renders at each of Splink's hundreds of queries (minutes per
    query on our data). A local checkpoint lives in the block manager (memory, else local disk
    encrypted by ``spark.io.encryption``) and truncates the plan."""
    from splink.backends.spark import SparkAPI

    class LocalCheckpointSparkAPI(SparkAPI):
        def _break_lineage_and_repartition(
            self, spark_df: DataFrame, templated_name: str, physical_name: str
        ) -> DataFrame:
            frame = super()._break_lineage_and_repartition(spark_df, templated_name, physical_name)
            if not frame.storageLevel.useMemory:  # a table Splink does not keep
                return frame
            kept = frame.localCheckpoint(eager=True)
            frame.unpersist()
            return kept

    return LocalCheckpointSparkAPI(spark_session=spark, break_lineage_method="persist")


def _in_dialect_of(data: SplinkDataFrame, model: dict[str, Any]) -> dict[str, Any]:
    """The trained dedupe ``model`` (Splink JSON in DuckDB's SQL) in the dialect of ``data``'s
    backend: the settings rendered for that backend, with the trained prior and each level's m
    and u copied over (the levels are the same list, in the same order, by construction)."""
    prior = float(model["probability_two_random_records_match"])
    with _quiet_splink():
        linker = Linker(data, _settings(prior, "dedupe_only"), log_level=None)
        rendered: dict[str, Any] = linker.misc.save_model_to_json()
    pairs = zip(rendered["comparisons"], model["comparisons"], strict=True)
    for comparison, trained in pairs:
        levels = zip(comparison["comparison_levels"], trained["comparison_levels"], strict=True)
        for level, source in levels:
            for key in ("m_probability", "u_probability"):
                if key in source:
                    level[key] = source[key]
    return rendered


def _to_duckdb(con: duckdb.DuckDBPyConnection, table: pa.Table, create: str) -> None:
    con.register("bw_spark_result", table)
    try:
        con.execute(f"{create} SELECT * FROM bw_spark_result")
    finally:
        con.unregister("bw_spark_result")
