"""End to end: a message a campaign really sent is 'genuine' for `breachwatch phishing check`
in that workspace; the same message with a forged code is 'phishing'."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from breachwatch.notify.demo import run_demo_campaign
from tests.dashboard.conftest import Ops, ops  # noqa: F401 (module fixture)

BW = str(Path(sys.executable).with_name("breachwatch"))


def _check(home: Path, message: Path) -> dict[str, object]:
    run = subprocess.run(
        [BW, "-w", str(home), "phishing", "check", str(message), "--json"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=False,
    )
    assert run.returncode == 0, run.stderr
    result: dict[str, object] = json.loads(run.stdout)
    return result


def test_sent_notice_is_genuine_and_forgery_is_phishing(ops: Ops, tmp_path: Path) -> None:  # noqa: F811
    mail = tmp_path / "mail"
    run_demo_campaign(ops.home, "agency-2026", mail, Console(file=io.StringIO()))
    sent = sorted(mail.glob("*.eml"))[3]
    genuine = _check(ops.home, sent)
    assert genuine["verdict"] == "genuine", genuine
    forged = tmp_path / "forged.eml"
    raw = sent.read_bytes().decode()
    code = re.search(r"BW-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", raw)
    assert code
    forged.write_text(raw.replace(code.group(0), "BW-AAAA-BBBB-CCCC"), encoding="utf-8")
    assert _check(ops.home, forged)["verdict"] == "phishing"
