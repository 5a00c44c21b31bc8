"""One registry person as an analyst sees it: the registry row, the breaches they are in with
what leaked, their exposure and risks. Read from the workspace opened read-only for the time of
the look-up (the caller audits it first)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from breachwatch.dashboard.people import REGISTRY_FIELDS, PeopleFile
from breachwatch.errors import BreachwatchError
from breachwatch.store.workspace import open_workspace, table_exists


class PersonNotFound(BreachwatchError):
    pass


_FILES: dict[str, PeopleFile] = {}


def person_view(settings: dict[str, Any], record_id: str) -> dict[str, Any]:
    """From the sealed people file when the person is in it (one seek); otherwise (a registry
    person in no breach, or no file yet) from the workspace opened read-only."""
    home = Path(settings["home"])
    people = _FILES.get(str(home))
    if people is None:
        people = _FILES[str(home)] = PeopleFile(home, settings)
    if people.exists():
        found = people.get(record_id)
        if found is not None:
            return found
    return _from_workspace(settings, record_id)


def _from_workspace(settings: dict[str, Any], record_id: str) -> dict[str, Any]:
    with open_workspace(Path(settings["home"]), read_only=True) as ws:
        con = ws.con
        cols = ", ".join(f"r.{c}" for c in REGISTRY_FIELDS)
        row = con.execute(
            f"""SELECT r.record_uid, {cols} FROM records r JOIN breaches b ON b.name = r.breach
                WHERE b.role = 'registry' AND r.record_id = ? LIMIT 1""",
            [record_id],
        ).fetchone()
        if row is None:
            raise PersonNotFound(f"no registry person {record_id!r}")
        uid = row[0]
        registry = {
            f: ("" if v is None else str(v)) for f, v in zip(REGISTRY_FIELDS, row[1:], strict=True)
        }
        breaches = [
            {
                "breach": b,
                "data_classes": list(classes),
                "route": route,
                "probability": round(float(p), 4),
                "records": int(n),
            }
            for b, classes, route, p, n in con.execute(
                """SELECT breach, data_classes, match_route, match_probability, len(leak_uids)
                   FROM affected WHERE registry_uid = ? ORDER BY breach""",
                [uid],
            ).fetchall()
        ]
        exposure: list[dict[str, Any]] = []
        risks: list[dict[str, Any]] = []
        if table_exists(ws, "exposure"):
            exposure = [
                {"class": c, "breaches": list(bs), "first_exposed": str(d), "added": bool(a)}
                for c, bs, d, a in con.execute(
                    """SELECT data_class, breaches, first_exposed, added_by_breach FROM exposure
                       WHERE registry_uid = ? ORDER BY data_class""",
                    [uid],
                ).fetchall()
            ]
        if table_exists(ws, "risk"):
            risks = [
                {"id": r, "level": lv}
                for r, lv in con.execute(
                    "SELECT risk, level FROM risk WHERE registry_uid = ? ORDER BY 2, 1", [uid]
                ).fetchall()
            ]
    return {"registry": registry, "breaches": breaches, "exposure": exposure, "risks": risks}
