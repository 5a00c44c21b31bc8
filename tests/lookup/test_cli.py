"""The lookup commands from the shell: index, partner, audit, serve's checks; and the
non-sensitive breach shown on screen."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from breachwatch.lookup.index import build_index
from breachwatch.settings import load_settings
from breachwatch.store.workspace import open_workspace
from breachwatch.web.app import create_app
from tests.lookup.conftest import Indexed, pin_keys
from tests.notify.servers import SmtpServer

BW = str(Path(sys.executable).with_name("breachwatch"))


def _bw(indexed: Indexed, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BREACHWATCH_")}
    return subprocess.run(
        [BW, "-w", str(indexed.home), *args],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "200"},
        check=False,
        timeout=300,
    )


def test_index_command_prints_one_json_object(indexed: Indexed) -> None:
    run = _bw(indexed, "index", "--breach", "agency-2026", "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["people"] == indexed.summary.people
    assert data["entries"] == indexed.summary.entries
    assert data["key_id"] == indexed.summary.key_id  # same key: a rebuild, not a rotation
    assert data["sensitive"] is True


def test_index_of_unknown_breach_is_a_clear_error(indexed: Indexed) -> None:
    run = _bw(indexed, "index", "--breach", "nope")
    assert run.returncode == 2
    assert "not an ingested leak" in run.stderr and "Traceback" not in run.stderr


def test_partner_lifecycle(indexed: Indexed) -> None:
    added = _bw(indexed, "partner", "add", "Banque Test", "--quota", "10")
    assert added.returncode == 0, added.stderr
    key = added.stdout.strip().splitlines()[-1]
    assert key.startswith("bwp_") and len(key) > 40
    listed = json.loads(_bw(indexed, "partner", "list", "--json").stdout)
    assert {"name": "Banque Test", "quota_per_day": 10, "revoked": False}.items() <= next(
        p for p in listed if p["name"] == "Banque Test"
    ).items()
    again = _bw(indexed, "partner", "add", "Banque Test")
    assert again.returncode == 2 and "exists already" in again.stderr
    assert _bw(indexed, "partner", "revoke", "Banque Test").returncode == 0
    listed = json.loads(_bw(indexed, "partner", "list", "--json").stdout)
    assert next(p for p in listed if p["name"] == "Banque Test")["revoked"] is True
    missing = _bw(indexed, "partner", "revoke", "Nobody")
    assert missing.returncode == 2 and "no partner named" in missing.stderr
    # The key is stored hashed only.
    assert key.encode() not in (indexed.home / "state.db").read_bytes()
    verify = json.loads(_bw(indexed, "audit", "verify", "--json").stdout)
    assert verify["ok"] is True and verify["entries"] >= 2


def test_serve_with_several_workers_needs_redis(indexed: Indexed) -> None:
    run = _bw(indexed, "serve", "--workers", "2")
    assert run.returncode == 2 and "redis_url" in run.stderr


def test_commands_outside_a_workspace_fail_clearly(tmp_path: Path) -> None:
    run = subprocess.run(
        [BW, "-w", str(tmp_path / "none"), "partner", "list"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "300"},
        check=False,
    )
    assert run.returncode != 0 and "not a breachwatch workspace" in run.stderr
    assert "Traceback" not in run.stderr


def test_non_sensitive_breach_is_shown_on_screen(
    indexed: Indexed, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    home = tmp_path / "ws"
    shutil.copytree(indexed.home, home)
    keys = tmp_path / "keys"
    keys.mkdir()
    shutil.copy(Path(str(indexed.settings()["lookup_key_file"])), keys / "lookup.key")
    pin_keys(home, keys, Path(str(indexed.settings()["key_file"])))
    with open_workspace(home) as ws:
        summary = build_index(ws, "telecom-2023", sensitive=False, workers=1)
        row = ws.con.execute(
            "SELECT r.email FROM affected a JOIN records r ON r.record_uid = a.registry_uid "
            "WHERE a.breach = 'telecom-2023' AND r.email_valid LIMIT 1"
        ).fetchone()
    assert summary.sensitive is False and row is not None
    settings = load_settings(home)
    settings.update(smtp_host=smtp_server.host, smtp_port=smtp_server.port, redis_url="")
    with TestClient(create_app(settings)) as client:
        shown = client.post("/check", data={"contact": row[0], "lang": "en"})
        hidden = client.post("/check", data={"contact": "nobody.x@example.org", "lang": "en"})
    assert "telecom-2023" in shown.text and "e-mail address" in shown.text
    assert "agency-2026" not in shown.text  # the sensitive breach never appears on screen
    assert "telecom-2023" not in hidden.text
