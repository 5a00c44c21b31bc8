"""Measures taken (art. 33(3)(d)): notification campaign, self-check page, phishing watch.

The campaign (C7) and phishing waves (C8) belong to other packages; this module only *reads*
them, through two provider functions looked up at call time (never imported with the report,
so the report works before they exist):

- ``breachwatch.notify.progress.campaign_progress(settings, breach) -> dict | None``
- ``breachwatch.phishing.summary.wave_summary(settings, breach) -> dict | None``

Their contract is in ``docs/report.md``; ``None`` means "nothing yet". Until a provider exists,
its tables in the operational database (``notify_campaigns`` + ``notify_outbox``,
``phishing_waves``) are read directly when they are there, so "no campaign yet" is never said
of a campaign that runs.
"""

from __future__ import annotations

import importlib
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from breachwatch.errors import ConfigError
from breachwatch.state import engine_for, state_url

Provider = Callable[[dict[str, Any], str], dict[str, Any] | None]

PROVIDERS: dict[str, tuple[str, str]] = {
    "campaign": ("breachwatch.notify.progress", "campaign_progress"),
    "phishing": ("breachwatch.phishing.summary", "wave_summary"),
}
# Outbox statuses grouped for the report (notify/models.py: STATUSES), shown in this order.
STATUS_ORDER = (
    "delivered", "sent", "sending", "queued", "temporary_failure", "permanent_failure",
    "unreachable", "cancelled",
)  # fmt: skip
DONE = ("sent", "delivered")
PENDING = ("queued", "sending", "temporary_failure")
FAILED = ("permanent_failure", "unreachable")


def provider(kind: str) -> Provider | None:
    module_name, function = PROVIDERS[kind]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None  # not built yet; an import error *inside* it is a bug and propagates
        raise
    found = getattr(module, function, None)
    return found if callable(found) else None


def campaign_progress(settings: dict[str, Any], breach: str) -> dict[str, Any] | None:
    """The breach's notification campaigns as the contract shapes them, or None."""
    fn = provider("campaign")
    found = fn(settings, breach) if fn else _outbox_progress(settings, breach)
    return check_campaign(found) if found else None


def check_campaign(found: dict[str, Any]) -> dict[str, Any] | None:
    """A provider's answer in the report's shape; a campaign still without messages (a draft)
    is reported with 0 people, not as "no campaign"."""
    counts = {str(k): int(v) for k, v in dict(found.get("by_status") or {}).items() if v}
    rank = {status: i for i, status in enumerate(STATUS_ORDER)}
    by_status = dict(sorted(counts.items(), key=lambda kv: (rank.get(kv[0], 99), kv[0])))
    people = int(found.get("people") or sum(by_status.values()))
    campaigns = [
        {"name": str(c.get("name", "")), "status": str(c.get("status", ""))}
        for c in found.get("campaigns") or []
    ]
    if not people and not campaigns:
        return None
    by_channel = {
        str(ch): {str(k): int(v) for k, v in dict(counts).items() if v}
        for ch, counts in dict(found.get("by_channel") or {}).items()
    }
    return {
        "campaigns": campaigns,
        "people": people,
        "by_status": by_status,
        "by_channel": by_channel,
        "informed": sum(by_status.get(s, 0) for s in DONE),
        "pending": sum(by_status.get(s, 0) for s in PENDING),
        "failed": sum(by_status.get(s, 0) for s in FAILED),
    }


def _state_engine(settings: dict[str, Any], tables: set[str]) -> Engine | None:
    """The operational database if it exists and holds ``tables`` (never created to be read)."""
    url = state_url(settings)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return None
    engine = engine_for(settings)
    try:
        found = set(inspect(engine).get_table_names())
    except SQLAlchemyError as exc:
        raise ConfigError(f"cannot read the operational state: {exc}") from None
    return engine if tables <= found else None


def _rows(engine: Engine, sql: str, params: dict[str, Any]) -> list[Any]:
    try:
        with engine.connect() as con:
            return list(con.execute(text(sql), params).fetchall())
    except SQLAlchemyError as exc:
        raise ConfigError(f"cannot read the operational state: {exc}") from None


def _outbox_progress(settings: dict[str, Any], breach: str) -> dict[str, Any] | None:
    engine = _state_engine(settings, {"notify_campaigns", "notify_outbox"})
    if engine is None:
        return None
    campaigns = _rows(
        engine,
        "SELECT id, name, status FROM notify_campaigns WHERE breach = :b ORDER BY id",
        {"b": breach},
    )
    if not campaigns:
        return None
    counts = _rows(
        engine,
        "SELECT coalesce(o.channel, ''), o.status, count(*) FROM notify_outbox o "
        "JOIN notify_campaigns c ON c.id = o.campaign_id WHERE c.breach = :b GROUP BY 1, 2",
        {"b": breach},
    )
    by_status: dict[str, int] = {}
    by_channel: dict[str, dict[str, int]] = {}
    for channel, status, n in counts:
        by_status[status] = by_status.get(status, 0) + int(n)
        by_channel.setdefault(channel or "none", {})[status] = int(n)
    return {
        "campaigns": [{"name": name, "status": status} for _, name, status in campaigns],
        "by_status": by_status,
        "by_channel": by_channel,
    }


def phishing_waves(settings: dict[str, Any], breach: str) -> dict[str, Any] | None:
    """Counts and dates only: a wave's messages may quote leaked data, so no text is kept.
    Waves are those of the whole service (a reported message names no breach)."""
    fn = provider("phishing")
    found = fn(settings, breach) if fn else _stored_waves(settings)
    if not found or not int(found.get("waves") or 0):
        return None
    return {
        "waves": int(found["waves"]),
        "reports": int(found.get("reports") or 0),
        "first_seen": _text_or_none(found.get("first_seen")),
        "last_seen": _text_or_none(found.get("last_seen")),
    }


def _text_or_none(value: object) -> str | None:
    """A stored timestamp (naive UTC, as a datetime or SQLite's text) as ISO 8601 with Z."""
    if not value:
        return None
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _stored_waves(settings: dict[str, Any]) -> dict[str, Any] | None:
    engine = _state_engine(settings, {"phishing_waves"})
    if engine is None:
        return None
    rows = _rows(
        engine,
        "SELECT count(*), coalesce(sum(reports), 0), min(first_seen), max(last_seen) "
        "FROM phishing_waves WHERE merged_into IS NULL",
        {},
    )
    waves, reports, first, last = rows[0]
    return {"waves": waves, "reports": reports, "first_seen": first, "last_seen": last}


def self_check(home: Path, breach: str) -> dict[str, Any] | None:
    """The lookup index of the breach, if built: people indexed and build time (its ``meta``)."""
    path = home / "lookup" / f"{breach}.index"
    if not path.is_file():
        return None
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.Error:
        return {"people": None, "built_at": None}
    built = meta.get("built_at")
    return {
        "people": int(meta["people"]) if "people" in meta else None,
        "built_at": datetime.fromisoformat(built).astimezone(UTC) if built else None,
    }
