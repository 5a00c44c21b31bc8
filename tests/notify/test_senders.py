"""E-mail and SMS senders against a real SMTP server and a real HTTP provider on 127.0.0.1."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest

from breachwatch.errors import ConfigError
from breachwatch.notify.senders import (
    HttpSmsSender,
    OutgoingMessage,
    SendResult,
    SmtpSender,
    sender_from_settings,
)

from .servers import SmsProvider, SmtpServer, free_port

ADDRESS = "eloise.dupre@example.net"
PHONE = "+33612345678"
SUBJECT = "Votre vérification : résultat — 5 €"
TEXT = "Bonjour Éloïse,\nvos données (NIR, téléphone) ont fuité. Coût : 0 €.\n"
HTML = "<p>Bonjour <b>Éloïse</b>, coût : 0 €</p>"
FROM = "BreachWatch <breachwatch@example.org>"
API_KEY = "test-api-key"


def email(reference: str = "selfcheck-1", to: str = ADDRESS, **extra: Any) -> OutgoingMessage:
    fields: dict[str, Any] = {"subject": SUBJECT, "text": TEXT} | extra
    return OutgoingMessage(channel="email", to=to, reference=reference, **fields)


def sms(reference: str = "selfcheck-1", to: str = PHONE) -> OutgoingMessage:
    return OutgoingMessage(channel="sms", to=to, text=TEXT, reference=reference)


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")  # the wire's CRLF, read back


def assert_nothing_personal(result: SendResult) -> None:
    for secret in (ADDRESS, "eloise", PHONE, "612345678", "Éloïse", "fuité", API_KEY):
        assert secret not in result.detail


@pytest.fixture
def smtp(smtp_server: SmtpServer) -> Iterator[SmtpSender]:
    with SmtpSender(smtp_server.host, smtp_server.port, FROM, timeout=5, helo="test.local") as s:
        yield s


@pytest.fixture
def sms_sender(sms_provider: SmsProvider) -> Iterator[HttpSmsSender]:
    with HttpSmsSender(sms_provider.url, API_KEY, "BreachWatch", timeout=2) as sender:
        yield sender


# --- e-mail ---------------------------------------------------------------------------------


def test_email_arrives_intact(smtp: SmtpSender, smtp_server: SmtpServer) -> None:
    result = smtp.send(email(html=HTML))
    assert result == SendResult(accepted=True, message_id="<selfcheck-1@example.org>")
    (mail,) = smtp_server.received
    assert mail.mail_from == "breachwatch@example.org" and mail.rcpt_tos == [ADDRESS]
    message = mail.message
    assert message["Subject"] == SUBJECT
    assert message["From"] == FROM and message["To"] == ADDRESS
    assert message["Message-ID"] == "<selfcheck-1@example.org>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Content-Language"] == "fr"
    assert message["Date"].datetime.tzinfo is not None
    assert body(message, "plain") == TEXT
    assert body(message, "html").strip() == HTML
    assert max(len(line) for line in mail.raw.splitlines()) <= 998  # RFC 5322 line limit
    assert mail.raw.isascii()  # 7-bit all the way: survives relays without 8BITMIME


def test_text_only_email_is_a_single_part(smtp: SmtpSender, smtp_server: SmtpServer) -> None:
    assert smtp.send(email()).accepted
    message = smtp_server.received[0].message
    assert not message.is_multipart()
    assert body(message, "plain") == TEXT


def test_message_id_is_deterministic(smtp: SmtpSender, smtp_server: SmtpServer) -> None:
    first = smtp.send(email("campaign-7.person-42.1"))
    resend = smtp.send(email("campaign-7.person-42.1"))
    other = smtp.send(email("campaign-7.person-43.1"))
    assert first.message_id == resend.message_id == "<campaign-7.person-42.1@example.org>"
    assert other.message_id != first.message_id
    ids = [mail.message["Message-ID"] for mail in smtp_server.received]
    assert ids == [first.message_id, first.message_id, other.message_id]


def test_one_connection_for_several_messages(smtp: SmtpSender, smtp_server: SmtpServer) -> None:
    for n in range(4):
        assert smtp.send(email(f"ref-{n}")).accepted
    assert smtp_server.connections == 1
    assert {mail.connection for mail in smtp_server.received} == {1}


def test_reconnects_after_a_server_restart(
    smtp: SmtpSender,
    smtp_server: SmtpServer,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="breachwatch")
    assert smtp.send(email("ref-1")).accepted
    smtp_server.restart()
    assert smtp.send(email("ref-2")).accepted
    assert smtp.send(email("ref-3")).accepted
    assert [mail.connection for mail in smtp_server.received] == [1, 2, 2]
    assert ADDRESS not in caplog.text and "Éloïse" not in caplog.text
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("reply", "stage", "permanent"),
    [
        (f"550 5.1.1 <{ADDRESS}>: Recipient address rejected: User unknown", "rcpt", True),
        ("451 4.3.0 Temporary lookup failure", "rcpt", False),
        ("554 5.7.1 Message content rejected", "data", True),
        ("452 4.3.1 Insufficient system storage", "data", False),
    ],
)
def test_refusals(
    smtp: SmtpSender, smtp_server: SmtpServer, reply: str, stage: Any, permanent: bool
) -> None:
    smtp_server.fail_next(reply, stage=stage)
    result = smtp.send(email())
    assert not result.accepted and result.permanent is permanent
    assert reply[:3] in result.detail and result.message_id == "<selfcheck-1@example.org>"
    assert_nothing_personal(result)
    assert smtp.send(email()).accepted  # the connection survives a refusal
    assert smtp_server.connections == 1


def test_sender_refused_is_temporary(smtp: SmtpSender, smtp_server: SmtpServer) -> None:
    # Our own address refused concerns every message, not this person's: never permanent.
    smtp_server.fail_next("553 5.7.1 Sender address rejected", stage="mail")
    result = smtp.send(email())
    assert not result.accepted and not result.permanent and "smtp_from" in result.detail


def test_421_on_a_reused_connection_reconnects(smtp: SmtpSender, smtp_server: SmtpServer) -> None:
    # Postfix says "421 timeout exceeded" and hangs up on an idle client.
    assert smtp.send(email("ref-1")).accepted
    smtp_server.fail_next("421 4.4.2 Error: timeout exceeded", stage="mail")
    assert smtp.send(email("ref-2")).accepted
    assert [mail.connection for mail in smtp_server.received] == [1, 2]


def test_421_on_a_new_connection_is_temporary(smtp: SmtpSender, smtp_server: SmtpServer) -> None:
    smtp_server.fail_next("421 4.3.2 Service shutting down", stage="rcpt")
    result = smtp.send(email())
    assert not result.accepted and not result.permanent and "421" in result.detail
    assert smtp.send(email()).accepted


def test_server_down_is_a_temporary_failure() -> None:
    with SmtpSender("127.0.0.1", free_port(), FROM, timeout=2) as sender:
        result = sender.send(email())
    assert not result.accepted and not result.permanent
    assert "connect" in result.detail
    assert_nothing_personal(result)


def test_server_gone_after_a_send_is_a_temporary_failure(
    smtp: SmtpSender, smtp_server: SmtpServer
) -> None:
    assert smtp.send(email("ref-1")).accepted
    smtp_server.stop()
    result = smtp.send(email("ref-2"))
    assert not result.accepted and not result.permanent
    smtp_server.start()
    assert smtp.send(email("ref-3")).accepted


def test_invalid_address_is_permanent_and_nothing_is_sent(
    smtp: SmtpSender, smtp_server: SmtpServer
) -> None:
    for bad in ("not-an-address", "a@b.org, c@d.org", "Éloïse <eloise@example.net>"):
        result = smtp.send(email(to=bad))
        assert not result.accepted and result.permanent
        assert bad not in result.detail
    assert smtp_server.received == [] and smtp_server.connections == 0


def test_international_address_goes_through_smtputf8(
    smtp: SmtpSender, smtp_server: SmtpServer
) -> None:
    assert smtp.send(email(to="éloïse@exemple.fr")).accepted
    assert smtp_server.received[0].rcpt_tos == ["éloïse@exemple.fr"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login() -> None:
    server = SmtpServer(credentials=("bw", "s3cret"))
    server.start()
    try:
        with SmtpSender(server.host, server.port, FROM, username="bw", password="s3cret") as ok:
            assert ok.send(email()).accepted
        with SmtpSender(server.host, server.port, FROM, username="bw", password="wrong") as bad:
            result = bad.send(email())
    finally:
        server.stop()
    # A wrong password is our set-up, not the person's address: temporary, never permanent.
    assert not result.accepted and not result.permanent
    assert "login refused" in result.detail and "wrong" not in result.detail


def test_safe_under_concurrent_sends(smtp: SmtpSender, smtp_server: SmtpServer) -> None:
    results: list[SendResult] = []

    def worker(n: int) -> None:
        results.extend(smtp.send(email(f"t{n}-{i}")) for i in range(5))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 20 and all(r.accepted for r in results)
    assert len(smtp_server.received) == 20 and smtp_server.connections == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"host": ""}, "smtp_host"),
        ({"port": 0}, "smtp_port"),
        ({"from_addr": "nobody"}, "smtp_from"),
        ({"from_addr": "a@b.org\r\nBcc: x@y.org"}, "smtp_from"),
        ({"timeout": 0}, "smtp_timeout"),
        ({"username": "bw"}, "smtp_password"),
        ({"host": "smtp.example.org", "username": "bw", "password": "pw"}, "smtp_starttls"),
    ],
)
def test_smtp_configuration_errors(kwargs: dict[str, Any], message: str) -> None:
    config: dict[str, Any] = {"host": "127.0.0.1", "port": 25, "from_addr": FROM} | kwargs
    with pytest.raises(ConfigError, match=message):
        SmtpSender(**config)


# --- SMS ------------------------------------------------------------------------------------


def test_sms_posts_json_with_the_bearer_key(
    sms_sender: HttpSmsSender, sms_provider: SmsProvider
) -> None:
    result = sms_sender.send(sms(to="+33 6 12 34 56 78"))
    assert result == SendResult(accepted=True, provider_id="sms-1")
    (request,) = sms_provider.requests
    assert request.path == "/v1/sms"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.body == {
        "to": PHONE,
        "from": "BreachWatch",
        "text": TEXT,
        "client_reference": "selfcheck-1",
    }


def test_sms_accepted_without_an_id(sms_sender: HttpSmsSender, sms_provider: SmsProvider) -> None:
    sms_provider.respond_next(202, body=None)
    assert sms_sender.send(sms()) == SendResult(accepted=True)


@pytest.mark.parametrize(
    ("status", "body", "permanent"),
    [
        (429, {"error": "rate_limited"}, False),
        (500, {"error": "internal"}, False),
        (503, None, False),
        (400, {"error": "invalid_number", "message": f"{PHONE} is not reachable"}, True),
        (422, {"message": f"text for {PHONE} rejected: {TEXT}"}, True),
        (401, {"error": "unauthorized"}, False),  # our key, not the person's number
    ],
)
def test_sms_failures(
    sms_sender: HttpSmsSender,
    sms_provider: SmsProvider,
    status: int,
    body: Any,
    permanent: bool,
) -> None:
    sms_provider.respond_next(status, body)
    result = sms_sender.send(sms())
    assert not result.accepted and result.permanent is permanent
    assert str(status) in result.detail
    assert_nothing_personal(result)


def test_sms_retry_after_is_passed_on(sms_sender: HttpSmsSender, sms_provider: SmsProvider) -> None:
    sms_provider.respond_next(429, {"error": "rate_limited"}, headers={"Retry-After": "7"})
    result = sms_sender.send(sms())
    assert not result.permanent and result.retry_after == 7.0
    assert "rate_limited" in result.detail


def test_sms_timeout_is_temporary(sms_provider: SmsProvider) -> None:
    sms_provider.delay_next(3)
    with HttpSmsSender(sms_provider.url, API_KEY, "BreachWatch", timeout=0.3) as sender:
        result = sender.send(sms("ref-1"))
        assert not result.accepted and not result.permanent and "timed out" in result.detail
        assert sender.send(sms("ref-2")).accepted


def test_sms_provider_down_is_temporary() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1/sms"
    with HttpSmsSender(url, API_KEY, "BreachWatch", timeout=2) as sender:
        result = sender.send(sms())
    assert not result.accepted and not result.permanent
    assert_nothing_personal(result)


def test_sms_invalid_number_is_permanent_and_nothing_is_posted(
    sms_sender: HttpSmsSender, sms_provider: SmsProvider
) -> None:
    for bad in ("0612345678", "+33 12", "call me"):
        result = sms_sender.send(sms(to=bad))
        assert not result.accepted and result.permanent
    assert sms_provider.requests == []


def test_sms_connection_is_reused(sms_sender: HttpSmsSender, sms_provider: SmsProvider) -> None:
    for n in range(3):
        assert sms_sender.send(sms(f"ref-{n}")).accepted
    assert len({request.client_port for request in sms_provider.requests}) == 1


def test_sms_safe_under_concurrent_sends(
    sms_sender: HttpSmsSender, sms_provider: SmsProvider
) -> None:
    results: list[SendResult] = []

    def worker(n: int) -> None:
        results.extend(sms_sender.send(sms(f"t{n}-{i}")) for i in range(5))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 20 and all(r.accepted for r in results)
    references = sorted(request.body["client_reference"] for request in sms_provider.requests)
    assert references == sorted(f"t{n}-{i}" for n in range(4) for i in range(5))


@pytest.mark.parametrize(
    ("url", "api_key", "sender_id", "message"),
    [
        ("ftp://sms.example.org/send", API_KEY, "BreachWatch", "sms_url"),
        ("http://sms.example.org/send", API_KEY, "BreachWatch", "https"),
        ("https://sms.example.org/send", "", "BreachWatch", "sms_api_key"),
        ("https://sms.example.org/send", API_KEY, "BreachWatchOfficial", "sms_sender_id"),
    ],
)
def test_sms_configuration_errors(url: str, api_key: str, sender_id: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        HttpSmsSender(url, api_key, sender_id)


# --- settings and messages ------------------------------------------------------------------


def test_senders_from_settings(smtp_server: SmtpServer, sms_provider: SmsProvider) -> None:
    assert sender_from_settings({}) == {}
    senders = sender_from_settings(
        {
            "smtp_host": smtp_server.host,
            "smtp_port": smtp_server.port,
            "sms_url": sms_provider.url,
            "sms_api_key": API_KEY,
        }
    )
    try:
        assert set(senders) == {"email", "sms"}
        assert senders["email"].send(email()).accepted
        assert senders["sms"].send(sms()).accepted
    finally:
        for sender in senders.values():
            sender.close()
    assert smtp_server.received[0].mail_from == "breachwatch@example.org"
    assert sms_provider.requests[0].body["from"] == "BreachWatch"


def test_message_checks_and_repr() -> None:
    message = email(html=HTML)
    assert ADDRESS not in repr(message) and "Éloïse" not in repr(message)
    with pytest.raises(ValueError, match="reference"):
        email(reference="has space")
    with pytest.raises(ValueError, match="reference"):
        email(reference="x" * 65)
    with pytest.raises(ValueError, match="subject"):
        OutgoingMessage(channel="email", to=ADDRESS, text=TEXT, reference="r")
    with pytest.raises(ValueError, match="one line"):
        email(subject="a\r\nBcc: x@example.org")
    with pytest.raises(ValueError, match="channel"):
        OutgoingMessage(channel="fax", to=ADDRESS, text=TEXT, reference="r")  # type: ignore[arg-type]


def test_a_sender_refuses_another_channel(smtp: SmtpSender, sms_sender: HttpSmsSender) -> None:
    with pytest.raises(ValueError, match="email sender"):
        smtp.send(sms())
    with pytest.raises(ValueError, match="sms sender"):
        sms_sender.send(email())
