"""The breach catalogue: one entry per dataset with its sources, data classes and counts."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from breachwatch.store.workspace import Workspace


def catalogue(ws: Workspace) -> list[dict[str, Any]]:
    rows = ws.con.execute(
        """SELECT b.name, b.role, b.created_at, b.updated_at,
                  count(s.source_id), coalesce(sum(s.rows_read), 0),
                  coalesce(sum(s.rows_accepted), 0), coalesce(sum(s.rows_quarantined), 0),
                  list(s.columns) FILTER (WHERE s.columns IS NOT NULL)
           FROM breaches b LEFT JOIN sources s ON s.breach = b.name
           GROUP BY ALL ORDER BY b.role DESC, b.name"""
    ).fetchall()
    entries = []
    for name, role, created, updated, files, read, accepted, quarantined, columns in rows:
        classes = sorted({dc for c in columns or [] for dc in json.loads(c).values()} - {"unknown"})
        entries.append(
            {
                "name": name,
                "role": role,
                "created_at": created,
                "updated_at": updated,
                "files": files,
                "rows_read": int(read),
                "rows_accepted": int(accepted),
                "rows_quarantined": int(quarantined),
                "data_classes": classes,
            }
        )
    return entries


def print_catalogue(console: Console, entries: list[dict[str, Any]]) -> None:
    table = Table("dataset", "role", "files", "rows", "quarantined", "data classes")
    for e in entries:
        table.add_row(
            e["name"],
            e["role"],
            str(e["files"]),
            f"{e['rows_accepted']:,}",
            f"{e['rows_quarantined']:,}",
            ", ".join(e["data_classes"]),
        )
    console.print(table)
