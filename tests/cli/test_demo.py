"""`breachwatch demo` (what `make run` runs) works end to end and owns only its own workspace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _demo(tmp_path: Path, *global_options: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BREACHWATCH_")}
    env.update({"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "COLUMNS": "200"})
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "breachwatch.cli",
            *global_options,
            "demo",
            "--people",
            "800",
            "--no-serve",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def test_demo_ingests_the_registry_and_every_leak(tmp_path: Path) -> None:
    result = _demo(tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("registry", "agency-2026", "telecom", "retail", "health", "forum"):
        assert name in result.stdout
    assert "quarantined" in result.stdout
    again = _demo(tmp_path)  # a second run starts afresh instead of piling up
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("800 rows read") == 1


def test_demo_refuses_a_workspace_it_does_not_own(tmp_path: Path) -> None:
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "data.txt").write_text("keep me", encoding="utf-8")
    result = _demo(tmp_path, "--workspace", "precious")
    assert result.returncode == 2
    assert "not a demo workspace" in result.stderr
    assert (tmp_path / "precious" / "data.txt").exists()
