"""docs/phishing.md cannot rot: every reason code, every configuration key and the CLI help."""

from __future__ import annotations

import importlib.util
import tomllib
from importlib import resources
from pathlib import Path

from breachwatch.phishing.config import load_reasons

ROOT = Path(__file__).parents[2]
DOC = (ROOT / "docs" / "phishing.md").read_text(encoding="utf-8")


def test_every_reason_code_is_documented() -> None:
    missing = [code for code in load_reasons() if f"`{code}`" not in DOC]
    assert not missing, f"reason codes missing from docs/phishing.md: {missing}"


def test_every_configuration_key_is_documented() -> None:
    text = resources.files("breachwatch.phishing").joinpath("config.toml").read_text("utf-8")
    data = tomllib.loads(text)
    keys = {k for table in ("organisation", "links", "email", "scoring") for k in data[table]}
    keys |= {k for brand in data["brand"] for k in brand}
    missing = sorted(k for k in keys if k not in DOC)
    assert not missing, f"configuration keys missing from docs/phishing.md: {missing}"


def test_cli_help_in_the_docs_is_current() -> None:
    spec = importlib.util.spec_from_file_location("gen", ROOT / "scripts" / "gen_cli_docs.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    help_text = gen.help_text(["phishing", "check"])
    assert help_text in DOC, "docs/phishing.md: paste the current `phishing check --help`"
