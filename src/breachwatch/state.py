"""Operational state (SQLAlchemy 2): partner API keys and the audit log.

SQLite in the workspace by default; any SQLAlchemy URL (PostgreSQL in production) through the
``state_url`` setting. The data plane (records, linkage) stays in DuckDB; this holds the small,
transactional, multi-process state the service writes.

The audit log is append-only and tamper-evident: each entry carries the SHA-256 of its content
and of the previous entry's hash, so editing, deleting or reordering an entry breaks the chain
(``verify_audit``). Writers serialise on one head row (``SELECT ... FOR UPDATE`` on PostgreSQL,
SQLite's database lock otherwise), so concurrent server processes extend one chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Integer,
    String,
    Text,
    create_engine,
    event,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from breachwatch.errors import ConfigError, UsageError

GENESIS = "0" * 64
KEY_PREFIX = "bwp_"


class Base(DeclarativeBase):
    pass


class Partner(Base):
    __tablename__ = "partners"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # SHA-256 of the API key: the key is 256 random bits, so a plain hash cannot be reversed.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    quota_per_day: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the last sequence number and hash; writers lock it to extend the chain."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


def state_url(settings: dict[str, Any]) -> str:
    url = str(settings.get("state_url") or "")
    return url or f"sqlite:///{Path(settings['home']).resolve() / 'state.db'}"


_ENGINES: dict[str, Engine] = {}
_CREATED: dict[str, set[str]] = {}


_LOCK = threading.Lock()


def engine_for(settings: dict[str, Any]) -> Engine:
    """One engine per URL and process; creates the tables on first use (thread-safe)."""
    with _LOCK:
        return _engine_for(settings)


def _engine_for(settings: dict[str, Any]) -> Engine:
    url = state_url(settings)
    engine = _ENGINES.get(url)
    if engine is not None and _CREATED.get(url) != set(Base.metadata.tables):
        # A module declaring more tables was imported since: create those too.
        try:
            Base.metadata.create_all(engine)
        except SQLAlchemyError as exc:
            raise ConfigError(f"cannot open the operational state at {url!r}: {exc}") from None
        _CREATED[url] = set(Base.metadata.tables)
    if engine is None:
        try:
            engine = create_engine(url, pool_pre_ping=True)
        except (SQLAlchemyError, ValueError) as exc:
            raise ConfigError(f"state_url {url!r}: {exc}") from None
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        try:
            Base.metadata.create_all(engine)
            _ensure_head(engine)
        except SQLAlchemyError as exc:
            raise ConfigError(f"cannot open the operational state at {url!r}: {exc}") from None
        _ENGINES[url] = engine
        _CREATED[url] = set(Base.metadata.tables)
    return engine


def _ensure_head(engine: Engine) -> None:
    with Session(engine) as s:
        if s.get(AuditHead, 1) is not None:
            return
        s.add(AuditHead(id=1, seq=0, hash=GENESIS))
        try:
            s.commit()
        except IntegrityError:  # another process created it first
            s.rollback()


def _sqlite_pragmas(dbapi_con: Any, _record: Any) -> None:
    cur = dbapi_con.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# -- partners ------------------------------------------------------------------------------


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def add_partner(settings: dict[str, Any], name: str, quota_per_day: int) -> str:
    """Creates a partner; returns its API key (shown once, stored only hashed)."""
    if quota_per_day <= 0:
        raise UsageError("--quota must be a positive number of identifiers per day")
    api_key = KEY_PREFIX + secrets.token_urlsafe(32)
    with Session(engine_for(settings)) as s, s.begin():
        if s.scalar(select(Partner).where(Partner.name == name)) is not None:
            raise UsageError(f"partner {name!r} exists already")
        s.add(
            Partner(
                name=name,
                key_hash=key_hash(api_key),
                quota_per_day=quota_per_day,
                created_at=_now(),
                revoked=False,
            )
        )
    audit(settings, actor="cli", action="partner.add", subject=name, reason="", detail={})
    return api_key


def revoke_partner(settings: dict[str, Any], name: str) -> None:
    with Session(engine_for(settings)) as s, s.begin():
        done = s.execute(update(Partner).where(Partner.name == name).values(revoked=True))
        if not getattr(done, "rowcount", 0):
            raise UsageError(f"no partner named {name!r}")
    audit(settings, actor="cli", action="partner.revoke", subject=name, reason="", detail={})


@dataclass(frozen=True)
class PartnerInfo:
    name: str
    quota_per_day: int
    created_at: datetime
    revoked: bool


def list_partners(settings: dict[str, Any]) -> list[PartnerInfo]:
    with Session(engine_for(settings)) as s:
        return [
            PartnerInfo(p.name, p.quota_per_day, p.created_at, p.revoked)
            for p in s.scalars(select(Partner).order_by(Partner.name))
        ]


def partner_for_key(settings: dict[str, Any], api_key: str) -> PartnerInfo | None:
    """The active partner owning ``api_key``, or None (unknown or revoked key)."""
    wanted = key_hash(api_key)
    with Session(engine_for(settings)) as s:
        partner = s.scalar(select(Partner).where(Partner.key_hash == wanted))
        if partner is None or partner.revoked or not hmac.compare_digest(partner.key_hash, wanted):
            return None
        return PartnerInfo(partner.name, partner.quota_per_day, partner.created_at, False)


# -- audit log -----------------------------------------------------------------------------


def _entry_hash(prev: str, seq: int, at: datetime, fields: dict[str, str]) -> str:
    body = json.dumps(
        {"seq": seq, "at": at.isoformat(), **fields}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256((prev + body).encode()).hexdigest()


def audit(
    settings: dict[str, Any],
    *,
    actor: str,
    action: str,
    subject: str,
    reason: str,
    detail: dict[str, Any],
) -> int:
    """Appends one entry (who, what, about whom, why); returns its sequence number.

    Never put personal data in ``detail``: record ids and counts, not names or identifiers.
    """
    fields = {
        "actor": actor,
        "action": action,
        "subject": subject,
        "reason": reason,
        "detail": json.dumps(detail, sort_keys=True),
    }
    engine = engine_for(settings)
    with Session(engine) as s, s.begin():
        if engine.dialect.name == "sqlite":
            # A write first takes SQLite's database lock, so two processes cannot both extend
            # the chain from the same entry (PostgreSQL: the FOR UPDATE below).
            s.execute(update(AuditHead).where(AuditHead.id == 1).values(id=1))
        head = s.scalar(select(AuditHead).where(AuditHead.id == 1).with_for_update())
        if head is None:
            raise ConfigError("the audit log has no head row: the state database was altered")
        seq = head.seq + 1
        at = _now()
        digest = _entry_hash(head.hash, seq, at, fields)
        s.add(AuditEntry(seq=seq, at=at, prev_hash=head.hash, hash=digest, **fields))
        head.seq, head.hash = seq, digest
    return seq


def audit_entries(settings: dict[str, Any]) -> Iterator[AuditEntry]:
    with Session(engine_for(settings)) as s:
        yield from s.scalars(select(AuditEntry).order_by(AuditEntry.seq)).yield_per(10_000)


def recent_audit(settings: dict[str, Any], n: int = 200) -> list[AuditEntry]:
    """The ``n`` latest entries, newest first (one indexed range read)."""
    with Session(engine_for(settings)) as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(n)))


@dataclass(frozen=True)
class AuditCheck:
    entries: int
    ok: bool
    first_bad: int | None
    problem: str


def verify_audit(settings: dict[str, Any]) -> AuditCheck:
    """Recomputes the chain; reports the first entry that was altered, removed or reordered."""
    prev, expected, count = GENESIS, 1, 0
    for e in audit_entries(settings):
        count += 1
        if e.seq != expected:
            return AuditCheck(count, False, e.seq, f"entry {expected} is missing")
        fields = {
            "actor": e.actor,
            "action": e.action,
            "subject": e.subject,
            "reason": e.reason,
            "detail": e.detail,
        }
        if e.prev_hash != prev or _entry_hash(prev, e.seq, e.at, fields) != e.hash:
            return AuditCheck(count, False, e.seq, f"entry {e.seq} was altered")
        prev, expected = e.hash, expected + 1
    with Session(engine_for(settings)) as s:
        head = s.scalar(select(AuditHead).where(AuditHead.id == 1))
    if head is not None and (head.seq != expected - 1 or head.hash != prev):
        return AuditCheck(count, False, expected, "entries after the last one were removed")
    return AuditCheck(count, True, None, "")
