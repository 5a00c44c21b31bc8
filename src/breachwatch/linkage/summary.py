"""Human-readable summary of the affected population."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from breachwatch.linkage.affected import AffectedReport


def print_affected(console: Console, report: AffectedReport) -> None:
    console.print(
        f"[bold]{escape(report.breach)}[/bold] × {escape(report.registry)}: "
        f"[bold]{report.affected_people:,} people affected[/bold] "
        f"({report.matched_records:,} of {report.leaked_records:,} leaked records matched, "
        f"{report.unmatched_records:,} unmatched) in {report.seconds:.1f} s"
    )
    if report.conflicting_keys:
        console.print(
            f"  {report.conflicting_keys:,} records had keys pointing at different people "
            "(the strongest key won)"
        )
    routes = Table("route", "people", box=None, padding=(0, 1))
    for route, count in report.by_route.items():
        routes.add_row(route, f"{count:,}")
    console.print(routes)
    classes = Table("data class", "people", box=None, padding=(0, 1))
    for data_class, count in report.by_data_class.items():
        classes.add_row(data_class, f"{count:,}")
    console.print(classes)
