"""``breachwatch phishing``: is this SMS or e-mail genuine?"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from breachwatch.errors import Location, UsageError
from breachwatch.phishing.message import KINDS, MAX_MESSAGE_BYTES, Kind, MessageInputError
from breachwatch.phishing.result import LANGUAGES, CheckResult

app = typer.Typer(
    help="Phishing vigilance: check whether an SMS or an e-mail really comes from us.",
    no_args_is_help=True,
)
out = Console()

VERDICT_STYLES = {"genuine": "bold green", "suspicious": "bold yellow", "phishing": "bold red"}
VERDICT_NAMES = {
    "fr": {"genuine": "AUTHENTIQUE", "suspicious": "SUSPECT", "phishing": "HAMEÇONNAGE"},
    "en": {"genuine": "GENUINE", "suspicious": "SUSPICIOUS", "phishing": "PHISHING"},
}
NO_SIGN = {
    "fr": "Aucun signe d'hameçonnage trouvé "
    "(sans code d'authenticité, l'origine n'est pas prouvée).",
    "en": "No sign of phishing found (without an authenticity code, the origin is not proven).",
}
SEVERITY_STYLES = {"critical": "bold red", "high": "red", "medium": "yellow", "trust": "green"}


@app.command()
def check(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            metavar="FILE|-", help="File with the SMS text or the e-mail (.eml), or - for stdin."
        ),
    ] = "-",
    kind: Annotated[str, typer.Option(help="auto, sms or email.")] = "auto",
    lang: Annotated[str, typer.Option(help="fr or en, for the reasons.")] = "fr",
    sender: Annotated[
        str | None, typer.Option(help="The SMS sender (number or short code), if known.")
    ] = None,
    recipient: Annotated[
        str | None,
        typer.Option(help="Who received it (e-mail or phone), to verify an authenticity code."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML file overriding the official domains, numbers...")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")
    ] = False,
) -> None:
    """Verdict (genuine, suspicious, phishing), score 0-100 and the reasons. Never goes online."""
    if kind not in KINDS:
        raise UsageError(f"--kind {kind!r}: expected auto, sms or email")
    if lang not in LANGUAGES:
        raise UsageError(f"--lang {lang!r}: expected fr or en")
    # Imported here: the look-alike tables are built on first use, not when any command starts.
    from breachwatch.phishing.config import load_config
    from breachwatch.phishing.engine import check_message

    data = _read(source)
    loaded = load_config(config) if config else None
    checked_kind: Kind = kind  # type: ignore[assignment]  # checked against KINDS above
    result = check_message(
        data,
        kind=checked_kind,
        config=loaded,
        sender=sender,
        recipient=recipient,
        verifier=_verifier(ctx),
    )
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        print_result(out, result, lang)


def _verifier(ctx: typer.Context) -> Any:
    """The workspace's campaign codes when there is a workspace with a planned campaign; else
    None (codes are then reported as not verifiable here)."""
    from breachwatch.errors import BreachwatchError
    from breachwatch.notify.codes import OutboxCodeVerifier
    from breachwatch.settings import load_settings
    from breachwatch.store.workspace import workspace_id

    try:
        settings = load_settings(ctx.find_root().params.get("workspace"))
        workspace_id(Path(settings["home"]))
        return OutboxCodeVerifier(settings)
    except BreachwatchError:
        return None


def _read(source: str) -> bytes:
    if source == "-":
        if sys.stdin.isatty():
            raise UsageError("no message: give a FILE, or pipe the message into `-`")
        return sys.stdin.buffer.read(MAX_MESSAGE_BYTES + 1)
    path = Path(source)
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_MESSAGE_BYTES + 1)
    except FileNotFoundError:
        raise MessageInputError("no such file", Location(path)) from None
    except IsADirectoryError:
        raise MessageInputError("is a directory, not a message file", Location(path)) from None
    except OSError as exc:
        raise MessageInputError(f"cannot read ({exc.strerror})", Location(path)) from None


def print_result(console: Console, result: CheckResult, lang: str) -> None:
    """The verdict first, in its colour; then each reason with the part of the message it saw.

    Every string taken from the message goes through ``Text``: it is never read as markup.
    """
    verdict = Text(VERDICT_NAMES[lang][result.verdict], style=VERDICT_STYLES[result.verdict])
    console.print(Text.assemble(verdict, f"  score {result.score}/100", f"  ({result.kind})"))
    if not result.reasons:
        console.print(NO_SIGN[lang])
        return
    headers = ("reason", "where") if lang == "en" else ("raison", "où")
    table = Table("", *headers, box=None)
    for reason in result.reasons:
        style = SEVERITY_STYLES.get(reason.severity, "")
        sign = f"{reason.weight:+d}" if reason.weight else "·"
        where = f"{reason.pointer.field}: {reason.pointer.excerpt}"
        table.add_row(Text(sign, style=style), Text(reason.message(lang)), Text(where))
    console.print(table)
    if result.verdict == "genuine" and not result.verified:
        console.print(NO_SIGN[lang])


# -- reports, waves and indicators (operators) ---------------------------------------------


def _settings(ctx: typer.Context) -> dict[str, Any]:
    """The settings of the workspace chosen with ``breachwatch --workspace``."""
    from breachwatch.settings import load_settings
    from breachwatch.store.workspace import workspace_id

    # Read from the root command's context, not from breachwatch.cli: under `python -m` that
    # module runs as __main__, and importing it again would give a second, empty state.
    workspace = ctx.find_root().params.get("workspace")
    settings = load_settings(workspace)
    workspace_id(Path(settings["home"]))  # a clear error outside a workspace
    return settings


def _moment(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option} {text!r}: expected a date (YYYY-MM-DD) or an ISO 8601 time"
        ) from None


@app.command()
def report(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(metavar="FILE|-", help="The reported SMS text or e-mail (.eml), or -."),
    ] = "-",
    kind: Annotated[str, typer.Option(help="auto, sms or email.")] = "auto",
    channel: Annotated[
        str, typer.Option(help="How it reached us: cli, email (forwarded) or sms (forwarded).")
    ] = "cli",
    sender: Annotated[str | None, typer.Option(help="The SMS sender, if known.")] = None,
    received_at: Annotated[
        str | None,
        typer.Option(help="When the person received it (ISO 8601); default: its Date, or now."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")
    ] = False,
) -> None:
    """File a reported message: checked, stored sealed, indicators extracted, put in a wave."""
    if kind not in KINDS:
        raise UsageError(f"--kind {kind!r}: expected auto, sms or email")
    if channel not in ("cli", "email", "sms"):
        raise UsageError(f"--channel {channel!r}: expected cli, email or sms")
    from breachwatch.phishing.reports import file_report

    checked_kind: Kind = kind  # type: ignore[assignment]  # checked against KINDS above
    filed = file_report(
        _settings(ctx),
        _read(source),
        kind=checked_kind,
        channel=channel,
        sender=sender,
        received_at=_moment(received_at, "--received-at"),
    )
    if as_json:
        print(json.dumps(filed.to_json()))
        return
    joined = "a new wave" if filed.new_wave else "wave"
    out.print(
        Text.assemble(
            f"report {filed.report_id} → {joined} {filed.wave_id}  ",
            (VERDICT_NAMES["en"][filed.verdict], VERDICT_STYLES[filed.verdict]),
            f"  score {filed.score}/100",
        )
    )


@app.command()
def waves(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option(help="Only waves active since this date (YYYY-MM-DD, UTC).")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many waves.")] = 100,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")
    ] = False,
) -> None:
    """The phishing waves, most recently active first: reports, verdicts, top indicators."""
    from breachwatch.phishing.waves import list_waves

    if limit < 1:
        raise UsageError("--limit must be at least 1")
    moment = _moment(since, "--since")
    found = list_waves(_settings(ctx), since=moment, limit=limit)
    if as_json:
        print(json.dumps({"waves": [w.to_json() for w in found]}, ensure_ascii=False))
        return
    if not found:
        out.print("no wave yet")
        return
    table = Table("wave", "first seen", "last seen", "reports", "verdicts", "top indicators")
    for wave in found:
        verdicts = ", ".join(f"{n} {v}" for v, n in sorted(wave.verdicts.items()))
        shown = "\n".join(f"{i['type']} {i['value']} ({i['reports']})" for i in wave.indicators)
        table.add_row(
            str(wave.id),
            f"{wave.first_seen:%Y-%m-%d %H:%M}",
            f"{wave.last_seen:%Y-%m-%d %H:%M}",
            f"{wave.reports:,}",
            verdicts,
            Text(shown),
        )
    out.print(table)


@app.command()
def export(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help="csv, or stix (a STIX 2.1 bundle).")],
    out_file: Annotated[Path, typer.Option("--out", help="The file to write.")],
    wave: Annotated[int | None, typer.Option(help="Only this wave.")] = None,
    all_verdicts: Annotated[
        bool,
        typer.Option("--all-verdicts", help="Also the indicators of reports found genuine."),
    ] = False,
) -> None:
    """Indicators (URLs, domains, IPs, phone numbers, senders) of the waves, for a CERT."""
    from breachwatch.phishing.export import export_indicators

    count = export_indicators(_settings(ctx), fmt, out_file, wave, all_verdicts=all_verdicts)
    Console(stderr=True).print(f"{count:,} indicators written to {out_file}", markup=False)
