"""``breachwatch demo`` (what ``make run`` runs): the pipeline end to end on synthetic data."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from breachwatch.errors import UsageError
from breachwatch.ingest.catalogue import catalogue, print_catalogue
from breachwatch.ingest.pipeline import ingest
from breachwatch.ingest.summary import print_summary
from breachwatch.linkage.affected import compute_affected
from breachwatch.linkage.summary import print_affected
from breachwatch.risk.rules import compute_risk, load_rules
from breachwatch.risk.summary import print_risk
from breachwatch.settings import load_settings
from breachwatch.store.workspace import (
    default_key_file,
    init_workspace,
    open_workspace,
    workspace_id,
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
    if serve:
        console.print(
            "No web UI exists yet (it arrives with the self-check capability); nothing to serve."
        )


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
        if not settings["key"] and not settings["key_file"]:
            default_key_file(workspace_id(workspace)).unlink(missing_ok=True)
        shutil.rmtree(workspace)
    init_workspace(workspace)
    (workspace / DEMO_MARKER).write_text("created by breachwatch demo\n", encoding="utf-8")
