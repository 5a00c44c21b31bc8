"""``breachwatch report regulator`` as the response team runs it: a real process, exit codes,
one clear line on error, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import MAIN, Built


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BREACHWATCH_")}
    env.update({"BREACHWATCH_HOME": str(home), "COLUMNS": "200"})
    return subprocess.run(
        [sys.executable, "-m", "breachwatch.cli", "report", "regulator", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_writes_json_and_pdf(built: Built, tmp_path: Path) -> None:
    out = tmp_path / "new" / "dir"
    done = run(
        built.home, "--breach", MAIN, "--out", str(out), "--lang", "en",
        "--aware-since", "2026-01-05T09:30+01:00", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed == json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert printed["lang"] == "en" and printed["timeline"]["aware_since"] == "2026-01-05T08:30:00Z"
    assert printed["timeline"]["overdue"] is True
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF-")
    assert "overdue by" in done.stderr and "report.pdf" in done.stderr


def _fails_cleanly(done: subprocess.CompletedProcess[str], code: int, message: str) -> None:
    assert done.returncode == code, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert message in done.stderr
    assert done.stderr.startswith("error:")


def test_unknown_breach_exits_2(built: Built, tmp_path: Path) -> None:
    done = run(built.home, "--breach", "nope", "--out", str(tmp_path))
    _fails_cleanly(done, 2, "breach 'nope' is not an ingested leak")
    assert not (tmp_path / "report.pdf").exists()


def _main(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> subprocess.CompletedProcess[str]:
    """The CLI's entry point in this process (a process each costs seconds of imports)."""
    from breachwatch.cli import main

    monkeypatch.setattr(sys, "argv", ["breachwatch", "-w", str(home), "report", "regulator", *args])
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(
        args, int(exited.value.code or 0), captured.out, captured.err
    )


def test_unwritable_out_exits_2(
    built: Built,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    done = _main(built.home, capsys, monkeypatch, "--breach", MAIN, "--out", str(blocker / "sub"))
    _fails_cleanly(done, 2, "cannot write the report there")


def test_bad_options_exit_2(
    built: Built,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = ("--breach", MAIN, "--out", str(tmp_path))
    done = _main(built.home, capsys, monkeypatch, *base, "--aware-since", "monday")
    _fails_cleanly(done, 2, "--aware-since 'monday'")
    done = _main(built.home, capsys, monkeypatch, *base, "--lang", "de")
    _fails_cleanly(done, 2, "--lang 'de'")
    done = _main(
        built.home, capsys, monkeypatch, "--breach", "telecom-2023", "--out", str(tmp_path)
    )
    _fails_cleanly(done, 2, "run `breachwatch risk --breach telecom-2023` first")
