"""A small indexed workspace shared by the lookup tests (module scope: building takes seconds)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from breachwatch.ingest.pipeline import ingest
from breachwatch.lookup.index import IndexSummary, build_index
from breachwatch.settings import load_settings
from breachwatch.store.workspace import (
    default_key_file,
    init_workspace,
    open_workspace,
    workspace_id,
)
from breachwatch.synth import SynthManifest, generate
from breachwatch.types import Role
from tests.conftest import _isolate
from tests.notify.conftest import sms_provider, smtp_server  # noqa: F401 (fixtures)

PEOPLE = 1500
MAIN = "agency-2026"


@dataclass
class Indexed:
    home: Path
    manifest: SynthManifest
    summary: IndexSummary
    registry: list[dict[str, str]]  # the registry rows (synthetic people)
    affected: set[str]  # record_ids the linkage found in the main leak

    def settings(self) -> dict[str, object]:
        return load_settings(self.home)


def pin_keys(home: Path, keys_dir: Path, key: Path | None = None) -> None:
    """Fixes both key files in the workspace's settings, so that the per-test isolation of
    XDG_CONFIG_HOME does not hide them."""
    key = key or default_key_file(workspace_id(home))
    (home / "breachwatch.toml").write_text(
        f'[settings]\nkey_file = "{key}"\nlookup_key_file = "{keys_dir / "lookup.key"}"\n',
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Indexed]:
    with pytest.MonkeyPatch.context() as env:
        _isolate(env, tmp_path_factory.mktemp("config"))
        manifest = generate(PEOPLE, 5, tmp_path_factory.mktemp("synth"))
        home = init_workspace(tmp_path_factory.mktemp("home") / "ws")
        pin_keys(home, tmp_path_factory.mktemp("keys"))
        with open_workspace(home) as ws:
            ingest(ws, [manifest.registry], None, Role.REGISTRY)
            ingest(ws, [manifest.main_leak], MAIN)
            ingest(ws, [manifest.earlier_leaks["telecom"]], "telecom-2023")
            summary = build_index(ws, MAIN, workers=2)
            affected = {
                r[0]
                for r in ws.con.execute(
                    "SELECT record_id FROM affected WHERE breach = ?", [MAIN]
                ).fetchall()
            }
        with manifest.registry.open(encoding="utf-8") as handle:
            registry = list(csv.DictReader(handle))
        yield Indexed(home, manifest, summary, registry, affected)
