"""``breachwatch notify …`` and ``breachwatch verify-code`` as an operator types them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from breachwatch.cli import app

from .campaigns import base_settings, make_home
from .servers import SmtpServer

BREACHWATCH = str(Path(sys.executable).parent / "breachwatch")


def test_a_campaign_from_the_command_line(tmp_path: Path, smtp_server: SmtpServer) -> None:
    home, _ = make_home(tmp_path, 50, **base_settings(smtp_server))
    runner = CliRunner()

    def cli(*args: str) -> str:
        result = runner.invoke(app, ["-w", str(home), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    plan = ["notify", "plan", "--breach", "agency-test", "--campaign", "c1"]
    planned = json.loads(cli(*plan, "--channels", "email,letter", "--operator", "alice", "--json"))
    assert planned["people"] == 50 and planned["by_channel"]["email"] == 45
    shown = cli("notify", "preview", "--campaign", "c1", "--person", "P10", "--operator", "alice")
    assert "Dupré-10" in shown and "BW-" in shown
    assert "1 sent" not in cli("notify", "test-send", "--campaign", "c1", "--to",
                               "seed@example.org", "--operator", "alice")  # fmt: skip
    refused = subprocess.run(
        [BREACHWATCH, "-w", str(home), "notify", "approve", "--campaign", "c1",
         "--operator", "alice"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert refused.returncode == 2 and "second operator" in refused.stderr
    assert "Traceback" not in refused.stderr
    cli("notify", "approve", "--campaign", "c1", "--operator", "bob")
    cli("notify", "pause", "--campaign", "c1", "--operator", "bob")
    cli("notify", "resume", "--campaign", "c1", "--operator", "bob")
    ran = json.loads(cli("notify", "run", "--campaign", "c1", "--rate", "email=500/s",
                         "--operator", "bob", "--json"))  # fmt: skip
    assert ran["outcomes"] == {"sent": 45}
    status = json.loads(cli("notify", "status", "--campaign", "c1", "--json"))
    assert status["by_channel"]["email"] == {"sent": 45}
    assert status["by_channel"]["letter"] == {"queued": 3} and status["status"] == "running"
    assert "45" in cli("notify", "status", "--campaign", "c1")
    printed = json.loads(cli("notify", "letters", "--campaign", "c1", "--out",
                             str(tmp_path / "print"), "--json"))  # fmt: skip
    assert printed["letters"] == 3

    mail = next(m for m in smtp_server.received if m.message["To"] == "p10@example.net")
    code = re.search(r"BW-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", mail.raw.decode()).group()  # type: ignore[union-attr]
    assert "genuine" in cli("verify-code", code)
    assert json.loads(cli("verify-code", code, "--recipient", "p10@example.net", "--json"))[
        "genuine"
    ]
    for forged, recipient in ((code, "p11@example.net"), ("BW-0000-0000-0000", None),
                              ("BW-12", None)):  # fmt: skip
        args = ["verify-code", forged] + (["--recipient", recipient] if recipient else [])
        assert runner.invoke(app, ["-w", str(home), *args]).exit_code == 1


def test_user_mistakes_are_clean_errors(tmp_path: Path) -> None:
    home, _ = make_home(tmp_path, 10)
    for args, message in (
        (["notify", "plan", "--breach", "agency-test", "--campaign", "c", "--channels", "fax"],
         "--channels"),
        (["notify", "run", "--campaign", "nope"], "no campaign named"),
        (["notify", "run", "--campaign", "nope", "--rate", "email=fast"], "--rate"),
    ):  # fmt: skip
        done = subprocess.run([BREACHWATCH, "-w", str(home), *args], capture_output=True, text=True)
        assert done.returncode == 2, done.stderr
        assert message in done.stderr and "Traceback" not in done.stderr
