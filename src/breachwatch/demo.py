"""``breachwatch demo`` (what ``make run`` runs): the pipeline end to end on synthetic data."""

from __future__ import annotations

import csv
import datetime as dt
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from breachwatch.dashboard.snapshot import refresh as refresh_dashboard
from breachwatch.errors import UsageError
from breachwatch.ingest.catalogue import catalogue, print_catalogue
from breachwatch.ingest.pipeline import ingest
from breachwatch.ingest.summary import print_summary
from breachwatch.linkage.affected import compute_affected
from breachwatch.linkage.summary import print_affected
from breachwatch.lookup.index import build_index
from breachwatch.notify.demo import run_demo_campaign
from breachwatch.report.output import generate_regulator_report
from breachwatch.risk.rules import compute_risk, load_rules
from breachwatch.risk.summary import print_risk
from breachwatch.settings import load_settings
from breachwatch.store.workspace import (
    init_workspace,
    key_file,
    open_workspace,
)
from breachwatch.synth import SynthManifest, generate
from breachwatch.types import Role

DEMO_MARKER = ".demo-workspace"
MAIN_BREACH = "agency-2026"
# Disclosure dates of the synthetic breaches, so exposure shows what each one added.
DISCLOSED = {
    "forum": dt.date(2023, 6, 1),
    "health": dt.date(2024, 2, 1),
    "telecom": dt.date(2024, 10, 1),
    "retail": dt.date(2025, 3, 1),
    MAIN_BREACH: dt.date(2026, 3, 1),
}


def run_demo(
    workspace: Path,
    data_dir: Path,
    people: int,
    seed: int,
    serve: bool,
    console: Console,
    progress: Callable[[str, int, int], None],
    port: int = 8000,
) -> None:
    manifest = _synth(data_dir, people, seed, console, progress)
    _fresh_workspace(workspace)
    console.rule("ingest")
    with open_workspace(workspace) as ws:
        jobs = [
            (manifest.registry, None, Role.REGISTRY),
            (manifest.main_leak, MAIN_BREACH, Role.LEAK),
        ]
        jobs += [(path, name, Role.LEAK) for name, path in manifest.earlier_leaks.items()]
        for path, breach, role in jobs:
            day = DISCLOSED.get(breach or "")
            report = ingest(ws, [path], breach, role, progress=progress, disclosed=day)
            print_summary(console, report)
        console.rule("catalogue")
        print_catalogue(console, catalogue(ws))
        console.rule("affected population: who is in each leak")
        for _, breach, role in jobs:
            if role == Role.LEAK and breach:
                print_affected(console, compute_affected(ws, breach))
        console.rule(f"risks of the people in {MAIN_BREACH}, given every leak")
        rules = load_rules()
        print_risk(console, MAIN_BREACH, compute_risk(ws, MAIN_BREACH, rules), rules, "en")
        console.rule("private lookup index (OPRF, no plaintext)")
        summary = build_index(ws, MAIN_BREACH, progress=progress)
        console.print(
            f"{MAIN_BREACH}: {summary.people:,} people, {summary.entries:,} identifiers "
            f"({', '.join(f'{n:,} {k}' for k, n in sorted(summary.by_kind.items()))}) "
            f"in {summary.seconds:.1f} s → {summary.path}"
        )
        refresh_dashboard(ws)
        example = ws.con.execute(
            "SELECT r.email FROM affected a JOIN records r ON r.record_uid = a.registry_uid "
            "WHERE a.breach = ? AND r.email_valid ORDER BY a.record_id LIMIT 1",
            [MAIN_BREACH],
        ).fetchone()
    console.rule("notification campaign: plan, preview, seed send, four-eyes approval, send")
    run_demo_campaign(workspace, MAIN_BREACH, data_dir / "mail", console)
    console.rule("regulator report (GDPR art. 33)")
    with open_workspace(workspace) as ws:
        refresh_dashboard(ws)  # now with the campaign's progress
        files = generate_regulator_report(ws, MAIN_BREACH, data_dir / "report", lang="en")
    console.print(f"report: {files.pdf_path} and {files.json_path}")
    customers = _partner_demo(workspace, data_dir, manifest)
    if serve:
        _serve(workspace, data_dir, port, example[0] if example else None, customers, console)


def _partner_demo(workspace: Path, data_dir: Path, manifest: SynthManifest) -> Path:
    """A demo partner file: a bank's customers, some of them in the breach."""
    customers = data_dir / "bank_customers.csv"
    with (
        manifest.registry.open(encoding="utf-8") as src,
        customers.open("w", encoding="utf-8", newline="") as dst,
    ):
        reader = csv.DictReader(src)
        writer = csv.writer(dst)
        writer.writerow(["customer", "email", "mobile"])
        for i, row in enumerate(reader):
            if i % 7 == 0:
                writer.writerow([f"B{i:07d}", row["email"], row["tel_portable"]])
        for i in range(200):
            writer.writerow([f"X{i:07d}", f"client{i}@bank.example", ""])
    return customers


def _serve(
    workspace: Path,
    data_dir: Path,
    port: int,
    example: str | None,
    customers: Path,
    console: Console,
) -> None:
    import uvicorn

    from breachwatch.dashboard.auth import add_user
    from breachwatch.notify.mailbox import Mailbox
    from breachwatch.state import add_partner
    from breachwatch.web.app import create_app

    settings = load_settings(workspace)
    mailbox_dir = data_dir / "mailbox"
    with Mailbox(mailbox_dir) as box:
        settings.update(smtp_host="127.0.0.1", smtp_port=box.port)
        key = add_partner(settings, "demo-bank", 1_000_000)
        password = secrets.token_urlsafe(12)
        add_user(settings, "demo-analyst", password, "analyst")
        url = f"http://127.0.0.1:{port}"
        console.rule("serving")
        console.print(f"Self-check page: {url}/ (English: {url}/?lang=en)")
        if example:
            console.print(f"  try a synthetic affected person's e-mail: {example}")
        console.print(f"  answers arrive in the demo mailbox: {mailbox_dir}/*.eml")
        console.print(
            f"Partner check: breachwatch partner-check {customers} --server {url} "
            f"--api-key {key} --out matches.csv"
        )
        console.print(f"Operator dashboard: {url}/ops/ — user demo-analyst, password {password}")
        console.print("Ctrl-C stops the demo.")
        uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning")


def _synth(
    data_dir: Path,
    people: int,
    seed: int,
    console: Console,
    progress: Callable[[str, int, int], None],
) -> SynthManifest:
    console.rule(f"synthetic data: {people:,} people, seed {seed}")
    if data_dir.exists() and any(data_dir.iterdir()):
        if not (data_dir / "manifest.json").is_file():
            raise UsageError(
                f"{data_dir} exists and holds no synthetic data; choose another --data"
            )
        shutil.rmtree(data_dir)
    return generate(people, seed, data_dir, progress)


def _fresh_workspace(workspace: Path) -> None:
    """The demo owns its workspace: it wipes the previous demo run, never anything else."""
    if workspace.exists() and any(workspace.iterdir()):
        if not (workspace / DEMO_MARKER).exists():
            raise UsageError(
                f"{workspace} exists and is not a demo workspace; choose another --workspace"
            )
        settings = load_settings(workspace)
        # The demo's own default key files go with it; keys the user pointed to stay.
        if not settings["key"] and not settings["key_file"]:
            key_file(settings, "key_file").unlink(missing_ok=True)
        for name, kind in (("lookup_key_file", "lookup"), ("notify_key_file", "notify")):
            if not settings[name]:
                key_file(settings, name, kind).unlink(missing_ok=True)
        shutil.rmtree(workspace)
    init_workspace(workspace)
    (workspace / DEMO_MARKER).write_text("created by breachwatch demo\n", encoding="utf-8")
