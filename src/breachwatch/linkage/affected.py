"""Affected population (C2): which registry people are in a leak, and what leaked for each.

Deterministic keys first (``deterministic.py``), then probabilistic linkage with Splink for the
records no key settled (``probabilistic.py``), on DuckDB or on Spark (``engine.py``). People
are counted, not rows: several leaked records of one person (duplicates, stale copies) make one
affected person whose exposed data classes are the union of what their records hold. Leaked
records that match nobody are counted and exportable (``breachwatch export unmatched``), never
dropped.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from breachwatch.errors import UsageError
from breachwatch.linkage.deterministic import DETERMINISTIC_TABLE
from breachwatch.linkage.engine import ENGINES, LinkageEngine, open_engine
from breachwatch.store.workspace import Workspace, uid_ranges
from breachwatch.types import SLOTS, DataClass

# Agreement reported in a deterministic link's explanation.
_EXPLAINED = (
    ("nir", "nir"),
    ("agency_id", "agency_id"),
    ("email", "email_match"),
    ("phone", "phone"),
    ("date_of_birth", "date_of_birth"),
    ("last_name", "last_name_match"),
    ("first_name", "first_name_match"),
    ("postal_code", "postal_code"),
)


@dataclass
class AffectedReport:
    breach: str
    registry: str
    leaked_records: int = 0
    matched_records: int = 0
    unmatched_records: int = 0
    affected_people: int = 0
    conflicting_keys: int = 0
    by_route: dict[str, int] = field(default_factory=dict)
    by_data_class: dict[str, int] = field(default_factory=dict)
    probabilistic: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def compute_affected(
    ws: Workspace,
    breach: str,
    registry: str | None = None,
    engine: str = "duckdb",
    threshold: float = 0.99,
    spark_master: str | None = None,
) -> AffectedReport:
    """``spark_master`` (with ``engine="spark"``) overrides the ``spark_master`` setting."""
    started = time.perf_counter()
    registry = _check_inputs(ws, breach, registry, engine, threshold)
    report = AffectedReport(breach, registry)
    con = ws.con
    con.execute(
        "CREATE OR REPLACE TEMP VIEW bw_leak AS "
        f"SELECT * FROM records WHERE breach = '{_q(breach)}'"
    )
    con.execute(
        "CREATE OR REPLACE TEMP VIEW bw_reg AS "
        f"SELECT * FROM records WHERE breach = '{_q(registry)}'"
    )
    with open_engine(ws, engine, spark_master) as linkage:
        linkage.link_deterministic(con)
        report.conflicting_keys = _scalar(
            ws, f"SELECT count(*) FILTER (WHERE conflicting) FROM {DETERMINISTIC_TABLE}"
        )
        probabilistic_table = _probabilistic(ws, linkage, report, threshold)
    con.execute("BEGIN TRANSACTION")
    try:
        _store_links(ws, breach, probabilistic_table)
        _store_affected(ws, breach)
        con.execute("UPDATE breaches SET linked_at = now() WHERE name = ?", [breach])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    _fill_report(ws, report)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _q(text: str) -> str:
    return text.replace("'", "''")


def _scalar(ws: Workspace, sql: str, params: list[object] | None = None) -> int:
    row = ws.con.execute(sql, params or []).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def check_linkage_options(engine: str, threshold: float) -> None:
    """The options every linkage command shares (``affected``, ``link``)."""
    if engine not in ENGINES:
        raise UsageError(f"--engine {engine!r}: expected one of {', '.join(ENGINES)}")
    if not 0.5 <= threshold < 1.0:
        raise UsageError(f"--threshold {threshold}: expected a probability in [0.5, 1)")


def _check_inputs(
    ws: Workspace, breach: str, registry: str | None, engine: str, threshold: float
) -> str:
    check_linkage_options(engine, threshold)
    roles = dict(ws.con.execute("SELECT name, role FROM breaches").fetchall())
    if roles.get(breach) != "leak":
        known = ", ".join(sorted(n for n, r in roles.items() if r == "leak")) or "none"
        raise UsageError(f"breach {breach!r} is not an ingested leak (ingested leaks: {known})")
    registries = sorted(n for n, r in roles.items() if r == "registry")
    if registry is None:
        if len(registries) != 1:
            raise UsageError(
                "no registry ingested: run `breachwatch ingest FILE --role registry` first"
                if not registries
                else f"several registries ({', '.join(registries)}): choose one with --registry"
            )
        registry = registries[0]
    elif registry not in registries:
        raise UsageError(f"{registry!r} is not an ingested registry")
    for name in (breach, registry):
        if not _scalar(ws, "SELECT count(*) FROM records WHERE breach = ?", [name]):
            raise UsageError(f"dataset {name!r} holds no records")
    _check_registry_keys(ws, registry)
    return registry


def _check_registry_keys(ws: Workspace, registry: str) -> None:
    usable = _scalar(
        ws,
        "SELECT count(*) FROM records WHERE breach = ? AND (nir_valid OR agency_id_valid "
        "OR email_valid OR phone_valid OR (last_name_valid AND date_of_birth_valid))",
        [registry],
    )
    if not usable:
        raise UsageError(
            f"registry {registry!r} has no usable key: no valid NIR, agency id, e-mail, phone, "
            "nor last name with date of birth; check the column mapping (--map) at ingest"
        )


def _probabilistic(
    ws: Workspace, linkage: LinkageEngine, report: AffectedReport, threshold: float
) -> str | None:
    leak_sql = (
        "SELECT * FROM bw_leak "
        f"WHERE record_uid NOT IN (SELECT leak_uid FROM {DETERMINISTIC_TABLE})"
    )
    if not _scalar(ws, f"SELECT count(*) FROM ({leak_sql})"):
        return None
    result = linkage.link_probabilistic(
        ws.con, leak_sql, "SELECT * FROM bw_reg", threshold=threshold, out_table="bw_prob_links"
    )
    report.probabilistic = {
        "candidates": result.candidates,
        "pairs_scored": result.pairs_scored,
        "threshold": threshold,
        "seconds": round(result.seconds, 3),
    }
    return result.table


def _explanation_sql() -> str:
    checks = ", ".join(
        f"CASE WHEN l.{col} IS NOT NULL AND l.{col} = r.{col} THEN '{name}' END"
        for name, col in _EXPLAINED
    )
    return (
        f"json_object('route', d.route, 'agreeing', list_filter([{checks}], x -> x IS NOT NULL), "
        "'conflicting_keys', d.conflicting)"
    )


def _store_links(ws: Workspace, breach: str, probabilistic_table: str | None) -> None:
    con = ws.con
    con.execute("DELETE FROM affected_links WHERE breach = ?", [breach])
    con.execute(
        f"""INSERT INTO affected_links
            SELECT '{_q(breach)}', d.leak_uid, d.registry_uid, d.route, 1.0, {_explanation_sql()}
            FROM {DETERMINISTIC_TABLE} d
            JOIN bw_leak l ON l.record_uid = d.leak_uid
            JOIN bw_reg r ON r.record_uid = d.registry_uid"""
    )
    if probabilistic_table:
        con.execute(
            f"""INSERT INTO affected_links
                SELECT '{_q(breach)}', leak_uid, registry_uid, 'probabilistic',
                       match_probability, explanation::JSON
                FROM {probabilistic_table}"""
        )
        con.execute(f"DROP TABLE IF EXISTS {probabilistic_table}")


def exposed_classes_sql(alias: str) -> str:
    """The data classes present (valid or not) in a record, as a list."""
    classes = []
    for dc in dict.fromkeys(s.data_class for s in SLOTS if s.data_class != DataClass.RECORD_ID):
        slots = [s.name for s in SLOTS if s.data_class == dc]
        present = " OR ".join(f"{alias}.{name}_valid IS NOT NULL" for name in slots)
        classes.append(f"CASE WHEN {present} THEN '{dc.value}' END")
    return f"list_filter([{', '.join(classes)}], x -> x IS NOT NULL)"


# Registry people per INSERT into ``affected``: its list aggregates keep every group in memory
# (they do not spill), which at 10 M people overran DuckDB's 3.7 GiB in one statement.
STORE_CHUNK = 1_000_000


def _store_affected(ws: Workspace, breach: str) -> None:
    """One row per affected registry person, a range of registry uids at a time."""
    ws.con.execute("DELETE FROM affected WHERE breach = ?", [breach])
    chunks = uid_ranges(
        ws.con,
        "SELECT DISTINCT registry_uid FROM affected_links WHERE breach = $breach",
        STORE_CHUNK,
        {"breach": breach},
    )
    for lo, hi in chunks:
        ws.con.execute(
            f"""INSERT INTO affected
                SELECT a.breach, any_value(r.record_id), a.registry_uid,
                       list_sort(list_distinct(flatten(list({exposed_classes_sql("l")})))),
                       max(a.match_probability),
                       -- the strongest route among the person's records
                       arg_min(a.route, CASE a.route WHEN 'nir' THEN 1 WHEN 'agency_id' THEN 2
                           WHEN 'email' THEN 3 WHEN 'phone' THEN 4 ELSE 5 END),
                       list_sort(list(a.leak_uid)), now()
                FROM affected_links a
                JOIN bw_leak l ON l.record_uid = a.leak_uid
                JOIN bw_reg r ON r.record_uid = a.registry_uid
                WHERE a.breach = $breach AND a.registry_uid BETWEEN $lo AND $hi
                  AND r.record_uid BETWEEN $lo AND $hi
                GROUP BY a.breach, a.registry_uid""",
            {"breach": breach, "lo": lo, "hi": hi},
        )


def _fill_report(ws: Workspace, report: AffectedReport) -> None:
    con, breach = ws.con, report.breach
    report.leaked_records = _scalar(ws, "SELECT count(*) FROM bw_leak")
    report.matched_records = _scalar(
        ws, "SELECT count(*) FROM affected_links WHERE breach = ?", [breach]
    )
    report.unmatched_records = report.leaked_records - report.matched_records
    report.affected_people = _scalar(ws, "SELECT count(*) FROM affected WHERE breach = ?", [breach])
    report.by_route = dict(
        con.execute(
            "SELECT match_route, count(*) FROM affected WHERE breach = ? "
            "GROUP BY 1 ORDER BY 2 DESC",
            [breach],
        ).fetchall()
    )
    report.by_data_class = dict(
        con.execute(
            "SELECT dc, count(*) FROM (SELECT unnest(data_classes) AS dc FROM affected "
            "WHERE breach = ?) GROUP BY 1 ORDER BY 2 DESC, 1",
            [breach],
        ).fetchall()
    )
