"""``breachwatch phishing``: is this SMS or e-mail genuine?"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

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
    result = check_message(data, kind=checked_kind, config=loaded, sender=sender)
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        print_result(out, result, lang)


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
