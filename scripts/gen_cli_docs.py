"""Write docs/cli.md from the CLI's own --help (a test checks it is current).

.venv/bin/python scripts/gen_cli_docs.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from typer.testing import CliRunner

from breachwatch.cli import app

TARGET = Path(__file__).parents[1] / "docs" / "cli.md"
HEADER = (
    "# Command line\n\nGenerated from `--help` by `scripts/gen_cli_docs.py`; "
    "`tests/test_docs.py` fails when it is stale.\n"
)


def command_names() -> list[str]:
    return [c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands]


def help_text(args: list[str]) -> str:
    env = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb", "_TYPER_FORCE_DISABLE_TERMINAL": "1"}
    result = CliRunner().invoke(app, [*args, "--help"], env=env, prog_name="breachwatch")
    return "\n".join(line.rstrip() for line in result.output.strip().splitlines())


def render() -> str:
    parts = [HEADER, "## breachwatch\n", "```\n" + help_text([]) + "\n```\n"]
    for name in command_names():
        parts.append(f"## breachwatch {name}\n")
        parts.append("```\n" + help_text([name]) + "\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    os.environ.setdefault("COLUMNS", "100")
    TARGET.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {TARGET}\n")
