"""SMS receipts and provider trouble, e-mail bounces (RFC 3464) and DKIM, printed letters."""

from __future__ import annotations

import base64
import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from breachwatch.notify.letters import print_letters
from breachwatch.notify.runner import run_campaign, status_report
from breachwatch.notify.web import receipts_router
from breachwatch.store.workspace import open_workspace

from .campaigns import APPROVER, approve, base_settings, make_home, plan
from .servers import SmsProvider, SmtpServer

TOKEN = "receipt-token-0123456789abcdef"


def by_channel(settings: dict[str, Any]) -> dict[str, dict[str, int]]:
    return status_report(settings, "c1").to_json()["by_channel"]  # type: ignore[no-any-return]


@pytest.fixture
def receipts(
    tmp_path: Path, sms_provider: SmsProvider
) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    home, settings = make_home(
        tmp_path, 40, **base_settings(sms=sms_provider, notify_receipt_token=TOKEN)
    )
    plan(home, channels=("sms", "letter"))
    yield TestClient(_app(settings)), settings


def _app(settings: dict[str, Any]) -> FastAPI:
    app = FastAPI()
    app.include_router(receipts_router(settings))
    return app


def test_sms_provider_trouble_is_retried(
    tmp_path: Path, sms_provider: SmsProvider, smtp_server: SmtpServer
) -> None:
    home, settings = make_home(tmp_path, 40, **base_settings(smtp_server, sms_provider))
    plan(home, channels=("sms",))
    approve(settings)
    sms_provider.respond_next(429, {"error": "rate_limited"}, headers={"Retry-After": "1"})
    sms_provider.respond_next(503, None)
    sms_provider.delay_next(3)  # longer than sms_timeout: the client gives up
    sms_provider.respond_next(400, {"error": "invalid_number"})  # permanent, no fallback
    summary = run_campaign(settings, "c1", operator=APPROVER)
    mobiles = [i for i in range(40) if i % 5 == 0 or i % 20 == 9]
    assert summary.outcomes["temporary_failure"] >= 3
    assert by_channel(settings)["sms"] == {"sent": len(mobiles) - 1, "permanent_failure": 1}
    references = [r.body["client_reference"] for r in sms_provider.requests]
    assert len(set(references)) == len(mobiles)  # a retry reuses its client reference


def test_receipts_update_statuses(receipts: tuple[TestClient, dict[str, Any]]) -> None:
    client, settings = receipts
    approve(settings, seeds=["+33612345678"])
    run_campaign(settings, "c1", operator=APPROVER)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    letters = by_channel(settings)["letter"]["queued"]
    answer = client.post(
        "/api/v1/notify/receipts",
        json=[
            {"client_reference": "bw-1-1000-sms", "status": "delivered", "id": "sms-1"},
            {"client_reference": "bw-1-1005-sms", "status": "failed", "error": "absent"},
            {"client_reference": "bw-1-1010-sms", "status": "expired"},
            {"client_reference": "bw-1-999999-sms", "status": "delivered"},  # unknown
            {"client_reference": "nonsense", "status": "delivered"},
        ],
        headers=auth,
    )
    assert answer.status_code == 200 and answer.json() == {"applied": 3, "ignored": 2}
    counts = by_channel(settings)
    assert counts["sms"]["delivered"] == 1 and counts["sms"]["temporary_failure"] == 1
    assert counts["letter"]["queued"] == letters + 1  # the failed SMS fell back to a letter
    # A late receipt for the channel the person has left is acknowledged and ignored.
    late = {"client_reference": "bw-1-1005-sms", "status": "delivered"}
    assert client.post("/api/v1/notify/receipts", json=late, headers=auth).json() == {
        "applied": 0,
        "ignored": 1,
    }
    wrong = client.post("/api/v1/notify/receipts", json=late, headers={"Authorization": "Bearer x"})
    assert wrong.status_code == 401
    assert client.post("/api/v1/notify/receipts", json=late).status_code == 401
    disabled = TestClient(_app({**settings, "notify_receipt_token": ""}))
    assert disabled.post("/api/v1/notify/receipts", json=late, headers=auth).status_code == 401


def _dsn(message_id: str, action: str = "failed", status: str = "5.1.1") -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example.net\r\nTo: bounces@example.org\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        "Final-Recipient: rfc822; p0@example.net\r\n"
        f"Action: {action}\r\nStatus: {status}\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <p0@example.net>: user unknown\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {message_id}\r\nSubject: x\r\n\r\n--B--\r\n"
    ).encode()


def test_bounces_become_permanent_failures(
    tmp_path: Path, smtp_server: SmtpServer, sms_provider: SmsProvider
) -> None:
    bounces = tmp_path / "bounces"
    bounces.mkdir()
    home, settings = make_home(
        tmp_path, 20, **base_settings(smtp_server, sms_provider, notify_bounce_dir=str(bounces))
    )
    plan(home)
    approve(settings)
    run_campaign(settings, "c1", operator=APPROVER)
    (bounces / "1.eml").write_bytes(_dsn("<bw-1-1000-email@example.org>"))  # has a mobile
    (bounces / "2.eml").write_bytes(_dsn("<bw-1-1001-email@example.org>"))  # letter next
    (bounces / "3.eml").write_bytes(_dsn("<bw-1-1002-email@example.org>", "delayed", "4.4.1"))
    (bounces / "4.eml").write_bytes(b"Subject: out of office\r\n\r\nI am away.\r\n")
    summary = run_campaign(settings, "c1", operator=APPROVER)
    assert summary.bounces == 2
    counts = by_channel(settings)
    assert counts["email"] == {"sent": 16}  # 18 e-mails, 2 bounced
    assert counts["sms"]["sent"] == 2  # the planned SMS and the bounced e-mail's fallback
    assert counts["letter"] == {"queued": 1}
    assert sorted(p.name for p in (bounces / "processed").iterdir()) == ["1.eml", "2.eml", "3.eml"]
    assert [p.name for p in (bounces / "ignored").iterdir()] == ["4.eml"]


def test_dkim_signature_verifies(tmp_path: Path, smtp_server: SmtpServer) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "dkim.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    public = base64.b64encode(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    home, settings = make_home(
        tmp_path, 10, **base_settings(smtp_server, dkim_key_file=str(pem), dkim_selector="s1")
    )
    plan(home, channels=("email",))
    approve(settings)
    run_campaign(settings, "c1", operator=APPROVER)

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"s1._domainkey.example.org."
        return b"v=DKIM1; k=rsa; p=" + public

    for mail in smtp_server.received:
        assert mail.raw.startswith(b"DKIM-Signature:")
        assert dkim.verify(mail.raw, dnsfunc=dns)
        forged = mail.raw.replace(b"Message-ID: <", b"Message-ID: <x", 1)
        assert forged != mail.raw and not dkim.verify(forged, dnsfunc=dns)


def test_letters_print_as_pdf_batches_with_a_manifest(tmp_path: Path) -> None:
    home, settings = make_home(tmp_path, 30)
    with open_workspace(home) as ws:  # a spreadsheet formula where an address should be
        ws.con.execute(
            "UPDATE records SET postal_address = '=HYPERLINK(\"x\")' WHERE record_id = 'P3'"
        )
    plan(home, channels=("letter",))
    approve_letters = pytest.raises(Exception, match="approved")
    with approve_letters:
        print_letters(settings, "c1", tmp_path / "print")
    from breachwatch.notify import campaign as campaigns
    from breachwatch.notify import review

    review.preview(settings, "c1", None, "alice")
    campaigns.record_test_send(settings, "c1", "alice", 1, 0)
    campaigns.approve(settings, "c1", APPROVER)
    summary = print_letters(settings, "c1", tmp_path / "print", batch_size=12)
    assert summary.letters == 29 and len(summary.files) == 3  # P19 has no address
    assert all(Path(f).read_bytes().startswith(b"%PDF") for f in summary.files)
    manifest = tmp_path / "print" / "manifest.csv"
    assert manifest.stat().st_mode & 0o777 == 0o600
    with manifest.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 29 and rows[0]["file"] == "letters-00001.pdf"
    assert rows[0]["first_page"] == "1" and int(rows[0]["pages"]) >= 1
    starts = [int(r["first_page"]) for r in rows if r["file"] == "letters-00001.pdf"]
    assert starts == sorted(starts) and len(set(starts)) == 12
    p3 = next(r for r in rows if r["reference"] == "bw-1-1003-letter")
    assert p3["address"].startswith("'=")  # neutralised for spreadsheets
    assert by_channel(settings)["letter"] == {"sent": 29}
    assert print_letters(settings, "c1", tmp_path / "print").letters == 0  # printed once
