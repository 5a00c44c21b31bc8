"""Risk output for people (advice) and for the response team (counts)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from breachwatch.risk.rules import Rule


def print_risk(
    console: Console, breach: str, totals: dict[str, Any], rules: list[Rule], lang: str
) -> None:
    console.print(
        f"[bold]{totals['people']:,}[/bold] people of {escape(breach)}: highest risk level "
        + ", ".join(f"{lvl} {n:,}" for lvl, n in totals["by_highest_level"].items())
    )
    table = Table("risk", "level", "people", box=None, padding=(0, 1))
    for rule in rules:
        name = rule.name_fr if lang == "fr" else rule.name_en
        table.add_row(name, rule.level, f"{totals['by_risk'][rule.id]['people']:,}")
    console.print(table)


def print_person(
    console: Console, record_id: str, found: list[tuple[Rule, list[str]]], lang: str
) -> None:
    console.print(f"person [bold]{escape(record_id)}[/bold]")
    if not found:
        console.print("  no named risk")
        return
    console.print("  exposed: " + ", ".join(found[0][1]))
    for rule, _ in found:
        name, advice = (
            (rule.name_fr, rule.advice_fr) if lang == "fr" else (rule.name_en, rule.advice_en)
        )
        console.print(f"  [bold]{escape(name)}[/bold] ({rule.level}): {escape(advice)}")
