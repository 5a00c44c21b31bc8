"""Human-readable ingest summaries (Rich tables)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from breachwatch.ingest.pipeline import IngestReport, SourceReport


def print_summary(console: Console, report: IngestReport) -> None:
    totals = report.totals()
    console.print(
        f"[bold]{escape(report.breach)}[/bold] ({report.role}): "
        f"{totals['rows_read']:,} rows read = {totals['rows_accepted']:,} accepted + "
        f"{totals['rows_quarantined']:,} quarantined, in {report.seconds:.1f} s"
    )
    for source in report.sources:
        _print_source(console, source)


def _print_source(console: Console, s: SourceReport) -> None:
    if s.skipped:
        console.print(f"  {escape(s.path)}: already ingested into this dataset, nothing added")
        return
    rate = s.rows_read / s.seconds if s.seconds else 0
    console.print(
        f"  {escape(s.path)}: {s.format}, {s.encoding}"
        + (f", separator {s.delimiter!r}" if s.delimiter else "")
        + f"; {s.rows_read:,} rows = {s.rows_accepted:,} accepted + {s.rows_quarantined:,} "
        f"quarantined ({rate:,.0f} rows/s)"
        + (f"; {s.blank_lines:,} blank lines" if s.blank_lines else "")
        + (f"; {s.header_lines:,} repeated header lines skipped" if s.header_lines else "")
    )
    table = Table(
        "column", "data class", "conf.", "valid", "invalid", "why", box=None, padding=(0, 1)
    )
    for column, dc in s.columns.items():
        counts = s.column_counts.get(column, {})
        table.add_row(
            escape(column),
            dc,
            f"{s.confidence[column]:.2f}",
            f"{counts.get('valid', 0):,}" if counts else "",
            f"{counts.get('invalid', 0):,}" if counts else "",
            escape(s.reasons[column]),
        )
    console.print(table)
    for reason, count in sorted(s.quarantine_reasons.items(), key=lambda kv: -kv[1]):
        console.print(f"    quarantined {count:,}: {escape(reason)}")
    if s.unslotted:
        console.print(
            "    kept in the raw values only (the data class has no free slot): "
            + escape(", ".join(s.unslotted))
        )
