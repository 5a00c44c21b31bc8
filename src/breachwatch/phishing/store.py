"""Reported messages, their indicators and their waves, in the operational database.

Tables on ``state.Base`` (SQLite in the workspace, PostgreSQL through ``state_url``). Personal
data is guarded here, at the model boundary, not by the callers:

- the message and its check result (whose excerpts quote it) are **sealed** with AES-256-GCM
  under a key derived from the workspace key; the verdict, score, reason codes and indicators
  (the attacker's links, domains and numbers) stay in clear for counting and export;
- an e-mail's recipient headers (``To``, ``Cc``, ``Delivered-To``…, and the ``for <…>`` of
  ``Received``) are removed before sealing: they name the person who reported it;
- the reporter is never stored: only an HMAC of their IP address under a key that changes every
  UTC day, enough to drop a double submission, useless to follow someone from one day to the next.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import threading
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    Boolean,
    DateTime,
    Integer,
    LargeBinary,
    String,
    Text,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from breachwatch import state
from breachwatch.errors import KeyError_
from breachwatch.state import Base
from breachwatch.store.workspace import resolve_key

CHANNELS = ("web", "api", "cli", "email", "sms")
_SEAL_VERSION = b"\x01"
_SEAL_AAD = b"breachwatch phishing report"


class PhishingHead(Base):
    """One row, updated first by every report: it serialises wave assignment across processes
    (SQLite's write lock; a row lock on PostgreSQL)."""

    __tablename__ = "phishing_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reports: Mapped[int] = mapped_column(Integer)


class PhishingWave(Base):
    __tablename__ = "phishing_waves"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_seen: Mapped[datetime] = mapped_column(DateTime)
    last_seen: Mapped[datetime] = mapped_column(DateTime, index=True)
    reports: Mapped[int] = mapped_column(Integer)
    # A report that links two waves merges them into the older one; the younger one points at
    # it, so that an id handed out earlier still finds its wave.
    merged_into: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)


class PhishingReport(Base):
    __tablename__ = "phishing_reports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wave_id: Mapped[int] = mapped_column(Integer, index=True)
    reported_at: Mapped[datetime] = mapped_column(DateTime)
    received_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    kind: Mapped[str] = mapped_column(String(5))
    channel: Mapped[str] = mapped_column(String(8))
    reporter: Mapped[str | None] = mapped_column(String(32), nullable=True)
    digest: Mapped[str] = mapped_column(String(64), index=True)
    verdict: Mapped[str] = mapped_column(String(10))
    score: Mapped[int] = mapped_column(Integer)
    codes: Mapped[str] = mapped_column(Text)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # MinHash of the normalised text (None when too short to compare); a representative is kept
    # in the LSH index, a near-copy of one (Jaccard >= 0.9) is not (waves.py).
    signature: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    representative: Mapped[bool] = mapped_column(Boolean)


class PhishingIndicator(Base):
    __tablename__ = "phishing_indicators"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(Integer, index=True)
    type: Mapped[str] = mapped_column(String(8))
    value: Mapped[str] = mapped_column(String(2048))
    link: Mapped[bool] = mapped_column(Boolean)


class PhishingLink(Base):
    """Union-find over indicators: each linking indicator belongs to exactly one wave."""

    __tablename__ = "phishing_links"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of type and value
    wave_id: Mapped[int] = mapped_column(Integer, index=True)


TABLES = [
    Base.metadata.tables[m.__tablename__]
    for m in (PhishingHead, PhishingWave, PhishingReport, PhishingIndicator, PhishingLink)
]
_READY: set[str] = set()
_READY_LOCK = threading.Lock()


def engine(settings: dict[str, Any]) -> Engine:
    """The operational database, with the phishing tables created on first use."""
    with _READY_LOCK:  # the first use may come from several request threads at once
        found = state.engine_for(settings)
        url = str(found.url)
        if url not in _READY:
            Base.metadata.create_all(found, tables=TABLES)
            _ensure_head(found)
            _READY.add(url)
    return found


def _ensure_head(found: Engine) -> None:
    with Session(found) as s:
        if s.get(PhishingHead, 1) is not None:
            return
        s.add(PhishingHead(id=1, reports=0))
        try:
            s.commit()
        except IntegrityError:  # another process created it first
            s.rollback()


def lock_head(session: Session) -> None:
    """Taken first in a report's transaction, held until its commit."""
    session.execute(update(PhishingHead).where(PhishingHead.id == 1).values(id=1))


def count_report(session: Session) -> None:
    session.execute(
        update(PhishingHead).where(PhishingHead.id == 1).values(reports=PhishingHead.reports + 1)
    )


def link_key(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\x00{value}".encode()).hexdigest()


# -- keys ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportKeys:
    """Sub-keys of the workspace key (HMAC-SHA256 as a KDF, one label each).

    Rotating the workspace key makes the sealed messages of earlier reports unreadable; their
    indicators, verdicts and waves stay.
    """

    seal: bytes
    reporter: bytes
    digest: bytes

    @classmethod
    def derive(cls, master: bytes) -> ReportKeys:
        def sub(label: str) -> bytes:
            return hmac.new(master, f"breachwatch phishing {label} v1".encode(), "sha256").digest()

        return cls(sub("seal"), sub("reporter"), sub("digest"))

    def seal_bytes(self, data: bytes) -> bytes:
        nonce = os.urandom(12)
        return _SEAL_VERSION + nonce + AESGCM(self.seal).encrypt(nonce, data, _SEAL_AAD)

    def open_bytes(self, blob: bytes) -> bytes:
        if blob[:1] != _SEAL_VERSION:
            raise KeyError_("a sealed phishing report has an unknown format")
        try:
            return AESGCM(self.seal).decrypt(blob[1:13], blob[13:], _SEAL_AAD)
        except InvalidTag:
            raise KeyError_(
                "cannot open a reported message: it was sealed under another workspace key"
            ) from None

    def reporter_hash(self, ip: str, day: date) -> str:
        return hmac.new(self.reporter, f"{day.isoformat()}|{ip}".encode(), "sha256").hexdigest()[
            :32
        ]

    def message_digest(self, raw: bytes) -> str:
        return hmac.new(self.digest, raw, "sha256").hexdigest()


_KEYS: dict[str, ReportKeys] = {}


def report_keys(settings: dict[str, Any]) -> ReportKeys:
    home = Path(settings["home"])
    cache_key = f"{home.resolve()}|{settings.get('key_file', '')}|{bool(settings.get('key'))}"
    if cache_key not in _KEYS:
        _KEYS[cache_key] = ReportKeys.derive(resolve_key(home, settings).encode())
    return _KEYS[cache_key]


def seal_report(keys: ReportKeys, raw: bytes, kind: str, result: dict[str, Any]) -> bytes:
    stored = without_recipient(raw) if kind == "email" else raw
    document = {"message": stored.decode("utf-8", "surrogateescape"), "result": result}
    return keys.seal_bytes(json.dumps(document, ensure_ascii=True).encode("ascii"))


@dataclass(frozen=True)
class OpenedReport:
    message: bytes
    result: dict[str, Any]


def open_report(keys: ReportKeys, sealed: bytes) -> OpenedReport:
    document = json.loads(keys.open_bytes(sealed))
    return OpenedReport(document["message"].encode("utf-8", "surrogateescape"), document["result"])


# -- the reporter out of the e-mail --------------------------------------------------------

_RECIPIENT_HEADERS = {
    b"to",
    b"cc",
    b"bcc",
    b"delivered-to",
    b"x-original-to",
    b"envelope-to",
    b"x-envelope-to",
    b"x-rcpt-to",
    b"x-forwarded-to",
    b"x-apparently-to",
    b"apparently-to",
    b"resent-to",
    b"resent-cc",
    b"original-recipient",
    b"x-original-recipient",
}
_RECEIVED_FOR_RE = re.compile(rb"\bfor\s+<?[^\s;<>]+@[^\s;<>]+>?", re.IGNORECASE)


def without_recipient(raw: bytes) -> bytes:
    """The e-mail without the headers that name who received it; the body is left as is."""
    raw = raw.lstrip()
    end = header_end(raw)
    lines = raw[:end].splitlines(keepends=True)
    kept: list[bytes] = []
    name = b""
    for line in lines:
        if line[:1] not in (b" ", b"\t"):  # else a folded continuation of the header above
            name = line.partition(b":")[0].strip().lower()
        if name in _RECIPIENT_HEADERS:
            continue
        kept.append(_RECEIVED_FOR_RE.sub(b"for <redacted>", line) if name == b"received" else line)
    return b"".join(kept) + raw[end:]


def header_end(raw: bytes) -> int:
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    return min(ends) if ends else len(raw)
