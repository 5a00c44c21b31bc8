from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from breachwatch.store.workspace import Workspace, init_workspace, open_workspace


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys and settings of a test never touch the developer's own."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in list(os.environ):
        if name.startswith("BREACHWATCH_") and name not in (
            "BREACHWATCH_PG_DSN",
            "BREACHWATCH_REDIS_URL",
            "BREACHWATCH_REQUIRE_SERVICES",
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BREACHWATCH_MEMORY_LIMIT", "2GB")


@pytest.fixture
def ws_home(tmp_path: Path) -> Path:
    return init_workspace(tmp_path / "ws")


@pytest.fixture
def ws(ws_home: Path) -> Iterator[Workspace]:
    with open_workspace(ws_home) as workspace:
        yield workspace
