"""`breachwatch demo` (what `make run` runs) works end to end and owns only its own workspace."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.notify.servers import free_port


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BREACHWATCH_")}
    env.update({"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "COLUMNS": "200"})
    return env


def _demo(tmp_path: Path, *global_options: str) -> subprocess.CompletedProcess[str]:
    env = _env(tmp_path)
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
    assert "private lookup index" in result.stdout
    assert "approved by" in result.stdout and "messages sent" in result.stdout
    assert (tmp_path / "demo-data" / "report" / "report.pdf").is_file()
    assert len(list((tmp_path / "demo-data" / "mail").glob("*.eml"))) > 600
    assert (tmp_path / "workspace-demo" / "lookup" / "agency-2026.index").is_file()
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


def _read_until(proc: subprocess.Popen[str], marker: str) -> str:
    """The demo's output up to the line holding ``marker`` (it is already printed once the
    service answers)."""
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if marker in line:
            break
    return "".join(seen)


def test_demo_serves_the_self_check_with_a_local_mailbox(tmp_path: Path) -> None:
    """What `make run` ends with: the service answers and the answer lands in the mailbox."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "breachwatch.cli", "demo", "--people", "400", "--port", str(port)],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the demo did not start serving"
            time.sleep(0.5)
        assert "Operator dashboard" in _read_until(proc, "Ctrl-C")
        r = httpx.post(f"{url}/check", data={"contact": "someone@example.org", "lang": "en"})
        assert r.status_code == 200 and "a message is on its way" in r.text
        mailbox = tmp_path / "demo-data" / "mailbox"
        while not list(mailbox.glob("*.eml")):
            assert time.monotonic() < deadline, "no answer reached the demo mailbox"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
