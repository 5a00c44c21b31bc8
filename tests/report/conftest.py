"""One synthetic workspace for the report tests (package scope: building it takes seconds):
registry, the agency's leak and an earlier telecom leak, affected population and risk."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from breachwatch.ingest.pipeline import ingest
from breachwatch.linkage.affected import compute_affected
from breachwatch.report import ReportFiles, generate_regulator_report
from breachwatch.risk.rules import compute_risk
from breachwatch.store.workspace import (
    Workspace,
    default_key_file,
    init_workspace,
    open_workspace,
    workspace_id,
)
from breachwatch.synth import generate
from breachwatch.types import Role
from tests.conftest import _isolate

PEOPLE = 1200
MAIN = "agency-2026"
EARLIER = "telecom-2023"
NOW = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)
AWARE = NOW - dt.timedelta(hours=30)


@dataclass
class Built:
    home: Path
    registry: list[dict[str, str]]  # the synthetic people, to prove none of them is reported
    fr: ReportFiles
    en: ReportFiles

    def open(self) -> Workspace:
        return open_workspace(self.home)


def pin_key(home: Path) -> None:
    """The per-test isolation of XDG_CONFIG_HOME would hide the default key file."""
    key = default_key_file(workspace_id(home))
    (home / "breachwatch.toml").write_text(f'[settings]\nkey_file = "{key}"\n', encoding="utf-8")


@pytest.fixture(scope="package")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    with pytest.MonkeyPatch.context() as env:
        _isolate(env, tmp_path_factory.mktemp("config"))
        manifest = generate(PEOPLE, 11, tmp_path_factory.mktemp("synth"))
        home = init_workspace(tmp_path_factory.mktemp("home") / "ws")
        pin_key(home)
        with open_workspace(home) as ws:
            ingest(ws, [manifest.registry], None, Role.REGISTRY)
            ingest(ws, [manifest.main_leak], MAIN)
            telecom = manifest.earlier_leaks["telecom"]
            ingest(ws, [telecom], EARLIER, disclosed=dt.date(2023, 5, 1))
            compute_affected(ws, MAIN)
            compute_risk(ws, MAIN)
            out = tmp_path_factory.mktemp("reports")
            options = {"aware_since": AWARE, "now": NOW}
            fr = generate_regulator_report(ws, MAIN, out / "fr", lang="fr", **options)
            en = generate_regulator_report(ws, MAIN, out / "en", lang="en", **options)
        with manifest.registry.open(encoding="utf-8") as handle:
            registry = list(csv.DictReader(handle))
    yield Built(home, registry, fr, en)
