"""STARTTLS against a real aiosmtpd server that requires it, with certificates of a test CA.

Both e-mail paths: the self-check's answers (``SmtpSender``, smtplib) and the campaigns'
pooled connections (``SmtpPool``, aiosmtplib). The server refuses everything before STARTTLS,
AUTH included, so a message that arrives went over TLS; ``smtp_ca_file`` names the CA to trust.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from breachwatch.errors import ConfigError
from breachwatch.notify.mail import SmtpPool
from breachwatch.notify.senders import SendResult, SmtpSender, sender_from_settings

from .servers import SmtpServer
from .test_senders import FROM, email

CREDENTIALS = ("bw", "s3cret")
RAW = b"Subject: notice\r\nFrom: breachwatch@example.org\r\n\r\nBonjour\r\n"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "relay-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[SmtpServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = SmtpServer(credentials=CREDENTIALS, tls=context)
    server.start()
    yield server
    server.stop()


# How both paths connect unless a test says otherwise: STARTTLS, then the login.
LOGIN: dict[str, object] = {
    "starttls": True, "username": CREDENTIALS[0], "password": CREDENTIALS[1]
}  # fmt: skip


def _sender(server: SmtpServer, **options: object) -> SmtpSender:
    return SmtpSender(server.host, server.port, FROM, timeout=5, **(LOGIN | options))  # type: ignore[arg-type]


def _pool_send(server: SmtpServer, **options: object) -> SendResult:
    async def send() -> SendResult:
        pool = SmtpPool(server.host, server.port, FROM, timeout=5, connections=2,
                        **(LOGIN | options))  # type: ignore[arg-type]  # fmt: skip
        try:
            return await pool.send("eloise.dupre@example.net", RAW)
        finally:
            await pool.close()

    return asyncio.run(send())


def test_self_check_answer_goes_over_starttls(tls_server: SmtpServer, ca_file: str) -> None:
    with _sender(tls_server, ca_file=ca_file) as sender:
        assert sender.send(email()).accepted
        assert sender.send(email("selfcheck-2")).accepted
    assert [m.tls for m in tls_server.received] == [True, True]


def test_campaign_pool_goes_over_starttls(tls_server: SmtpServer, ca_file: str) -> None:
    assert _pool_send(tls_server, ca_file=ca_file).accepted
    assert [m.tls for m in tls_server.received] == [True]


def test_settings_carry_the_ca_file(tls_server: SmtpServer, ca_file: str) -> None:
    user, password = CREDENTIALS
    settings = {
        "smtp_host": tls_server.host, "smtp_port": tls_server.port, "smtp_from": FROM,
        "smtp_starttls": True, "smtp_username": user, "smtp_password": password,
        "smtp_ca_file": ca_file,
    }  # fmt: skip
    sender = sender_from_settings(settings)["email"]
    try:
        assert sender.send(email()).accepted
    finally:
        sender.close()
    assert tls_server.received[0].tls


@pytest.mark.parametrize("path", ["sender", "pool"])
def test_certificate_of_an_untrusted_ca_is_refused(
    tls_server: SmtpServer, tmp_path: Path, path: str
) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    if path == "sender":
        with _sender(tls_server, ca_file=str(other)) as sender:
            result = sender.send(email())
    else:
        result = _pool_send(tls_server, ca_file=str(other))
    # Our set-up, not the person's address: a temporary failure that says why.
    assert not result.accepted and not result.permanent
    assert "certificate verify failed" in result.detail
    assert tls_server.received == []


@pytest.mark.parametrize("path", ["sender", "pool"])
def test_server_requiring_starttls_refuses_a_plain_client(
    tls_server: SmtpServer, path: str
) -> None:
    if path == "sender":
        with SmtpSender(tls_server.host, tls_server.port, FROM, timeout=5) as sender:
            result = sender.send(email())
    else:
        result = _pool_send(tls_server, starttls=False, username=None, password=None)
    assert not result.accepted and not result.permanent
    assert "STARTTLS" in result.detail
    assert tls_server.received == []


def test_ca_file_errors_name_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="smtp_ca_file") as missing:
        SmtpSender("127.0.0.1", 25, FROM, starttls=True, ca_file=str(tmp_path / "none.pem"))
    assert "no such file" in str(missing.value)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="not a readable PEM"):
        SmtpPool("127.0.0.1", 25, FROM, starttls=True, ca_file=str(garbage))
