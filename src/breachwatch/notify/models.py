"""Tables of the notification outbox in the operational database (SQLite or PostgreSQL).

Only what operators count and workers schedule is in clear: ids, channel, status, attempts,
timestamps. Contacts, names, languages and the per-person content parameters are in ``sealed``
(AES-256-GCM under the notify key, bound to the row); codes and contacts are findable only
through keyed tags (``*_tag``), which without the key say nothing, even about a phone number.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, mapped_column

from breachwatch.state import Base

# SQLite makes an INTEGER PRIMARY KEY the rowid (auto-numbered); BIGINT would not be.
_BIGINT_ID = BigInteger().with_variant(Integer, "sqlite")

CAMPAIGN_STATES = ("draft", "approved", "running", "paused", "cancelled", "done")
# queued → sending → sent → delivered | temporary_failure → (retry) | permanent_failure →
# (next channel, queued again). ``unreachable``: no usable contact at plan time. ``cancelled``:
# the campaign was cancelled before the message left.
STATUSES = (
    "queued",
    "sending",
    "sent",
    "delivered",
    "temporary_failure",
    "permanent_failure",
    "cancelled",
    "unreachable",
)
PENDING = ("queued", "sending", "temporary_failure")
CHANNELS = ("email", "sms", "letter")


class Campaign(Base):
    __tablename__ = "notify_campaigns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    breach: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    channels: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)  # JSON: the campaign's art. 34 texts per language
    plan: Mapped[str] = mapped_column(Text)  # JSON: counts per channel and language
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[float] = mapped_column(Float)
    previewed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    previewed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    test_sent_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    test_sent_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    approved_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[float] = mapped_column(Float)


class OutboxMessage(Base):
    """One row per person of a campaign (``person`` is the person's registry record uid);
    ``channel`` moves to the next one on a permanent failure (``fallbacks`` lists those left),
    so a person is one row whatever happens."""

    __tablename__ = "notify_outbox"
    campaign_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    person: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    channel: Mapped[str | None] = mapped_column(String(8), nullable=True)
    fallbacks: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer)
    next_at: Mapped[float] = mapped_column(Float)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    worker: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # Claims of a message whose worker's lease had expired: each may have sent it twice (with
    # the same Message-ID / client reference).
    resent: Mapped[int] = mapped_column(Integer)
    provider_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    detail: Mapped[str | None] = mapped_column(String(240), nullable=True)
    updated_at: Mapped[float] = mapped_column(Float)
    code_tag: Mapped[bytes] = mapped_column(LargeBinary(16))
    email_tag: Mapped[bytes | None] = mapped_column(LargeBinary(16), nullable=True)
    phone_tag: Mapped[bytes | None] = mapped_column(LargeBinary(16), nullable=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (
        Index("notify_outbox_work", "campaign_id", "channel", "status", "next_at"),
        Index("notify_outbox_code", "code_tag"),
    )


class OutboxEvent(Base):
    """Every status transition, appended: the history behind a row's current status."""

    __tablename__ = "notify_events"
    id: Mapped[int] = mapped_column(_BIGINT_ID, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(Integer)
    person: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str | None] = mapped_column(String(8), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    at: Mapped[float] = mapped_column(Float)
    attempt: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(String(240), nullable=True)

    __table_args__ = (Index("notify_events_at", "campaign_id", "at"),)


TABLES = [Campaign.__table__, OutboxMessage.__table__, OutboxEvent.__table__]
_CREATED: set[int] = set()


def ensure_tables(engine: Engine) -> None:
    """Creates the notify tables once per engine (``engine_for`` may have run before this
    module was imported, and then created only the tables it knew)."""
    if id(engine) in _CREATED:
        return
    Base.metadata.create_all(engine, tables=TABLES)  # type: ignore[arg-type]
    _CREATED.add(id(engine))
