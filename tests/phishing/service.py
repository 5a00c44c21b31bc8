"""Settings for the report, wave and web tests: one workspace per module (creating one takes
half a second), a fresh operational database per test.

A test module uses them with ``pytest_plugins = ["tests.phishing.service"]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from breachwatch.settings import load_settings
from breachwatch.store.workspace import default_key_file, init_workspace, workspace_id
from tests.conftest import _isolate


@dataclass(frozen=True)
class Home:
    path: Path
    key_file: Path  # outside the workspace, pinned: the per-test isolation moves the default


@pytest.fixture(scope="module")
def phishing_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    with pytest.MonkeyPatch.context() as env:
        _isolate(env, tmp_path_factory.mktemp("config"))
        home = init_workspace(tmp_path_factory.mktemp("home") / "ws")
        yield Home(home, default_key_file(workspace_id(home)))


@pytest.fixture
def settings(phishing_home: Home, tmp_path: Path) -> dict[str, Any]:
    """The module's workspace with this test's own state database and lookup key."""
    return load_settings(phishing_home.path) | {
        "key_file": str(phishing_home.key_file),
        "lookup_key_file": str(tmp_path / "lookup.key"),
        "state_url": f"sqlite:///{tmp_path / 'state.db'}",
    }
