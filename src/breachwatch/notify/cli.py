"""``breachwatch notify``: plan, review, approve and send a notification campaign (C7)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from breachwatch.errors import UsageError

app = typer.Typer(
    help="Tell every affected person, individually: plan, preview, test-send, approve (four "
    "eyes), run, watch.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)

CampaignOpt = Annotated[str, typer.Option("--campaign", help="Campaign name.")]
OperatorOpt = Annotated[
    str | None,
    typer.Option(
        "--operator",
        help="Who acts (default: $USER). Declared, not authenticated, until user accounts "
        "exist; every action is audited under it.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")]


def _settings() -> dict[str, Any]:
    from breachwatch.cli import _settings as main_settings

    return main_settings()


def _operator(name: str | None) -> str:
    from breachwatch.notify.campaign import default_operator

    chosen = (name or default_operator()).strip()
    if not chosen:
        raise UsageError("--operator: an operator name is required")
    return chosen


@app.command()
def plan(
    breach: Annotated[str, typer.Option(help="The breach whose affected people are told.")],
    campaign: CampaignOpt,
    channels: Annotated[
        str, typer.Option(help="Channels in order of preference.")
    ] = "email,sms,letter",
    content: Annotated[
        Path | None,
        typer.Option(help="TOML with this campaign's art. 34 texts (see docs/notify.md)."),
    ] = None,
    refresh_risk: Annotated[
        bool,
        typer.Option(
            "--refresh-risk", help="Recompute the risks even if `breachwatch risk` made them."
        ),
    ] = False,
    operator: OperatorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a campaign's recipients from the affected population (a draft)."""
    from breachwatch.cli import _progress, state
    from breachwatch.notify.plan import parse_channels, plan_campaign
    from breachwatch.store.workspace import open_workspace

    chosen = parse_channels(channels)
    who = _operator(operator)
    with open_workspace(state.workspace) as ws, _progress() as progress:
        summary = plan_campaign(
            ws,
            breach=breach,
            name=campaign,
            channels=chosen,
            content_file=content,
            operator=who,
            progress=progress,
            refresh_risk=refresh_risk,
        )
    if as_json:
        print(json.dumps(summary.to_json()))
        return
    table = Table("channel", "people", title=f"campaign {escape(campaign)} (draft)")
    for name, n in summary.by_channel.items():
        table.add_row(name, f"{n:,}")
    out.print(table)
    languages = ", ".join(f"{n:,} {lang}" for lang, n in summary.by_language.items())
    out.print(
        f"{summary.people:,} affected people planned in {summary.seconds:.1f} s; languages: "
        f"{languages}; {summary.with_fallback:,} with a fallback channel. Next: `notify preview`, "
        "`notify test-send`, then a second operator runs `notify approve`."
    )


@app.command()
def preview(
    campaign: CampaignOpt,
    person: Annotated[
        str | None, typer.Option(help="Registry person id (record_id); default: the first.")
    ] = None,
    channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
    operator: OperatorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one person's rendered messages, one per channel (audited: personal data)."""
    from breachwatch.notify.campaign import get_campaign
    from breachwatch.notify.review import find_person
    from breachwatch.notify.review import preview as render_preview
    from breachwatch.notify.sms import measure

    settings = _settings()
    uid = None
    if person is not None:
        from breachwatch.cli import state
        from breachwatch.store.workspace import open_workspace

        info = get_campaign(settings, campaign)
        with open_workspace(state.workspace) as ws:
            uid = find_person(ws, info.breach, person)
    shown = render_preview(settings, campaign, uid, _operator(operator))
    messages = [m for m in shown.messages if channel in (None, m.channel)]
    if as_json:
        print(json.dumps({"record_id": shown.record_id, "messages": [m.__dict__ for m in messages]},
                         ensure_ascii=False))  # fmt: skip
        return
    for m in messages:
        out.rule(f"{m.channel} ({m.language})")
        if m.subject:
            out.print(f"[bold]{escape(m.subject)}[/bold]\n")
        out.print(escape(m.text), highlight=False)
        if m.channel == "sms":
            length = measure(m.text)
            out.print(f"[dim]{length.encoding}, {length.units} units, {length.segments} segment(s)")


@app.command("test-send")
def test_send(
    campaign: CampaignOpt,
    to: Annotated[
        str, typer.Option("--to", help="Seed e-mail addresses / mobiles, comma-separated.")
    ],
    operator: OperatorOpt = None,
) -> None:
    """Send a specimen (real content, specimen name, unissued code) to seed addresses."""
    from breachwatch.notify.review import send_to_seeds

    seeds = [s.strip() for s in to.split(",") if s.strip()]
    result = send_to_seeds(_settings(), campaign, seeds, _operator(operator))
    out.print(f"test send: {len(result.sent)} sent ({', '.join(result.sent) or '-'})")
    if result.failed:
        out.print(f"[red]{len(result.failed)} failed[/red]: {', '.join(result.failed)}")
        raise typer.Exit(1)


@app.command()
def approve(campaign: CampaignOpt, operator: OperatorOpt = None) -> None:
    """Approve a previewed, test-sent draft: a second operator, not its planner (four eyes)."""
    from breachwatch.notify.campaign import approve as do_approve

    info = do_approve(_settings(), campaign, _operator(operator))
    out.print(
        f"campaign {escape(info.name)} approved by {escape(str(info.approved_by))} "
        f"(planned by {escape(info.created_by)}); `notify run` sends it"
    )


@app.command()
def run(
    campaign: CampaignOpt,
    workers: Annotated[int, typer.Option(help="Worker processes on this machine.")] = 1,
    rate: Annotated[
        str | None,
        typer.Option(help="Rate per channel, e.g. email=200/s,sms=50/s (default: notify_rate)."),
    ] = None,
    operator: OperatorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send an approved campaign until nothing is left to send (resumes after any stop)."""
    from breachwatch.notify.runner import StatusReport, run_campaign
    from breachwatch.notify.worker import parse_rates

    settings = _settings()
    rates = parse_rates(rate) if rate is not None else None
    live = Live(console=err, transient=True, auto_refresh=False) if err.is_terminal else None

    def progress(report: StatusReport) -> None:
        if live is not None:
            live.update(_status_table(report), refresh=True)

    if live is not None:
        live.start()
    try:
        summary = run_campaign(
            settings, campaign, operator=_operator(operator), workers=workers, rates=rates,
            progress=progress,
        )  # fmt: skip
    finally:
        if live is not None:
            live.stop()
    if as_json:
        print(json.dumps(summary.to_json()))
        return
    if summary.final is not None:
        out.print(_status_table(summary.final))
    done = ", ".join(f"{n:,} {s}" for s, n in sorted(summary.outcomes.items())) or "nothing"
    out.print(
        f"this run: {done} in {summary.seconds:.1f} s with {summary.workers} worker(s); "
        f"{summary.reclaimed:,} taken over from a stopped worker; {summary.bounces:,} bounces"
    )


@app.command()
def status(campaign: CampaignOpt, as_json: JsonOpt = False) -> None:
    """Counts per status and channel, send rate, ETA, possible duplicates."""
    from breachwatch.notify.runner import status_report

    report = status_report(_settings(), campaign)
    if as_json:
        print(json.dumps(report.to_json()))
    else:
        out.print(_status_table(report))


def _status_table(report: Any) -> Table:
    statuses = sorted({s for _, s in report.counts})
    channels = sorted({c for c, _ in report.counts})
    eta = f"{report.eta_seconds / 60:.1f} min" if report.eta_seconds is not None else "-"
    table = Table(
        "channel",
        *statuses,
        title=f"{escape(report.campaign)}: {report.status}",
        caption=f"{report.people:,} people; {report.rate:,.1f} messages/s; ETA {eta}; "
        f"{report.letters_queued:,} letters to print; "
        f"{report.possible_duplicates:,} possible duplicates (resent after a worker stopped)",
    )
    for channel in channels:
        table.add_row(channel, *(f"{report.counts.get((channel, s), 0):,}" for s in statuses))
    return table


def _transition(campaign: str, action: str, operator: str | None) -> None:
    from breachwatch.notify.campaign import transition

    info = transition(_settings(), campaign, action, _operator(operator))
    out.print(f"campaign {escape(info.name)}: {info.status}")


@app.command()
def pause(campaign: CampaignOpt, operator: OperatorOpt = None) -> None:
    """Stop taking new messages (running workers wait); `resume` goes on."""
    _transition(campaign, "pause", operator)


@app.command()
def resume(campaign: CampaignOpt, operator: OperatorOpt = None) -> None:
    """Go on after `pause`."""
    _transition(campaign, "resume", operator)


@app.command()
def cancel(campaign: CampaignOpt, operator: OperatorOpt = None) -> None:
    """Cancel: nothing more leaves; messages not sent yet become cancelled."""
    from breachwatch.notify.campaign import get_campaign, transition
    from breachwatch.notify.outbox import open_outbox

    settings = _settings()
    info = transition(settings, campaign, "cancel", _operator(operator))
    outbox = open_outbox(settings)
    try:
        count = outbox.cancel(get_campaign(settings, campaign).id)
    finally:
        outbox.close()
    out.print(f"campaign {escape(info.name)}: cancelled; {count:,} messages will not be sent")


@app.command()
def letters(
    campaign: CampaignOpt,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the PDFs and manifest.")],
    batch_size: Annotated[int, typer.Option(help="Letters per PDF file.")] = 500,
    as_json: JsonOpt = False,
) -> None:
    """Print the queued letters: PDF batches and a manifest CSV for the print house."""
    from breachwatch.notify.letters import print_letters

    summary = print_letters(_settings(), campaign, out_dir, batch_size)
    if as_json:
        print(json.dumps(summary.to_json()))
        return
    out.print(
        f"{summary.letters:,} letters in {len(summary.files)} PDF file(s) → "
        f"{escape(str(out_dir))} (manifest: {escape(summary.manifest)}; it holds addresses)"
    )


def verify_code(
    code: Annotated[str, typer.Argument(help="The code, e.g. BW-7K2M-Q9XD-4HRT.")],
    recipient: Annotated[
        str | None,
        typer.Option(help="The e-mail address or phone number that received the message."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Is this authenticity code one we issued (to this recipient)? Exit 1 when it is not."""
    from breachwatch.notify.codes import OutboxCodeVerifier

    verifier = OutboxCodeVerifier(_settings())
    try:
        check = verifier.check(code, recipient)
    finally:
        verifier.close()
    genuine = check.issued and check.recipient_matches is not False
    if as_json:
        print(json.dumps({"code": code, "genuine": genuine, **check.__dict__}))
    elif genuine:
        out.print(f"[green]genuine[/green]: issued by campaign {escape(str(check.campaign))}")
    elif not check.well_formed:
        out.print("[red]not a code of ours[/red]: the format is wrong (BW-XXXX-XXXX-XXXX)")
    elif check.issued:
        out.print("[red]not genuine for this recipient[/red]: the code was issued to someone else")
    else:
        out.print("[red]not genuine[/red]: we never issued this code")
    if not genuine:
        raise typer.Exit(1)
