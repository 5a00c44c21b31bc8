"""Linkage engines: where the key rules and Splink run. One interface, one module per engine.

The workspace (an encrypted DuckDB database) stays the store whatever the engine. For
``affected`` an engine reads the relations ``bw_leak`` and ``bw_reg`` of the DuckDB connection
and leaves its results in the DuckDB tables the DuckDB engine fills (``bw_det_links``, the
probabilistic links table), so storing links and people, and the report, are one code path
(``affected.py``). For ``link`` it reads ``records`` and leaves the key edges and Splink's
pairs in the scratch catalog of ``identity.py``, which clusters them in DuckDB.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import duckdb

from breachwatch.linkage.deterministic import link_deterministic
from breachwatch.linkage.identity import duckdb_key_edges, duckdb_predictions
from breachwatch.linkage.probabilistic import ProbabilisticResult, link_probabilistic
from breachwatch.store.workspace import Workspace

ENGINES = ("duckdb", "spark")


class LinkageEngine(Protocol):
    def link_deterministic(self, con: duckdb.DuckDBPyConnection) -> int:
        """Fills temp table ``bw_det_links`` (see ``deterministic.py``); returns its rows."""
        ...

    def link_probabilistic(
        self,
        con: duckdb.DuckDBPyConnection,
        leak_sql: str,
        registry_sql: str,
        threshold: float,
        out_table: str,
    ) -> ProbabilisticResult:
        """Fills table ``out_table`` as ``probabilistic.link_probabilistic`` does."""
        ...

    def identity_key_edges(self, con: duckdb.DuckDBPyConnection, scratch: str) -> None:
        """Fills table ``det_edges`` of catalog ``scratch`` from ``identity.key_edges_sql``
        over every row of ``records`` (``identity.store_key_edges``)."""
        ...

    def identity_predictions(
        self,
        con: duckdb.DuckDBPyConnection,
        scratch: str,
        records: int,
        threshold: float,
        seed: int,
    ) -> tuple[int, dict[str, Any]]:
        """Fills table ``predictions`` of catalog ``scratch`` with Splink's dedupe pairs over
        ``records`` at or above ``threshold`` (``identity.score_identity_pairs``): at least
        ``record_uid``, ``match_probability``, ``match_weight``, ``date_of_birth`` and
        ``birth_year`` of both sides, and each comparison's ``gamma_``/``mw_`` columns.
        Returns the pairs scored and the trained model."""
        ...


class DuckDBEngine:
    """In the workspace's own DuckDB process."""

    def link_deterministic(self, con: duckdb.DuckDBPyConnection) -> int:
        return link_deterministic(con)

    def link_probabilistic(
        self,
        con: duckdb.DuckDBPyConnection,
        leak_sql: str,
        registry_sql: str,
        threshold: float,
        out_table: str,
    ) -> ProbabilisticResult:
        return link_probabilistic(con, leak_sql, registry_sql, threshold, out_table)

    def identity_key_edges(self, con: duckdb.DuckDBPyConnection, scratch: str) -> None:
        duckdb_key_edges(con, scratch)

    def identity_predictions(
        self,
        con: duckdb.DuckDBPyConnection,
        scratch: str,
        records: int,
        threshold: float,
        seed: int,
    ) -> tuple[int, dict[str, Any]]:
        return duckdb_predictions(con, scratch, records, threshold, seed)


@contextmanager
def open_engine(
    ws: Workspace, name: str, spark_master: str | None = None
) -> Iterator[LinkageEngine]:
    """The engine ``name``; a Spark engine's session lives as long as the ``with`` block."""
    if name == "spark":
        from breachwatch.linkage.spark import spark_engine

        with spark_engine(ws, spark_master) as engine:
            yield engine
    else:
        yield DuckDBEngine()
