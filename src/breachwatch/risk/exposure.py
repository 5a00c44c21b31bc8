"""Exposure profile per registry person across every ingested leak (C3, registry-anchored).

For each person and data class: the breaches in which it is out, the first exposure date (the
breach's disclosure date, or its ingestion date when unknown), and whether the breach under
analysis *added* it (out in that breach and in no breach disclosed earlier). Built from the
``affected`` table of every leak; leaks not linked yet are linked first.

People who are in no registry (the majority of earlier leaks) are not profiled here: the
organisation informs and protects its registry's people. Their identities across leaks are in
the ``clusters`` table (``breachwatch link``), which this profile does not read yet.
"""

from __future__ import annotations

from breachwatch.errors import UsageError
from breachwatch.linkage.affected import compute_affected
from breachwatch.store.workspace import Workspace


def leaks(ws: Workspace) -> list[str]:
    return [
        r[0] for r in ws.con.execute("SELECT name FROM breaches WHERE role = 'leak'").fetchall()
    ]


def ensure_affected(ws: Workspace) -> list[str]:
    """Links every leak not linked since it was last ingested into; returns the ones it linked.
    (A workspace from before ``linked_at`` counts a leak with affected rows as linked.)"""
    todo = [
        r[0]
        for r in ws.con.execute(
            """SELECT name FROM breaches WHERE role = 'leak' AND (linked_at < updated_at
                   OR (linked_at IS NULL AND name NOT IN (SELECT breach FROM affected)))
               ORDER BY name"""
        ).fetchall()
    ]
    for name in todo:
        compute_affected(ws, name)
    return todo


def build_exposure(ws: Workspace, breach: str) -> int:
    if breach not in leaks(ws):
        raise UsageError(f"breach {breach!r} is not an ingested leak")
    ensure_affected(ws)
    ws.con.execute(
        """CREATE OR REPLACE TABLE exposure AS
           WITH per AS (
               SELECT a.registry_uid, a.record_id, a.breach, unnest(a.data_classes) AS data_class,
                      coalesce(b.disclosed_on, b.created_at::DATE) AS exposed_on
               FROM affected a JOIN breaches b ON b.name = a.breach),
           this AS (
               SELECT coalesce(disclosed_on, created_at::DATE) AS day FROM breaches
               WHERE name = $breach)
           SELECT registry_uid, any_value(record_id) AS record_id, data_class,
                  list_sort(list(DISTINCT breach)) AS breaches,
                  min(exposed_on) AS first_exposed,
                  bool_or(breach = $breach) AS in_breach,
                  bool_or(breach = $breach)
                      AND NOT bool_or(breach <> $breach AND exposed_on <= (SELECT day FROM this))
                      AS added_by_breach,
                  $breach AS relative_to
           FROM per GROUP BY registry_uid, data_class""",
        {"breach": breach},
    )
    row = ws.con.execute("SELECT count(DISTINCT registry_uid) FROM exposure").fetchone()
    return int(row[0]) if row else 0
