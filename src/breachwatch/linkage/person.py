"""``breachwatch person show``: one identity cluster, its records and why they were joined."""

from __future__ import annotations

import json
import math
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from breachwatch.errors import UsageError
from breachwatch.store.workspace import Workspace, table_exists

_SHOWN = (
    "breach",
    "line",
    "record_no",
    "record_id",
    "first_name",
    "last_name",
    "date_of_birth",
    "postal_code",
    "city",
    "email",
    "phone",
    "nir_valid",
)


def explain(ws: Workspace, ident: str) -> dict[str, Any]:
    """The cluster holding a registry person (``record_id``) or a record (``record_uid``)."""
    if not table_exists(ws, "clusters"):
        raise UsageError("no identity clusters yet: run `breachwatch link` first")
    uid = _resolve(ws, ident)
    cluster = ws.con.execute(
        "SELECT cluster_id FROM clusters WHERE record_uid = ?", [uid]
    ).fetchone()
    if cluster is None:
        raise UsageError(f"record {ident!r} is not clustered yet: run `breachwatch link` again")
    columns = ", ".join(f"r.{c}" for c in _SHOWN)
    records = ws.con.execute(
        f"SELECT r.record_uid, {columns} FROM clusters c JOIN records r USING (record_uid) "
        "WHERE c.cluster_id = ? ORDER BY r.breach, r.record_no",
        [cluster[0]],
    ).fetchall()
    uids = [r[0] for r in records]
    edges = ws.con.execute(
        "SELECT left_uid, right_uid, route, match_probability, explanation FROM cluster_edges "
        "WHERE left_uid IN (SELECT unnest(?::BIGINT[])) ORDER BY left_uid, right_uid",
        [uids],
    ).fetchall()
    return {
        "cluster_id": cluster[0],
        "records": [dict(zip(("record_uid", *_SHOWN), r, strict=True)) for r in records],
        "edges": [_edge(*e) for e in edges],
    }


def _resolve(ws: Workspace, ident: str) -> int:
    row = ws.con.execute(
        "SELECT r.record_uid FROM records r JOIN breaches b ON b.name = r.breach "
        "WHERE b.role = 'registry' AND r.record_id = ?",
        [ident],
    ).fetchone()
    if row:
        return int(row[0])
    if ident.isdigit():
        found = ws.con.execute(
            "SELECT record_uid FROM records WHERE record_uid = ?", [int(ident)]
        ).fetchone()
        if found:
            return int(found[0])
    raise UsageError(f"no registry person or record {ident!r}")


def _edge(
    left: int, right: int, route: str, probability: float, explanation: str
) -> dict[str, Any]:
    parts = json.loads(explanation) if explanation else {}
    edge: dict[str, Any] = {
        "left_uid": left,
        "right_uid": right,
        "route": route,
        "match_probability": probability,
        "explanation": parts,
    }
    if route in ("probabilistic", "attached") and 0 < probability < 1:
        total = math.log2(probability / (1 - probability))
        weights = {
            k: v["weight"] for k, v in parts.items() if isinstance(v, dict) and "weight" in v
        }
        edge["waterfall"] = _waterfall(total, weights, parts)
    return edge


def _waterfall(
    total: float, weights: dict[str, float], parts: dict[str, Any]
) -> list[dict[str, Any]]:
    """Prior, then each comparison's match weight, with the running sum (bits)."""
    running = total - sum(weights.values())
    steps = [{"step": "prior", "weight": round(running, 3), "cumulative": round(running, 3)}]
    for name, weight in weights.items():
        running += weight
        steps.append(
            {
                "step": f"{name}: {parts[name].get('level', '')}",
                "weight": round(weight, 3),
                "cumulative": round(running, 3),
            }
        )
    return steps


def print_explanation(console: Console, data: dict[str, Any]) -> None:
    table = Table("uid", *_SHOWN, box=None, padding=(0, 1))
    for record in data["records"]:
        table.add_row(*(escape("" if v is None else str(v)) for v in record.values()))
    console.print(f"identity cluster {data['cluster_id']}: {len(data['records'])} records")
    console.print(table)
    for edge in data["edges"]:
        console.print(
            f"  {edge['left_uid']} — {edge['right_uid']}: {edge['route']} "
            f"(p = {edge['match_probability']:.6f})"
        )
        for step in edge.get("waterfall", []):
            label = escape(step["step"])
            console.print(f"      {label:40s} {step['weight']:+8.2f}  → {step['cumulative']:+8.2f}")
