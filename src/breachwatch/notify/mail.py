"""E-mail for campaigns: a fast MIME composer, optional DKIM, a pool of reused SMTP connections.

``compose`` writes the message bytes directly (multipart/alternative, quoted-printable UTF-8,
RFC 2047 subject): the standard library's ``EmailMessage`` spends more time than the SMTP
exchange itself, and a campaign sends millions. Every line stays 7-bit and under 78 characters,
so the message survives relays without 8BITMIME intact — and so does its DKIM signature.

``SmtpPool`` keeps ``notify_smtp_connections`` aiosmtplib connections open and sends on whichever
is free; a connection the server closed is reopened once per message. Failures are classified as
in ``senders.py``: 5xx about the recipient or content is permanent (the campaign falls back to the
next channel), everything about our own set-up or the server's health is temporary.
"""

from __future__ import annotations

import asyncio
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any

import aiosmtplib

from breachwatch.errors import ConfigError
from breachwatch.notify.senders import (
    SendResult,
    _check_smtp_config,
    _check_smtp_login,
    _redact,
    smtp_tls_context,
)

CRLF = b"\r\n"


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str | None
    reference: str
    language: str


class DkimSigner:
    """DKIM (RFC 6376) with dkimpy: relaxed/simple canonicalisation over the headers a replay
    would want to change."""

    HEADERS = [b"from", b"to", b"subject", b"date", b"message-id", b"mime-version",
               b"content-type", b"content-language", b"auto-submitted"]  # fmt: skip

    def __init__(self, key_file: Path, selector: str, domain: str) -> None:
        try:
            self.key = key_file.read_bytes()
        except OSError as exc:
            raise ConfigError(f"dkim_key_file {key_file}: cannot read: {exc}") from None
        self.algorithm = b"ed25519-sha256" if b"BEGIN PRIVATE KEY" in self.key else b"rsa-sha256"
        if self.algorithm == b"ed25519-sha256":
            self.key = _ed25519_seed(self.key)
        self.selector, self.domain = selector.encode(), domain.encode()

    def sign(self, message: bytes) -> bytes:
        import dkim

        header = dkim.sign(
            message,
            self.selector,
            self.domain,
            self.key,
            include_headers=self.HEADERS,
            signature_algorithm=self.algorithm,
        )
        return bytes(header) + message


def _ed25519_seed(pem: bytes) -> bytes:
    """dkimpy wants an Ed25519 key as its base64 raw seed."""
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError("dkim_key_file: expected an RSA or Ed25519 private key")
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return base64.b64encode(raw)


def _qp(text: str) -> bytes:
    body = text.replace("\r\n", "\n").replace("\r", "\n")
    encoded = binascii.b2a_qp(body.encode("utf-8"), quotetabs=False, istext=True, header=False)
    return encoded.replace(b"\n", CRLF)


def _header(name: str, value: str) -> bytes:
    """One header line; a non-ASCII value as RFC 2047 encoded words, a long subject folded."""
    if value.isascii() and (name != "Subject" or len(name) + len(value) < 76):
        return f"{name}: {value}".encode("ascii") + CRLF
    return _encoded_header(name, value)


@lru_cache(maxsize=64)
def _encoded_header(name: str, value: str) -> bytes:
    # A campaign has one subject per language: encoding it once saves most of the composing.
    charset = "us-ascii" if value.isascii() else "utf-8"
    encoded = Header(value, charset, header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}".encode("ascii") + CRLF


class Composer:
    """Message bytes for one sender identity (``smtp_from``)."""

    def __init__(self, from_addr: str, dkim: DkimSigner | None = None) -> None:
        name, address = parseaddr(from_addr)
        self.envelope_from = address
        self.from_header = formataddr((name, address), charset="utf-8")
        self.domain = address.rpartition("@")[2]
        self.dkim = dkim

    def message_id(self, reference: str) -> str:
        return f"<{reference}@{self.domain}>"

    def compose(self, mail: Email, date: datetime | None = None) -> bytes:
        boundary = f"=_bw_{mail.reference}".encode()  # "=_" never occurs in QP text
        head = b"".join(
            [
                _header("From", self.from_header),
                f"To: {mail.to}\r\n".encode(),  # an address; UTF-8 only with SMTPUTF8
                _header("Subject", mail.subject),
                _header("Date", format_datetime(date or datetime.now(UTC))),
                _header("Message-ID", self.message_id(mail.reference)),
                _header("Auto-Submitted", "auto-generated"),  # RFC 3834: no holiday replies
                _header("Content-Language", mail.language),
                b"MIME-Version: 1.0\r\n",
            ]
        )
        text_part = (
            b'Content-Type: text/plain; charset="utf-8"\r\n'
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + _qp(mail.text)
        )
        if mail.html is None:
            message = head + text_part
        else:
            html_part = (
                b'Content-Type: text/html; charset="utf-8"\r\n'
                b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + _qp(mail.html)
            )
            message = head + b"".join(
                [
                    b'Content-Type: multipart/alternative; boundary="' + boundary + b'"\r\n\r\n',
                    b"--" + boundary + CRLF + text_part + CRLF,
                    b"--" + boundary + CRLF + html_part + CRLF,
                    b"--" + boundary + b"--" + CRLF,
                ]
            )
        return self.dkim.sign(message) if self.dkim else message


class SmtpPool:
    """``connections`` reused SMTP connections; ``send`` is safe to call concurrently."""

    def __init__(
        self,
        host: str,
        port: int,
        from_addr: str,
        *,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10,
        connections: int = 4,
        ca_file: str | None = None,
    ) -> None:
        self.envelope_from = _check_smtp_config(host, port, from_addr, timeout)
        _check_smtp_login(host, starttls, username, password)
        if connections < 1:
            raise ConfigError("notify_smtp_connections must be at least 1")
        self._options: dict[str, Any] = {
            "hostname": host,
            "port": port,
            "timeout": timeout,
            "start_tls": starttls,
            "username": username or None,
            "password": password or None,
            "tls_context": smtp_tls_context(ca_file) if starttls else None,
        }
        self.size = connections
        self._idle: asyncio.Queue[aiosmtplib.SMTP | None] | None = None

    def _pool(self) -> asyncio.Queue[aiosmtplib.SMTP | None]:
        if self._idle is None:
            self._idle = asyncio.Queue()
            for _ in range(self.size):
                self._idle.put_nowait(None)
        return self._idle

    async def send(self, to: str, data: bytes) -> SendResult:
        pool = self._pool()
        client = await pool.get()
        try:
            client, result = await self._deliver(client, to, data)
        finally:
            pool.put_nowait(client)
        return result

    async def close(self) -> None:
        if self._idle is None:
            return
        while not self._idle.empty():
            client = self._idle.get_nowait()
            if client is not None and client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()

    async def _deliver(
        self, client: aiosmtplib.SMTP | None, to: str, data: bytes
    ) -> tuple[aiosmtplib.SMTP | None, SendResult]:
        options = ["SMTPUTF8"] if not to.isascii() else None
        for attempt in (1, 2):
            if client is None or not client.is_connected:
                client = aiosmtplib.SMTP(**self._options)
                try:
                    await client.connect()
                except aiosmtplib.SMTPAuthenticationError as exc:
                    client.close()
                    return None, _failure(False, f"SMTP login refused: {_answer(exc)}")
                except (aiosmtplib.SMTPException, OSError) as exc:
                    client.close()
                    return None, _failure(False, f"cannot connect to the SMTP server: {_text(exc)}")
            try:
                await client.sendmail(self.envelope_from, [to], data, mail_options=options)
            except aiosmtplib.SMTPServerDisconnected as exc:
                client.close()
                client = None
                if attempt == 2:  # a resend carries the same Message-ID anyway
                    return None, _failure(False, f"SMTP connection lost: {_text(exc)}")
                continue
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code == 421:  # closing the channel
                    client.close()
                    client = None
                    if attempt == 1:
                        continue
                return client, _refusal(exc)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                first = exc.recipients[0]
                return client, _refusal(first)
            except (aiosmtplib.SMTPException, OSError) as exc:  # a timeout: the state is unknown
                client.close()
                return None, _failure(False, f"SMTP error: {_text(exc)}")
            return client, SendResult(accepted=True)
        return client, _failure(False, "SMTP connection lost")


def _refusal(exc: aiosmtplib.SMTPResponseException) -> SendResult:
    answer = _answer(exc)
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return _failure(False, f"SMTP sender address refused: {answer} (smtp_from)")
    permanent = 500 <= exc.code < 600
    return _failure(permanent, f"SMTP server refused the message: {answer}")


def _answer(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {_redact(exc.message)}".strip()


def _text(exc: BaseException) -> str:
    return _redact(str(exc)) or type(exc).__name__


def _failure(permanent: bool, detail: str) -> SendResult:
    return SendResult(accepted=False, permanent=permanent, detail=detail)


def pool_from_settings(settings: dict[str, Any]) -> tuple[SmtpPool, Composer] | None:
    """The SMTP pool and composer, or None when e-mail is not configured (``smtp_host``)."""
    if not settings.get("smtp_host"):
        return None
    pool = SmtpPool(
        str(settings["smtp_host"]),
        int(settings["smtp_port"]),
        str(settings["smtp_from"]),
        starttls=bool(settings["smtp_starttls"]),
        username=str(settings["smtp_username"]) or None,
        password=str(settings["smtp_password"]) or None,
        timeout=float(settings["smtp_timeout"]),
        connections=int(settings["notify_smtp_connections"]),
        ca_file=str(settings["smtp_ca_file"]) or None,
    )
    dkim = None
    if settings.get("dkim_key_file"):
        domain = pool.envelope_from.rpartition("@")[2]
        dkim = DkimSigner(
            Path(str(settings["dkim_key_file"])), str(settings["dkim_selector"]), domain
        )
    return pool, Composer(str(settings["smtp_from"]), dkim)
