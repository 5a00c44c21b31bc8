"""A small linked workspace with hostile names in the registry, operator accounts, a snapshot."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from breachwatch.dashboard.auth import add_user
from breachwatch.dashboard.snapshot import refresh
from breachwatch.ingest.pipeline import ingest
from breachwatch.linkage.affected import compute_affected
from breachwatch.risk.rules import compute_risk
from breachwatch.settings import load_settings
from breachwatch.store.workspace import init_workspace, open_workspace
from breachwatch.synth import generate
from breachwatch.types import Role
from tests.conftest import _isolate
from tests.lookup.conftest import pin_keys

PASSWORD = "correct horse battery"
XSS_NAME = '<script>alert("name")</script>'
FORMULA_NAME = '=HYPERLINK("http://evil.test","x")'
HOSTILE_ID = "Z0000001"


@dataclass
class Ops:
    home: Path
    registry_ids: list[str]

    def settings(self) -> dict[str, object]:
        return load_settings(self.home)


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ops]:
    with pytest.MonkeyPatch.context() as env:
        _isolate(env, tmp_path_factory.mktemp("config"))
        manifest = generate(400, 9, tmp_path_factory.mktemp("synth"))
        home = init_workspace(tmp_path_factory.mktemp("home") / "ws")
        pin_keys(home, tmp_path_factory.mktemp("keys"))
        hostile = tmp_path_factory.mktemp("hostile") / "hostile_registry.csv"
        hostile.write_text(
            "id_personne,nom,prenom,date_naissance,email\n"
            f'{HOSTILE_ID},"{XSS_NAME}","{FORMULA_NAME.replace(chr(34), chr(34) * 2)}",'
            "1980-01-01,hostile@example.org\n",
            encoding="utf-8",
        )
        with open_workspace(home) as ws:
            ingest(ws, [manifest.registry], None, Role.REGISTRY)
            ingest(ws, [hostile], None, Role.REGISTRY)
            ingest(ws, [manifest.main_leak], "agency-2026")
            compute_affected(ws, "agency-2026")
            compute_risk(ws, "agency-2026")
            refresh(ws)
            ids = [
                r[0]
                for r in ws.con.execute(
                    "SELECT record_id FROM affected ORDER BY record_id LIMIT 5"
                ).fetchall()
            ]
        settings = load_settings(home)
        for role in ("viewer", "analyst", "admin"):
            add_user(settings, role, PASSWORD, role)
        yield Ops(home, ids)
