"""Filing a reported message: check it, seal it, extract its indicators, assign it to a wave.

The page, the API and ``breachwatch phishing report`` all come through ``file_report``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path
from typing import Any

from breachwatch.errors import UsageError
from breachwatch.phishing.codes import CodeVerifier
from breachwatch.phishing.config import PhishingConfig, load_config
from breachwatch.phishing.engine import check_message, checker_for
from breachwatch.phishing.indicators import extract_indicators
from breachwatch.phishing.message import Kind, parse_message
from breachwatch.phishing.store import CHANNELS, header_end, report_keys, seal_report
from breachwatch.phishing.waves import Filed, NewReport, add_report, signature

# A reported message was received in the past year, and not in the future (an hour of clock skew
# allowed): anything else is a typo or a forged Date header.
OLDEST = timedelta(days=366)
SKEW = timedelta(hours=1)
_DATE_HEADER_RE = re.compile(rb"^Date:[ \t]*([^\r\n]+)", re.IGNORECASE | re.MULTILINE)


def config_for(settings: dict[str, Any]) -> PhishingConfig | None:
    """The phishing configuration of the ``phishing_config`` setting; None for the shipped one."""
    path = str(settings.get("phishing_config") or "")
    return _config_at(path) if path else None


@cache
def _config_at(path: str) -> PhishingConfig:
    return load_config(Path(path))


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def file_report(
    settings: dict[str, Any],
    raw: str | bytes,
    *,
    kind: Kind = "auto",
    channel: str = "api",
    reporter_ip: str | None = None,
    received_at: datetime | None = None,
    sender: str | None = None,
    verifier: CodeVerifier | None = None,
    now: datetime | None = None,
) -> Filed:
    """Stores the message with its check result and indicators, and assigns its wave.

    ``reporter_ip`` is only used for a keyed, daily hash that drops the same person's double
    submission. Raises ``MessageInputError`` for a message that cannot be checked, and
    ``UsageError`` for an unknown channel or an implausible ``received_at``.
    """
    if channel not in CHANNELS:
        raise UsageError(f"unknown channel {channel!r}: expected one of {', '.join(CHANNELS)}")
    data = raw if isinstance(raw, bytes) else _utf8(raw)
    config = config_for(settings)
    result = check_message(data, kind=kind, config=config, verifier=verifier, sender=sender)
    parsed = parse_message(data, result.kind, sender)
    now = now or utc_now()
    keys = report_keys(settings)
    text = "\n".join(parsed.fields.get(name, "") for name in ("subject", "body"))
    new = NewReport(
        received_at=_received(received_at, data if result.kind == "email" else b"", now),
        reported_at=now,
        kind=result.kind,
        channel=channel,
        reporter=keys.reporter_hash(reporter_ip, now.date()) if reporter_ip else None,
        digest=keys.message_digest(data),
        verdict=result.verdict,
        score=result.score,
        codes=tuple(sorted({r.code for r in result.reasons})),
        sealed=seal_report(keys, data, result.kind, result.to_json()),
        signature=signature(text),
        indicators=extract_indicators(parsed, checker_for(config)),
    )
    return add_report(settings, new)


def _received(given: datetime | None, email: bytes, now: datetime) -> datetime:
    """When the person received the message: as given, else the e-mail's Date, else now."""
    if given is not None:
        moment = _naive_utc(given)
        if not now - OLDEST <= moment <= now + SKEW:
            raise UsageError(
                f"received_at {given.isoformat()}: expected a moment in the past year, "
                "not in the future"
            )
        return moment
    head = email.lstrip()
    header = _DATE_HEADER_RE.search(head[: header_end(head)]) if head else None
    if header is not None:
        try:
            moment = _naive_utc(parsedate_to_datetime(header.group(1).decode("ascii", "replace")))
        except (TypeError, ValueError):
            return now
        if now - OLDEST <= moment <= now + SKEW:
            return moment
    return now


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that no byte stood for
        return text.encode("utf-8", "replace")


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
