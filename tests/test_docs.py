"""Docs that cannot rot: every setting documented, the CLI reference regenerated from --help."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from breachwatch.settings import SETTINGS

ROOT = Path(__file__).parents[1]


def _gen_cli_docs():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "gen_cli_docs", ROOT / "scripts" / "gen_cli_docs.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in text]
    assert not missing, f"settings missing from docs/settings.md: {missing}"


def test_cli_reference_is_current() -> None:
    gen = _gen_cli_docs()
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == gen.render(), "docs/cli.md is stale: run scripts/gen_cli_docs.py"
    for name in gen.command_names():
        assert f"## breachwatch {name}" in current


def test_every_command_has_help() -> None:
    gen = _gen_cli_docs()
    for name in gen.command_names():
        text = gen.help_text([name])
        assert "Usage: breachwatch" in text and len(text.splitlines()) > 3, name
