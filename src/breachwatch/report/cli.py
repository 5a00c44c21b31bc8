"""``breachwatch report``: documents the response team sends out (the regulator's first)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

app = typer.Typer(help="Reports of a breach: the GDPR art. 33 notification.", no_args_is_help=True)
console = Console(stderr=True)


@app.command()
def regulator(
    ctx: typer.Context,
    breach: Annotated[str, typer.Option(help="The leak being notified.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for report.json and .pdf.")],
    lang: Annotated[str, typer.Option(help="fr or en.")] = "fr",
    aware_since: Annotated[
        str | None,
        typer.Option(
            help="When the organisation became aware of the breach (ISO 8601, e.g. "
            "2026-02-03T14:30+01:00; no offset = local time): the 72 hours run from it. "
            "Default: when the breach was first ingested."
        ),
    ] = None,
    nature: Annotated[
        str | None,
        typer.Option(help="Describe the breach in your words (default: drafted from the data)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report's JSON on stdout as well.")
    ] = False,
) -> None:
    """Write the GDPR art. 33 notification (report.json, report.pdf with charts): controller,
    nature, timeline and 72-hour deadline, categories and numbers of people and records, data
    concerned, likely consequences, measures taken, and a draft art. 34 public statement."""
    from breachwatch.report.output import generate_regulator_report
    from breachwatch.report.regulator import parse_moment
    from breachwatch.report.texts import texts
    from breachwatch.store.workspace import open_workspace

    texts(lang)  # a bad --lang fails before the workspace is opened
    aware = parse_moment(aware_since) if aware_since else None
    workspace = ctx.find_root().params.get("workspace")
    with open_workspace(workspace) as ws:
        files = generate_regulator_report(
            ws, breach, out_dir, lang=lang, aware_since=aware, nature=nature
        )
    if as_json:
        print(json.dumps(files.report, ensure_ascii=False))
    counts, timeline = files.report["counts"], files.report["timeline"]
    late = "overdue by" if timeline["overdue"] else "left:"
    console.print(
        f"[bold]{escape(breach)}[/bold]: {counts['affected_people']:,} people, "
        f"{counts['records']:,} records; 72-hour deadline {timeline['deadline']} "
        f"({late} {abs(timeline['hours_left']):.1f} h) → {escape(str(files.pdf_path))}, "
        f"{escape(str(files.json_path))} in {files.seconds['total']:.1f} s"
    )
