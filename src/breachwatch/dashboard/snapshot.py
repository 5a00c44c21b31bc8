"""The dashboard's numbers: aggregates computed set-based from the workspace, stored as one JSON
snapshot in the operational DB, so that pages never scan 43 M rows per request (and the service
never holds the single-writer workspace open).

``breachwatch dashboard refresh`` (and the demo) computes it; pages show when it was computed.
A snapshot holds counts only, never personal data.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from breachwatch.dashboard import people as people_file
from breachwatch.ingest.catalogue import catalogue
from breachwatch.risk.rules import aggregate, load_rules
from breachwatch.state import Base, _now, engine_for
from breachwatch.store.workspace import Workspace, table_exists


class Snapshot(Base):
    __tablename__ = "dashboard_snapshots"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(DateTime)
    body: Mapped[str] = mapped_column(Text)


def compute(ws: Workspace) -> dict[str, Any]:
    con = ws.con
    affected: dict[str, Any] = {}
    rows = con.execute(
        """SELECT breach, count(*) AS people, sum(len(leak_uids)) AS records,
                  count(*) FILTER (WHERE match_route = 'probabilistic') AS probabilistic
           FROM affected GROUP BY breach"""
    ).fetchall()
    for breach, people, records, probabilistic in rows:
        affected[breach] = {
            "people": int(people),
            "matched_records": int(records or 0),
            "probabilistic": int(probabilistic),
        }
    for breach, route, n in con.execute(
        "SELECT breach, match_route, count(*) FROM affected GROUP BY ALL ORDER BY 3 DESC"
    ).fetchall():
        affected[breach].setdefault("by_route", {})[route] = int(n)
    for breach, dc, n in con.execute(
        "SELECT breach, dc, count(*) FROM (SELECT breach, unnest(data_classes) AS dc "
        "FROM affected) GROUP BY ALL ORDER BY 3 DESC, 2"
    ).fetchall():
        affected[breach].setdefault("by_data_class", {})[dc] = int(n)
    for breach, dept, n in con.execute(
        """SELECT a.breach, coalesce(left(r.postal_code, 2), '??') AS dept, count(*)
           FROM affected a JOIN records r ON r.record_uid = a.registry_uid
           GROUP BY ALL ORDER BY 3 DESC"""
    ).fetchall():
        depts = affected[breach].setdefault("by_department", {})
        if len(depts) < 15:
            depts[dept] = int(n)
    risk: dict[str, Any] = {}
    if table_exists(ws, "risk") and table_exists(ws, "exposure"):
        rules = load_rules()
        relative = con.execute("SELECT any_value(relative_to) FROM exposure").fetchone()
        totals = aggregate(ws, rules)  # the same aggregation `breachwatch risk` prints
        risk = {
            "relative_to": relative[0] if relative else None,
            "by_risk": [
                {
                    "id": r.id,
                    "name_fr": r.name_fr,
                    "name_en": r.name_en,
                    "level": r.level,
                    "people": totals["by_risk"][r.id]["people"],
                }
                for r in rules
            ],
            "by_highest_level": totals["by_highest_level"],
        }
    return {
        "computed_at": _now().isoformat(timespec="seconds"),
        "breaches": json.loads(json.dumps(catalogue(ws), default=str)),
        "affected": affected,
        "risk": risk,
    }


def refresh(ws: Workspace) -> dict[str, Any]:
    """The aggregates and the sealed people file for look-ups (dashboard/people.py)."""
    body = compute(ws)
    body["people_file"] = people_file.build(ws)
    with Session(engine_for(ws.settings)) as s, s.begin():
        s.add(Snapshot(computed_at=_now(), body=json.dumps(body)))
    return body


def latest(settings: dict[str, Any]) -> dict[str, Any] | None:
    with Session(engine_for(settings)) as s:
        row = s.scalar(select(Snapshot).order_by(Snapshot.id.desc()).limit(1))
        return json.loads(row.body) if row else None
