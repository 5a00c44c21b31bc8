"""Message senders: e-mail over SMTP and SMS over an HTTP provider API, behind one interface.

A send never raises for a delivery problem: it returns a :class:`SendResult` saying whether the
message was accepted and, when it was not, whether trying again can help. ``permanent`` is kept
for failures about *this* recipient or message (a 5xx answer to the recipient or the content, an
invalid address, a 4xx from the SMS provider): the campaign engine falls back to the next channel
on those. Failures of our own set-up (SMTP login or sender address refused, API key refused) are
temporary, so that a wrong password never sends a whole campaign down to postal letters.

Addresses, phone numbers and bodies are personal data: never logged, never in
``SendResult.detail`` (server answers are kept with every address and phone number redacted).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import smtplib
import ssl
import threading
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from types import TracebackType
from typing import Any, Literal, Protocol, Self

import httpx
import phonenumbers

from breachwatch.errors import ConfigError
from breachwatch.settings import SETTINGS

__all__ = [
    "AsyncHttpSmsSender",
    "Channel",
    "HttpSmsSender",
    "OutgoingMessage",
    "SendResult",
    "Sender",
    "SmtpSender",
    "sender_from_settings",
]

logger = logging.getLogger(__name__)

Channel = Literal["email", "sms"]
CHANNELS: tuple[Channel, ...] = ("email", "sms")

# A reference becomes the left part of a Message-ID (an RFC 5322 dot-atom), may become a DSN
# ENVID (RFC 3461 xtext, where "+" and "=" would need escaping) and is an SMS provider's client
# reference (often limited to 64 characters): letters, digits, "_", "-" and inner dots only.
_REFERENCE = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_MAX_REFERENCE = 64
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")  # a BCP 47 tag, roughly
_ADDRESS_PART = r"[^\s@<>()\[\],;:\\\"]+"
_ADDR_SPEC = re.compile(rf"{_ADDRESS_PART}@{_ADDRESS_PART}")
_ANY_ADDRESS = re.compile(r"[^\s<>@\"',;:()\[\]]+@[^\s<>@\"',;:()\[\]]+")
_ANY_NUMBER = re.compile(r"\+?\d[\d .()/-]{5,}\d")
_SAFE_TOKEN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# An alphanumeric SMS sender id has at most 11 characters (GSM 03.40); a numeric one is a phone
# number of at most 15 digits (E.164).
_SENDER_ID = re.compile(r"[A-Za-z0-9 ]{1,11}|\+?[0-9]{3,15}")
_MAX_DETAIL = 200
_DEFAULTS = {s.name: s.default for s in SETTINGS}


@dataclass(frozen=True, kw_only=True)
class OutgoingMessage:
    """One message to one person.

    ``reference`` is the caller's deterministic id of this message, the same on a resend: it
    seeds the e-mail ``Message-ID`` and is the SMS client reference. ``to`` is an e-mail address
    or an E.164 phone number. Personal fields are left out of ``repr``.
    """

    channel: Channel
    to: str = field(repr=False)
    text: str = field(repr=False)
    reference: str
    subject: str = field(default="", repr=False)
    html: str | None = field(default=None, repr=False)
    language: str = "fr"

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"channel must be one of {CHANNELS}, got {self.channel!r}")
        if len(self.reference) > _MAX_REFERENCE or not _REFERENCE.fullmatch(self.reference):
            raise ValueError(
                f"reference {self.reference!r}: expected up to {_MAX_REFERENCE} letters, digits, "
                "'_', '-' and inner dots"
            )
        if not _LANGUAGE.fullmatch(self.language):
            raise ValueError(f"language {self.language!r} is not a language tag")
        if self.channel == "email" and not self.subject.strip():
            raise ValueError("an e-mail needs a subject")
        if "\r" in self.subject or "\n" in self.subject:
            raise ValueError("a subject must be one line")


@dataclass(frozen=True)
class SendResult:
    """What became of one send. ``detail`` never holds personal data.

    ``message_id`` is the e-mail ``Message-ID`` (set for every e-mail, accepted or not);
    ``provider_id`` is the SMS provider's id of an accepted message, when it gives one;
    ``retry_after`` is the provider's requested pause in seconds, when it gives one.
    """

    accepted: bool
    permanent: bool = False
    detail: str = ""
    message_id: str | None = None
    provider_id: str | None = None
    retry_after: float | None = None


class Sender(Protocol):
    """One channel's sender: ``send`` reports every delivery problem in its result."""

    def send(self, msg: OutgoingMessage) -> SendResult: ...

    def close(self) -> None: ...


class _Closing:
    """``with sender:`` closes it on the way out."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _ConnectionLost(Exception):
    """The SMTP connection broke before the server answered; ``result`` reports it."""

    def __init__(self, result: SendResult) -> None:
        super().__init__(result.detail)
        self.result = result


class SmtpSender(_Closing):
    """E-mail over one SMTP connection reused across sends; safe to share between threads."""

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
        helo: str | None = None,
        ca_file: str | None = None,
    ) -> None:
        self._envelope_from = _check_smtp_config(host, port, from_addr, timeout)
        _check_smtp_login(host, starttls, username, password)
        self._tls = smtp_tls_context(ca_file) if starttls else None
        self._host, self._port, self._from_header = host, port, from_addr
        self._starttls, self._username, self._password = starttls, username, password
        self._timeout, self._helo = timeout, helo
        self._domain = self._envelope_from.rpartition("@")[2]
        self._conn: smtplib.SMTP | None = None
        self._lock = threading.Lock()

    def message_id(self, reference: str) -> str:
        """The ``Message-ID`` of the message with this reference: a resend has the same one."""
        return f"<{reference}@{self._domain}>"

    def send(self, msg: OutgoingMessage) -> SendResult:
        _expect_channel(msg, "email")
        message_id = self.message_id(msg.reference)
        recipient = msg.to.strip()
        if not _ADDR_SPEC.fullmatch(recipient):
            return _failure(True, "invalid e-mail address", message_id=message_id)
        email = self._compose(msg, recipient, message_id)
        with self._lock:
            result = self._deliver(email, recipient)
        return replace(result, message_id=message_id)

    def close(self) -> None:
        with self._lock:
            self._drop(polite=True)

    def _compose(self, msg: OutgoingMessage, recipient: str, message_id: str) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self._from_header
        email["To"] = recipient
        email["Subject"] = msg.subject
        email["Date"] = format_datetime(datetime.now(UTC))
        email["Message-ID"] = message_id
        # RFC 3834: tells auto-responders (holiday replies) not to answer.
        email["Auto-Submitted"] = "auto-generated"
        # Quoted-printable keeps every line 7-bit: intact through relays without 8BITMIME.
        email.set_content(msg.text, cte="quoted-printable")
        if msg.html is not None:
            email.add_alternative(msg.html, subtype="html", cte="quoted-printable")
        email["Content-Language"] = msg.language  # after the body: set_content drops Content-*
        return email

    def _deliver(self, email: EmailMessage, recipient: str) -> SendResult:
        if self._conn is not None:
            try:
                return self._transmit(email, recipient)
            except _ConnectionLost:
                # The server closed the reused connection (idle timeout, restart): one new
                # connection, once. Should the message have gone through after all, the
                # resend carries the same Message-ID.
                logger.debug("SMTP connection lost, reconnecting once")
        try:
            return self._transmit(email, recipient)
        except _ConnectionLost as lost:
            return lost.result

    def _transmit(self, email: EmailMessage, recipient: str) -> SendResult:
        if self._conn is None:
            opened = self._open()
            if isinstance(opened, SendResult):
                return opened
            self._conn = opened
        try:
            self._conn.send_message(email, self._envelope_from, [recipient])
        except (smtplib.SMTPServerDisconnected, ConnectionError) as exc:
            self._drop()
            lost = _failure(False, f"SMTP connection lost: {_describe(exc)}")
            raise _ConnectionLost(lost) from exc
        except smtplib.SMTPException as exc:
            code, answer = _smtp_reply(exc)
            if code == 421:  # "closing channel": how Postfix ends an idle connection
                self._drop()
                lost = _failure(False, f"SMTP server closed the connection: {answer}")
                raise _ConnectionLost(lost) from exc
            return _smtp_refusal(exc, code, answer)
        except OSError as exc:  # a timeout: not retried, the server may still be working on it
            self._drop()
            return _failure(False, f"SMTP error: {_describe(exc)}")
        return SendResult(accepted=True)

    def _open(self) -> smtplib.SMTP | SendResult:
        try:
            # The host goes to the constructor, not to connect(): STARTTLS checks the
            # certificate against the host the constructor was given.
            conn = smtplib.SMTP(
                self._host, self._port, local_hostname=self._helo, timeout=self._timeout
            )
        except OSError as exc:  # a refusal at the greeting too (SMTPConnectError)
            return _failure(False, f"cannot connect to the SMTP server: {_describe(exc)}")
        try:
            conn.ehlo_or_helo_if_needed()
            if self._tls is not None:
                conn.starttls(context=self._tls)
            if self._username and self._password:
                conn.login(self._username, self._password)
        except smtplib.SMTPAuthenticationError as exc:
            conn.close()
            answer = _smtp_answer(exc.smtp_code, exc.smtp_error)
            return _failure(False, f"SMTP login refused: {answer} (smtp_username, smtp_password)")
        except OSError as exc:  # smtplib.SMTPException is an OSError
            conn.close()
            return _failure(False, f"cannot connect to the SMTP server: {_describe(exc)}")
        return conn

    def _drop(self, *, polite: bool = False) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if polite:
            with suppress(OSError):
                conn.quit()
        conn.close()


class HttpSmsSender(_Closing):
    """SMS through a provider's JSON API over one reused HTTP client (shareable by threads)."""

    def __init__(self, url: str, api_key: str, sender_id: str, *, timeout: float = 10) -> None:
        _check_sms_config(url, api_key, sender_id, timeout)
        self._url, self._sender_id = url, sender_id
        self._client = httpx.Client(
            timeout=timeout,
            headers={"Authorization": f"Bearer {api_key}"},
            follow_redirects=False,
        )

    def send(self, msg: OutgoingMessage) -> SendResult:
        payload = _sms_payload(msg, self._sender_id)
        if isinstance(payload, SendResult):
            return payload
        try:
            response = self._client.post(self._url, json=payload)
        except httpx.HTTPError as exc:
            return _sms_unreachable(exc)
        return _sms_result(response)

    def close(self) -> None:
        self._client.close()


def _sms_payload(msg: OutgoingMessage, sender_id: str) -> dict[str, str] | SendResult:
    """The provider's JSON body (shared by the sync and async senders), or the permanent
    failure of a number that is not a phone number."""
    _expect_channel(msg, "sms")
    to = _e164(msg.to)
    if to is None:
        return _failure(True, "invalid phone number")
    return {"to": to, "from": sender_id, "text": msg.text, "client_reference": msg.reference}


def _sms_unreachable(exc: httpx.HTTPError) -> SendResult:
    if isinstance(exc, httpx.TimeoutException):
        return _failure(False, "SMS provider timed out")
    return _failure(False, f"SMS provider unreachable: {type(exc).__name__}")


class AsyncHttpSmsSender:
    """``HttpSmsSender``'s protocol on an asyncio client (the campaign worker sends many SMS
    concurrently on few threads); the same payload, results and redaction."""

    def __init__(
        self, url: str, api_key: str, sender_id: str, *, timeout: float = 10, connections: int = 8
    ) -> None:
        _check_sms_config(url, api_key, sender_id, timeout)
        self._url, self._sender_id = url, sender_id
        self.connections = connections
        self._client = httpx.AsyncClient(
            timeout=timeout,
            headers={"Authorization": f"Bearer {api_key}"},
            follow_redirects=False,
            limits=httpx.Limits(max_connections=connections),
        )

    async def send(self, msg: OutgoingMessage) -> SendResult:
        payload = _sms_payload(msg, self._sender_id)
        if isinstance(payload, SendResult):
            return payload
        try:
            response = await self._client.post(self._url, json=payload)
        except httpx.HTTPError as exc:
            return _sms_unreachable(exc)
        return _sms_result(response)

    async def aclose(self) -> None:
        await self._client.aclose()


def sender_from_settings(settings: Mapping[str, Any]) -> dict[str, Sender]:
    """The configured senders by channel; a channel whose ``smtp_host``/``sms_url`` is empty is
    left out. Settings missing from ``settings`` take their declared default."""

    def get(name: str) -> Any:
        return settings.get(name, _DEFAULTS[name])

    senders: dict[str, Sender] = {}
    if get("smtp_host"):
        senders["email"] = SmtpSender(
            get("smtp_host"),
            int(get("smtp_port")),
            get("smtp_from"),
            starttls=bool(get("smtp_starttls")),
            username=get("smtp_username") or None,
            password=get("smtp_password") or None,
            timeout=float(get("smtp_timeout")),
            ca_file=get("smtp_ca_file") or None,
        )
    if get("sms_url"):
        senders["sms"] = HttpSmsSender(
            get("sms_url"),
            get("sms_api_key"),
            get("sms_sender_id"),
            timeout=float(get("sms_timeout")),
        )
    return senders


def _expect_channel(msg: OutgoingMessage, channel: Channel) -> None:
    if msg.channel != channel:
        raise ValueError(f"a {channel} sender cannot send a {msg.channel} message")


def _failure(
    permanent: bool,
    detail: str,
    *,
    message_id: str | None = None,
    retry_after: float | None = None,
) -> SendResult:
    return SendResult(
        accepted=False,
        permanent=permanent,
        detail=detail,
        message_id=message_id,
        retry_after=retry_after,
    )


def _check_smtp_config(host: str, port: int, from_addr: str, timeout: float) -> str:
    """The envelope sender (the bare address of ``from_addr``), or a ConfigError."""
    if not host.strip():
        raise ConfigError("SMTP host is empty (smtp_host)")
    if not 0 < port < 65536:
        raise ConfigError(f"SMTP port must be between 1 and 65535 (smtp_port), got {port}")
    if timeout <= 0:
        raise ConfigError(f"SMTP timeout must be positive (smtp_timeout), got {timeout}")
    envelope_from = parseaddr(from_addr)[1]
    if "\r" in from_addr or "\n" in from_addr or not _ADDR_SPEC.fullmatch(envelope_from):
        raise ConfigError(f"SMTP sender {from_addr!r} is not an e-mail address (smtp_from)")
    return envelope_from


def smtp_tls_context(ca_file: str | None) -> ssl.SSLContext:
    """The context that checks the SMTP server's certificate at STARTTLS: the system's CAs, or
    only those of ``ca_file`` (a relay whose certificate a private CA issued)."""
    if not ca_file:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=ca_file)
    except FileNotFoundError:
        raise ConfigError(f"SMTP CA file {ca_file}: no such file (smtp_ca_file)") from None
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"SMTP CA file {ca_file}: not a readable PEM certificate bundle (smtp_ca_file): "
            f"{exc.strerror or exc}"
        ) from None


def _check_smtp_login(
    host: str, starttls: bool, username: str | None, password: str | None
) -> None:
    if bool(username) != bool(password):
        raise ConfigError("SMTP login needs both smtp_username and smtp_password, or neither")
    if username and not starttls and not _is_loopback(host):
        raise ConfigError(
            "SMTP login without smtp_starttls would send the password in clear to "
            f"{host}: enable smtp_starttls"
        )


def _check_sms_config(url: str, api_key: str, sender_id: str, timeout: float) -> None:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(f"SMS provider URL {url!r} is not an http(s) URL (sms_url)")
    if parsed.scheme == "http" and not _is_loopback(parsed.host):
        raise ConfigError(f"SMS provider URL {url!r} must use https: the API key goes with it")
    if not api_key:
        raise ConfigError("SMS provider API key is empty (sms_api_key)")
    if not _SENDER_ID.fullmatch(sender_id):
        raise ConfigError(
            f"SMS sender id {sender_id!r} (sms_sender_id): expected up to 11 letters and digits, "
            "or a phone number"
        )
    if timeout <= 0:
        raise ConfigError(f"SMS timeout must be positive (sms_timeout), got {timeout}")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _smtp_reply(exc: smtplib.SMTPException) -> tuple[int | None, str]:
    """The server's code and redacted answer behind an smtplib exception."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        return code, _smtp_answer(code, text)
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code, _smtp_answer(exc.smtp_code, exc.smtp_error)
    return None, _describe(exc)


def _smtp_refusal(exc: smtplib.SMTPException, code: int | None, answer: str) -> SendResult:
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return _failure(False, f"SMTP sender address refused: {answer} (smtp_from)")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return _failure(True, "the address needs SMTPUTF8, which the SMTP server lacks")
    permanent = code is not None and 500 <= code < 600
    return _failure(permanent, f"SMTP server refused the message: {answer}")


def _smtp_answer(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {_redact(text)}".strip()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return _smtp_answer(exc.smtp_code, exc.smtp_error)
    return _redact(str(exc)) or type(exc).__name__


def _redact(text: str) -> str:
    """A server's answer without the addresses and phone numbers it may quote."""
    text = _ANY_ADDRESS.sub("<address>", text)
    text = _ANY_NUMBER.sub(_redact_number, text)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def _redact_number(match: re.Match[str]) -> str:
    # Eight digits or more is a phone number; fewer is a status code such as "550 5.1.1".
    digits = sum(c.isdigit() for c in match.group())
    return "<number>" if digits >= 8 else match.group()


def _e164(value: str) -> str | None:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _sms_result(response: httpx.Response) -> SendResult:
    status = response.status_code
    answer = _json_object(response)
    if 200 <= status < 300:
        return SendResult(accepted=True, provider_id=_provider_id(answer))
    detail = f"SMS provider answered HTTP {status}"
    code = _provider_error(answer)
    if code:
        detail += f" ({code})"
    if status in (401, 403):
        return _failure(False, f"{detail}: check sms_api_key")
    permanent = 400 <= status < 500 and status not in (408, 429)
    return _failure(permanent, detail, retry_after=_retry_after(response))


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _provider_id(answer: dict[str, Any]) -> str | None:
    value = answer.get("id")
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)[:128]
    return None


def _provider_error(answer: dict[str, Any]) -> str | None:
    """The provider's error code, only when it is a short token: its free text may quote the
    number or the message."""
    for key in ("error", "code", "error_code"):
        value = answer.get(key)
        if isinstance(value, str | int) and _SAFE_TOKEN.fullmatch(str(value)):
            return str(value)
    return None


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:  # absent, or an HTTP date
        return None
