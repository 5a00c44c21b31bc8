"""The ``breachwatch`` command line: a thin layer over the capabilities.

Every user mistake becomes a ``BreachwatchError`` that is printed as one clear line on stderr
with a non-zero exit code; tracebacks are for bugs only.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from breachwatch.errors import BreachwatchError, UsageError
from breachwatch.linkage import ATTACH_THRESHOLD
from breachwatch.notify import cli as notify_cli
from breachwatch.phishing import cli as phishing_cli
from breachwatch.report import cli as report_cli
from breachwatch.types import DataClass, Role

app = typer.Typer(
    help="breachwatch: learn who a breach hit and what leaked, and respond.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace", "-w", help="Workspace directory (default ./workspace or $BREACHWATCH_HOME)."
    ),
]


ReasonOpt = Annotated[
    str | None,
    typer.Option(
        help="Why you look at or export people's data (required: written to the audit log)."
    ),
]
OperatorOpt = Annotated[
    str | None, typer.Option(help="Who you are, for the audit log (default: $USER).")
]
# Tables with a row per person or per leaked record: exporting them is audited.
PERSONAL_TABLES = {"records", "quarantine", "affected", "unmatched", "exposure", "risk", "clusters"}


def _audited(
    action: str, subject: str, reason: str | None, operator: str | None, **detail: Any
) -> None:
    """Records a look at or an export of personal data; refuses it without a reason."""
    import getpass

    from breachwatch.state import audit

    settings = _settings()  # a clear error outside a workspace, and no stray state.db
    if not reason or len(reason.strip()) < 10:
        raise UsageError(
            "give --reason (at least 10 characters): every view or export of people's data is "
            "written to the audit log with who, when, what and why"
        )
    who = operator or os.environ.get("USER") or getpass.getuser()
    audit(
        settings,
        actor=f"cli:{who}",
        action=action,
        subject=subject,
        reason=reason.strip(),
        detail=detail,
    )


class _State:
    workspace: Path | None = None


state = _State()


@app.callback()
def _root(workspace: WorkspaceOpt = None) -> None:
    state.workspace = workspace


@contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None]]:
    bars: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    ) as progress:

        def update(label: str, done: int, total: int) -> None:
            if label not in bars:
                bars[label] = progress.add_task(label, total=total)
            progress.update(bars[label], completed=done, total=total)

        yield update


@app.command()
def init() -> None:
    """Create the workspace (encrypted database) and its key, kept outside the workspace."""
    from breachwatch.store.workspace import init_workspace

    root = init_workspace(state.workspace)
    console.print(f"workspace ready: [bold]{root}[/bold]")


@app.command("settings")
def settings_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every setting with its value, default and help."""
    from breachwatch.settings import SETTINGS, load_settings

    values = load_settings(state.workspace)
    if as_json:
        out.print_json(json.dumps({s.name: values[s.name] for s in SETTINGS if not s.secret}))
        return
    table = Table("setting", "value", "default", "help")
    for s in SETTINGS:
        shown = "***" if s.secret and values[s.name] else str(values[s.name])
        table.add_row(s.name, shown, str(s.default), s.help)
    out.print(table)


@app.command()
def synth(
    people: Annotated[int, typer.Option(help="Number of people in the registry.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 1,
    out_dir: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("synth-data"),
) -> None:
    """Generate a synthetic registry, main leak, earlier leaks and ground truth."""
    from breachwatch.synth import generate

    if people < 1:
        raise UsageError("--people must be at least 1")
    with _progress() as progress:
        manifest = generate(people, seed, out_dir, progress)
    console.print(f"synthetic data for {people:,} people written to [bold]{manifest.out}[/bold]")


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--disclosed {text!r}: expected a date as YYYY-MM-DD") from None


def _parse_maps(maps: list[str]) -> dict[str, DataClass]:
    parsed: dict[str, DataClass] = {}
    for item in maps:
        column, sep, name = item.rpartition("=")
        if not sep or not column:
            raise UsageError(f"--map {item!r}: expected COLUMN=DATA_CLASS")
        try:
            parsed[column] = DataClass(name.strip())
        except ValueError:
            known = ", ".join(dc.value for dc in DataClass)
            raise UsageError(
                f"--map {item!r}: unknown data class {name!r} (known: {known})"
            ) from None
    return parsed


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files to ingest (.gz, .zip accepted).")],
    breach: Annotated[
        str | None, typer.Option(help="Dataset name (optional with --role registry).")
    ] = None,
    role: Annotated[Role, typer.Option(help="leak or registry.")] = Role.LEAK,
    fmt: Annotated[
        str, typer.Option("--format", help="auto, csv, tsv, jsonl, json, sql, xlsx, parquet.")
    ] = "auto",
    encoding: Annotated[
        str, typer.Option(help="auto, utf-8, utf-8-sig, cp1252, latin-1, mixed.")
    ] = "auto",
    maps: Annotated[
        list[str], typer.Option("--map", help="COLUMN=DATA_CLASS override (repeatable).")
    ] = [],  # noqa: B006
    as_json: Annotated[
        bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")
    ] = False,
    disclosed: Annotated[
        str | None, typer.Option(help="Date the leak became public (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Ingest leak dumps or the registry: typed, validated, normalised records."""
    from breachwatch.ingest.pipeline import ingest as run_ingest
    from breachwatch.ingest.summary import print_summary
    from breachwatch.store.workspace import open_workspace

    overrides = _parse_maps(maps)
    with open_workspace(state.workspace) as ws, _progress() as progress:
        report = run_ingest(
            ws, paths, breach, role, fmt, encoding, overrides, progress, _date(disclosed)
        )
    if as_json:
        print(json.dumps(report.totals(), ensure_ascii=False))
    else:
        print_summary(out, report)


@app.command()
def breaches(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The breach catalogue: datasets, their sources and counts."""
    from breachwatch.ingest.catalogue import catalogue, print_catalogue
    from breachwatch.store.workspace import open_workspace

    with open_workspace(state.workspace) as ws:
        entries = catalogue(ws)
    if as_json:
        print(json.dumps(entries, ensure_ascii=False, default=str))
    else:
        print_catalogue(out, entries)


@app.command()
def export(
    table: Annotated[
        str,
        typer.Argument(
            help="records, quarantine, sources, breaches, affected, unmatched, exposure, "
            "risk or clusters."
        ),
    ],
    out_file: Annotated[Path, typer.Option("--out", help="Output file (.parquet or .csv).")],
    breach: Annotated[str | None, typer.Option(help="Only this dataset.")] = None,
    reason: ReasonOpt = None,
    operator: OperatorOpt = None,
) -> None:
    """Export a table; CSV cells that a spreadsheet would run as formulas are neutralised.
    Tables of people or records need --reason and are audited."""
    from breachwatch.export import export_table
    from breachwatch.store.workspace import open_workspace

    with open_workspace(state.workspace) as ws:
        if table in PERSONAL_TABLES:
            _audited("export", table, reason, operator, breach=breach, out=str(out_file))
        rows = export_table(ws, table, out_file, breach)
    console.print(f"{rows:,} rows written to {out_file}")


@app.command()
def affected(
    breach: Annotated[str, typer.Option(help="The leak to link to the registry.")],
    registry: Annotated[str | None, typer.Option(help="Registry dataset (if several).")] = None,
    engine: Annotated[
        str, typer.Option(help="duckdb or spark (spark needs pyspark, the 'spark' extra).")
    ] = "duckdb",
    threshold: Annotated[
        float, typer.Option(help="Minimum match probability of a probabilistic link.")
    ] = 0.99,
    spark_master: Annotated[
        str | None,
        typer.Option(help="Spark master for --engine spark (default: the spark_master setting)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")] = False,
) -> None:
    """Who in the registry is in this leak, and which of their data classes leaked."""
    from breachwatch.linkage.affected import compute_affected
    from breachwatch.linkage.summary import print_affected
    from breachwatch.store.workspace import open_workspace

    with open_workspace(state.workspace) as ws:
        report = compute_affected(ws, breach, registry, engine, threshold, spark_master)
    if as_json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        print_affected(out, report)


@app.command()
def link(
    threshold: Annotated[
        float, typer.Option(help="Minimum probability of a probabilistic link.")
    ] = 0.99,
    attach_threshold: Annotated[
        float,
        typer.Option(
            help="Minimum probability of the pair that joins a record left alone to its only "
            "candidate cluster (both records with a birth date)."
        ),
    ] = ATTACH_THRESHOLD,
    engine: Annotated[
        str, typer.Option(help="duckdb or spark (spark needs pyspark, the 'spark' extra).")
    ] = "duckdb",
    spark_master: Annotated[
        str | None,
        typer.Option(help="Spark master for --engine spark (default: the spark_master setting)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")] = False,
) -> None:
    """Cluster the registry and every leak into identities (one cluster = one person)."""
    from dataclasses import asdict

    from breachwatch.linkage.affected import check_linkage_options
    from breachwatch.linkage.engine import open_engine
    from breachwatch.linkage.identity import cluster_identities, records_to_cluster
    from breachwatch.store.workspace import open_workspace

    check_linkage_options(engine, threshold)
    with open_workspace(state.workspace) as ws:
        try:
            records_to_cluster(ws.con)
            with open_engine(ws, engine, spark_master) as linkage:
                report = cluster_identities(
                    ws.con, threshold, attach_threshold=attach_threshold, engine=linkage
                )
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if as_json:
        print(json.dumps(asdict(report)))
    else:
        out.print(
            f"{report.records:,} records → {report.clusters:,} identities "
            f"({report.multi_record_clusters:,} with several records; "
            f"{report.pairs_scored:,} pairs scored) in {report.seconds:.1f} s"
        )


person_app = typer.Typer(help="One person's identity cluster.", no_args_is_help=True)
app.add_typer(person_app, name="person")


@person_app.command("show")
def person_show(
    ident: Annotated[str, typer.Argument(help="Registry person id (record_id) or a record_uid.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")] = False,
    reason: ReasonOpt = None,
    operator: OperatorOpt = None,
) -> None:
    """Explain a cluster: its records, the links that joined them, a waterfall of match weights.
    Needs --reason: the look is audited."""
    from breachwatch.linkage.person import explain, print_explanation
    from breachwatch.store.workspace import open_workspace

    _audited("person.view", ident, reason, operator, command="person show")
    with open_workspace(state.workspace) as ws:
        data = explain(ws, ident)
    if as_json:
        print(json.dumps(data, default=str, ensure_ascii=False))
    else:
        print_explanation(out, data)


@app.command()
def risk(
    breach: Annotated[str, typer.Option(help="The breach being analysed (e.g. the agency's).")],
    person: Annotated[
        str | None, typer.Option(help="Show one person (registry record_id).")
    ] = None,
    lang: Annotated[str, typer.Option(help="fr or en, for names and advice.")] = "fr",
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")] = False,
    reason: ReasonOpt = None,
    operator: OperatorOpt = None,
) -> None:
    """Exposure across every leak and named risks with advice, per person and in aggregate.
    --person needs --reason: the look is audited."""
    from breachwatch.risk.rules import compute_risk, load_rules, person_risks
    from breachwatch.risk.summary import print_person, print_risk
    from breachwatch.store.workspace import open_workspace

    if lang not in ("fr", "en"):
        raise UsageError(f"--lang {lang!r}: expected fr or en")
    if person:
        _audited("person.view", person, reason, operator, command="risk", breach=breach)
    rules = load_rules()
    with open_workspace(state.workspace) as ws:
        totals = compute_risk(ws, breach, rules)
        found = person_risks(ws, person, rules) if person else None
    if as_json:
        payload: dict[str, Any] = dict(totals)
        if found is not None:
            payload["person"] = {
                "record_id": person,
                "exposed": found[0][1] if found else [],
                "risks": [{"id": r.id, "level": r.level} for r, _ in found],
            }
        print(json.dumps(payload, ensure_ascii=False))
    elif found is not None:
        print_person(out, str(person), found, lang)
    else:
        print_risk(out, breach, totals, rules, lang)


@app.command()
def index(
    breach: Annotated[str, typer.Option(help="The breach whose affected people are indexed.")],
    sensitive: Annotated[
        bool | None,
        typer.Option(
            "--sensitive/--not-sensitive",
            help="Mark the breach: only a non-sensitive breach shows self-check results on "
            "screen (default: keep the breach's flag; new breaches are sensitive).",
        ),
    ] = None,
    rotate_key: Annotated[
        bool, typer.Option("--rotate-key", help="Retire the lookup key and create a new one.")
    ] = False,
    workers: Annotated[int, typer.Option(help="OPRF worker processes; 0 = one per core.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")] = False,
) -> None:
    """Build the private lookup index (OPRF outputs, no plaintext) of a breach."""
    from breachwatch.lookup.index import build_index
    from breachwatch.store.workspace import open_workspace

    with open_workspace(state.workspace) as ws, _progress() as progress:
        summary = build_index(
            ws,
            breach,
            sensitive=sensitive,
            rotate_key=rotate_key,
            workers=workers or None,
            progress=progress,
        )
    if as_json:
        print(json.dumps(summary.to_json()))
        return
    kinds = ", ".join(f"{n:,} {k}" for k, n in sorted(summary.by_kind.items()))
    out.print(
        f"[bold]{escape(breach)}[/bold]: {summary.people:,} people, {summary.entries:,} "
        f"identifiers ({kinds}) in {summary.seconds:.1f} s; "
        f"{'sensitive' if summary.sensitive else 'not sensitive'}; key {summary.key_id}; "
        f"{escape(str(summary.path))}"
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes (share limits via Redis).")] = 1,
) -> None:
    """Serve the self-check pages and the partner API (FastAPI + Uvicorn)."""
    from breachwatch.web.server import run

    run(state.workspace, host, port, workers)


partner_app = typer.Typer(help="Partners of the private check and their API keys.")
app.add_typer(partner_app, name="partner")


@partner_app.command("add")
def partner_add(
    name: Annotated[str, typer.Argument(help="Partner name, e.g. a bank.")],
    quota: Annotated[
        int, typer.Option(help="Identifiers the partner may check per day.")
    ] = 1_000_000,
) -> None:
    """Create a partner and print its API key (shown once; stored only hashed)."""
    from breachwatch.state import add_partner

    key = add_partner(_settings(), name, quota)
    out.print(f"API key for {escape(name)} (shown once, keep it secret):")
    print(key)


@partner_app.command("list")
def partner_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The partners, their quotas and whether they are revoked."""
    from breachwatch.state import list_partners

    rows = list_partners(_settings())
    if as_json:
        print(json.dumps([{**r.__dict__, "created_at": str(r.created_at)} for r in rows]))
        return
    table = Table("partner", "quota/day", "created", "revoked")
    for r in rows:
        table.add_row(
            escape(r.name), f"{r.quota_per_day:,}", str(r.created_at)[:19], str(r.revoked)
        )
    out.print(table)


@partner_app.command("revoke")
def partner_revoke(name: Annotated[str, typer.Argument(help="Partner name.")]) -> None:
    """Revoke a partner's API key at once."""
    from breachwatch.state import revoke_partner

    revoke_partner(_settings(), name)
    out.print(f"revoked {escape(name)}")


def _settings() -> dict[str, Any]:
    from breachwatch.settings import load_settings
    from breachwatch.store.workspace import workspace_id

    settings = load_settings(state.workspace)
    workspace_id(Path(settings["home"]))  # a clear error outside a workspace
    return settings


@app.command("partner-check")
def partner_check_cmd(
    customers: Annotated[Path, typer.Argument(help="CSV with email/phone/nir(+date_of_birth).")],
    server: Annotated[str, typer.Option(help="The breachwatch server, e.g. https://host:8000.")],
    api_key: Annotated[
        str, typer.Option(envvar="BREACHWATCH_PARTNER_KEY", help="Partner API key.")
    ],
    out_file: Annotated[Path, typer.Option("--out", help="Where the matches go (CSV).")] = Path(
        "matches.csv"
    ),
    breach: Annotated[str | None, typer.Option(help="Breach to check against.")] = None,
    region: Annotated[str, typer.Option(help="Region of phones without a country code.")] = "FR",
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")] = False,
) -> None:
    """Which of your customers are in the breach, without either side revealing its list."""
    from breachwatch.lookup.client import partner_check

    with _progress() as progress:
        report = partner_check(
            customers, out_file, server, api_key, breach=breach, region=region, progress=progress
        )
    if as_json:
        print(json.dumps(report.to_json()))
        return
    out.print(
        f"{report.rows:,} rows, {report.identifiers:,} identifiers checked "
        f"({report.invalid:,} invalid, {report.rows_without_identifier:,} rows without one): "
        f"[bold]{report.matched_rows:,} rows matched[/bold] ({report.matched_identifiers:,} "
        f"identifiers) in {report.seconds:.1f} s; {report.bytes_sent:,} bytes sent, "
        f"{report.bytes_received:,} received → {escape(str(out_file))}"
    )


user_app = typer.Typer(help="Operator accounts of the dashboard.")
app.add_typer(user_app, name="user")


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option(help="viewer, analyst (person look-ups) or admin.")] = (
        "viewer"
    ),
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a dashboard account (argon2id password hash; at least 12 characters)."""
    from breachwatch.dashboard.auth import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    add_user(_settings(), name, password, role)
    out.print(f"user {escape(name)} ({role}) created")


@user_app.command("list")
def user_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The dashboard accounts and their roles."""
    from breachwatch.dashboard.auth import list_users

    users = list_users(_settings())
    if as_json:
        print(json.dumps(users))
        return
    table = Table("user", "role", "created", "disabled")
    for u in users:
        table.add_row(escape(u["username"]), u["role"], u["created_at"], str(u["disabled"]))
    out.print(table)


dashboard_app = typer.Typer(help="The operator dashboard's figures.")
app.add_typer(dashboard_app, name="dashboard")


@dashboard_app.command("refresh")
def dashboard_refresh(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Recompute the dashboard's aggregates from the workspace (counts only, no personal data)."""
    from breachwatch.dashboard.snapshot import refresh
    from breachwatch.store.workspace import open_workspace

    with open_workspace(state.workspace) as ws:
        body = refresh(ws)
    if as_json:
        print(json.dumps(body))
    else:
        out.print(f"dashboard figures computed at {body['computed_at']} UTC")


audit_app = typer.Typer(help="The tamper-evident audit log.")
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Recompute the audit log's hash chain; exit 1 if an entry was altered or removed."""
    from breachwatch.state import verify_audit

    check = verify_audit(_settings())
    if as_json:
        print(json.dumps(check.__dict__))
    elif check.ok:
        out.print(f"audit log intact: {check.entries:,} entries")
    else:
        out.print(f"[red]audit log broken[/red] at entry {check.first_bad}: {check.problem}")
    if not check.ok:
        raise typer.Exit(1)


app.add_typer(
    notify_cli.app,
    name="notify",
    help="Tell every affected person: plan, preview, test-send, approve (four eyes), run.",
)
app.command("verify-code")(notify_cli.verify_code)
app.add_typer(
    phishing_cli.app,
    name="phishing",
    help="Is this SMS or e-mail genuine? Verdict, score and reasons, offline.",
)
app.add_typer(
    report_cli.app,
    name="report",
    help="The GDPR art. 33 notification to the regulator (PDF + JSON, charts, draft statement).",
)


@app.command()
def demo(
    people: Annotated[int, typer.Option(help="People in the synthetic registry.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the web UI at the end.")
    ] = True,
    data_dir: Annotated[Path, typer.Option("--data", help="Where the synthetic files go.")] = Path(
        "demo-data"
    ),
    port: Annotated[int, typer.Option(help="Port of the web service.")] = 8000,
) -> None:
    """End-to-end demo on synthetic data: synth → ingest → affected → risk → lookup index, then
    the self-check service with a local mailbox."""
    from breachwatch.demo import run_demo

    with _progress() as progress:
        run_demo(
            state.workspace or Path("workspace-demo"),
            data_dir,
            people,
            seed,
            serve,
            out,
            progress,
            port,
        )


def main() -> None:
    try:
        app()
    except BreachwatchError as exc:
        console.print(f"[red]error:[/red] {escape(exc.message)}", highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]")
        sys.exit(130)


if __name__ == "__main__":
    main()
