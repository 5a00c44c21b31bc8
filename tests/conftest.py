from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from breachwatch.store.workspace import Workspace, init_workspace, open_workspace


def _isolate(env: pytest.MonkeyPatch, config_home: Path) -> None:
    """Keys and settings of a test never touch the developer's own."""
    env.setenv("XDG_CONFIG_HOME", str(config_home))
    for name in list(os.environ):
        if name.startswith("BREACHWATCH_") and name not in (
            "BREACHWATCH_PG_DSN",
            "BREACHWATCH_REDIS_URL",
            "BREACHWATCH_REQUIRE_SERVICES",
        ):
            env.delenv(name)
    env.setenv("BREACHWATCH_MEMORY_LIMIT", "2GB")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _isolate(monkeypatch, tmp_path / "config")


@pytest.fixture(scope="module")
def module_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """One isolated workspace for a module (the autouse isolation is per test)."""
    with pytest.MonkeyPatch.context() as env:
        _isolate(env, tmp_path_factory.mktemp("config"))
        ws = open_workspace(init_workspace(tmp_path_factory.mktemp("home") / "ws"))
    try:
        yield ws
    finally:
        ws.close()


@pytest.fixture
def ws_home(tmp_path: Path) -> Path:
    return init_workspace(tmp_path / "ws")


@pytest.fixture
def ws(ws_home: Path) -> Iterator[Workspace]:
    with open_workspace(ws_home) as workspace:
        yield workspace
