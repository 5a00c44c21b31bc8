"""``breachwatch phishing check`` as a person runs it: a real process, stdin, files, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import DATA

PHISHING_SMS = (
    "France Travail : votre dossier sera radié sous 48h. Mettez à jour votre dossier sur "
    "https://francetravail-aide.fr/connexion"
)


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "breachwatch.cli", "phishing", "check", *args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_json_from_stdin_is_one_object() -> None:
    done = run("--json", "-", stdin=PHISHING_SMS.encode())
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["verdict"] == "phishing" and data["score"] == 100
    codes = {r["code"] for r in data["reasons"]}
    assert {"domain_added_words", "lure_threat", "lure_update_file"} <= codes


def test_rich_output_in_english_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "sms.txt"
    path.write_text(PHISHING_SMS, encoding="utf-8")
    done = run(str(path), "--lang", "en")
    text = done.stdout.decode()
    assert done.returncode == 0 and "PHISHING" in text and "added words" in text


def test_eml_file(tmp_path: Path) -> None:
    eml = tmp_path / "message.eml"
    eml.write_bytes(
        b"Authentication-Results: mx.example.org; spf=fail smtp.mailfrom=evil.example; "
        b"dkim=none; dmarc=fail header.from=francetravail.fr\r\n"
        b"From: France Travail <contact@francetravail.fr>\r\nTo: a@example.org\r\n"
        b"Subject: =?utf-8?q?Versement_bloqu=C3=A9?=\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + "Confirmez vos coordonnées bancaires.\r\n".encode()
    )
    data = json.loads(run("--json", str(eml)).stdout)
    assert data["kind"] == "email" and data["verdict"] == "phishing"
    assert "auth_official_spoof" in {r["code"] for r in data["reasons"]}


def test_genuine_message_in_french() -> None:
    done = run(
        "--sender", "FranceTrav", stdin="France Travail : pensez à vous actualiser.".encode()
    )
    assert done.returncode == 0 and "AUTHENTIQUE" in done.stdout.decode()


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["/nonexistent/message.eml"], b"", "no such file"),
        (["-"], b"", "empty message"),
        (["-"], b"caf\xe9", "not UTF-8"),
        (["-"], b"\x00\x01\x02", "binary"),
        (["--kind", "fax", "-"], b"x", "--kind"),
        (["--lang", "de", "-"], b"x", "--lang"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    args: list[str], stdin: bytes, message: str
) -> None:
    done = run(*args, stdin=stdin)
    stderr = done.stderr.decode()
    assert done.returncode == 2, stderr
    assert message in stderr and "Traceback" not in stderr and done.stdout == b""


def test_directory_is_a_clear_error(tmp_path: Path) -> None:
    done = run(str(tmp_path))
    assert done.returncode == 2 and "directory" in done.stderr.decode()


def test_evaluation_sample_via_cli_matches_the_library() -> None:
    line = (DATA / "eval_set.jsonl").read_text(encoding="utf-8").splitlines()[0]
    sample = json.loads(line)
    data = json.loads(run("--json", "-", stdin=sample["text"].encode()).stdout)
    assert data["verdict"] in ("suspicious", "phishing")
