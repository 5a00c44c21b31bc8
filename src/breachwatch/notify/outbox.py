"""The durable outbox: one interface, one sibling class per database engine.

SQLite (the default, ``<workspace>/state.db``) and PostgreSQL (``state_url =
postgresql+psycopg://...``) share every statement but two details: how a batch is claimed
(PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so any number of workers on any number of machines take
disjoint batches; SQLite: ``BEGIN IMMEDIATE``, one writer at a time, so claims serialise) and how
rows are bulk-loaded (``COPY`` vs ``executemany``). The hot path uses the driver's connection
directly: a worker claims, sends and records hundreds of messages a second.

Crash safety: a claim commits ``sending`` with a lease *before* anything is sent; the result
commits after. A worker killed in between leaves rows in ``sending`` whose lease expires; the
next claim takes them again (``resent`` + 1) and they are sent again with the same reference,
hence the same Message-ID: a possible duplicate that is counted, never a lost message.
"""

from __future__ import annotations

import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from breachwatch.errors import ConfigError, WorkspaceError
from breachwatch.notify.models import ensure_tables
from breachwatch.state import engine_for, state_url

OUTBOX_COLUMNS = (
    "campaign_id",
    "person",
    "channel",
    "fallbacks",
    "status",
    "attempts",
    "next_at",
    "resent",
    "updated_at",
    "code_tag",
    "email_tag",
    "phone_tag",
    "sealed",
)
# Claimed first: rows whose worker died (lease expired), then retries that are due, then new.
_BUCKETS = (
    ("sending", "lease_until < ?"),
    ("temporary_failure", "next_at <= ?"),
    ("queued", "next_at <= ?"),
)


@dataclass(frozen=True)
class Claimed:
    person: int
    channel: str
    attempts: int
    fallbacks: str
    sealed: bytes
    reclaimed: bool  # its previous worker's lease expired: it may have been sent already


@dataclass(frozen=True)
class Outcome:
    """The new state of a claimed row after one send."""

    person: int
    channel: str  # the channel the row now has (the next one after a fallback)
    status: str
    attempts: int
    fallbacks: str
    next_at: float
    detail: str | None = None
    provider_id: str | None = None
    fell_back_from: str | None = None  # the channel that failed for good, when it moved on


@dataclass(frozen=True)
class StoredRow:
    person: int
    channel: str | None
    fallbacks: str
    status: str
    attempts: int
    sealed: bytes


def now() -> float:
    return time.time()


class Outbox(ABC):
    """The outbox of every campaign, through one dedicated connection of the state database."""

    placeholder = "?"

    def __init__(self, con: Any, where: str) -> None:
        self.con = con
        self.where = where

    # -- engine specifics ----------------------------------------------------------------

    @abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A write transaction; yields a cursor."""

    @abstractmethod
    def insert(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Bulk-loads planned rows (``OUTBOX_COLUMNS`` order)."""

    @abstractmethod
    def _pick(self, condition: str) -> str:
        """SQL selecting the persons of up to ``?`` rows of one claim bucket."""

    def close(self) -> None:
        self.con.close()

    def sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def guard(self) -> Any:
        return database_errors(self.where)

    def query(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.guard():
            rows = self.con.execute(self.sql(text), tuple(params)).fetchall()
        return [tuple(r) for r in rows]

    # -- claims and results --------------------------------------------------------------

    def claim(
        self, campaign_id: int, channel: str, limit: int, lease: float, worker: str
    ) -> list[Claimed]:
        at = now()
        claimed: list[Claimed] = []
        with self.transaction() as cur:
            for status, condition in _BUCKETS:
                if len(claimed) >= limit:
                    break
                picked = self._pick(
                    f"campaign_id = ? AND channel = ? AND status = '{status}' AND {condition}"
                )
                cur.execute(
                    self.sql(
                        "UPDATE notify_outbox SET status = 'sending', attempts = attempts + 1, "
                        "lease_until = ?, worker = ?, updated_at = ?, resent = resent + ? "
                        f"WHERE campaign_id = ? AND person {picked} "
                        "RETURNING person, attempts, fallbacks, sealed"
                    ),
                    (
                        at + lease,
                        worker,
                        at,
                        1 if status == "sending" else 0,
                        campaign_id,
                        campaign_id,
                        channel,
                        at,
                        limit - len(claimed),
                    ),
                )
                reclaimed = status == "sending"
                claimed += [
                    Claimed(int(p), channel, int(a), str(f), bytes(s), reclaimed)
                    for p, a, f, s in cur.fetchall()
                ]
            _events(
                self,
                cur,
                [
                    (
                        campaign_id,
                        c.person,
                        channel,
                        "sending",
                        at,
                        c.attempts,
                        "lease expired: possible duplicate" if c.reclaimed else None,
                    )
                    for c in claimed
                ],
            )
        return claimed

    def finish(self, campaign_id: int, worker: str, outcomes: Sequence[Outcome]) -> int:
        """Records results; a row reclaimed by another worker meanwhile is left to it."""
        if not outcomes:
            return 0
        at = now()
        update = self.sql(
            "UPDATE notify_outbox SET status = ?, channel = ?, fallbacks = ?, attempts = ?, "
            "next_at = ?, detail = ?, provider_id = coalesce(?, provider_id), "
            "lease_until = NULL, worker = NULL, updated_at = ? "
            "WHERE campaign_id = ? AND person = ? AND status = 'sending' AND worker = ?"
        )
        params = [
            (
                o.status,
                o.channel,
                o.fallbacks,
                o.attempts,
                o.next_at,
                o.detail,
                o.provider_id,
                at,
                campaign_id,
                o.person,
                worker,
            )
            for o in outcomes
        ]
        with self.transaction() as cur:
            cur.executemany(update, params)
            done = outcomes
            if _rowcount(cur) not in (len(outcomes), -1):
                done = [o for o in outcomes if self._still_ours(cur, campaign_id, o, worker, at)]
            events = []
            for o in done:
                if o.fell_back_from:
                    failed = (o.fell_back_from, "permanent_failure", o.detail)
                    events.append((campaign_id, o.person, *failed[:2], at, 0, failed[2]))
                events.append(
                    (campaign_id, o.person, o.channel, o.status, at, o.attempts, o.detail)
                )
            _events(self, cur, events)
        return len(done)

    def renew(self, campaign_id: int, worker: str, lease: float) -> None:
        """Extends the leases of this worker's rows: alive, however slow the provider."""
        with self.transaction() as cur:
            cur.execute(
                self.sql(
                    "UPDATE notify_outbox SET lease_until = ? WHERE campaign_id = ? "
                    "AND worker = ? AND status = 'sending'"
                ),
                (now() + lease, campaign_id, worker),
            )

    def _still_ours(self, cur: Any, campaign_id: int, o: Outcome, worker: str, at: float) -> bool:
        cur.execute(
            self.sql(
                "SELECT 1 FROM notify_outbox WHERE campaign_id = ? AND person = ? "
                "AND status = ? AND updated_at = ?"
            ),
            (campaign_id, o.person, o.status, at),
        )
        return cur.fetchone() is not None

    # -- receipts, bounces, letters ------------------------------------------------------

    def row(self, campaign_id: int, person: int) -> StoredRow | None:
        found = self.query(
            "SELECT person, channel, fallbacks, status, attempts, sealed FROM notify_outbox "
            "WHERE campaign_id = ? AND person = ?",
            (campaign_id, person),
        )
        if not found:
            return None
        p, channel, fallbacks, status, attempts, sealed = found[0]
        return StoredRow(int(p), channel, str(fallbacks), str(status), int(attempts), bytes(sealed))

    def report(
        self,
        campaign_id: int,
        person: int,
        channel: str,
        status: str,
        detail: str | None = None,
        provider_id: str | None = None,
    ) -> str | None:
        """A late verdict on a sent message (SMS receipt, e-mail bounce): ``delivered`` or
        ``permanent_failure`` (then the next channel is queued) or ``temporary_failure`` (then
        it is sent again). Returns the row's new status, or None when the verdict concerns a
        channel the row has left already (a late receipt) or is not for a sent message."""
        at = now()
        with self.transaction() as cur:
            cur.execute(
                self.sql(
                    "SELECT status, fallbacks, attempts FROM notify_outbox "
                    "WHERE campaign_id = ? AND person = ? AND channel = ?"
                ),
                (campaign_id, person, channel),
            )
            found = cur.fetchone()
            if found is None or found[0] not in ("sending", "sent", "delivered"):
                return None
            current, fallbacks, attempts = str(found[0]), str(found[1]), int(found[2])
            if current == "delivered" and status != "permanent_failure":
                return None
            new_channel, new_status, rest = channel, status, fallbacks
            if status == "permanent_failure" and fallbacks:
                new_channel, _, rest = fallbacks.partition(",")
                new_status, attempts = "queued", 0
            cur.execute(
                self.sql(
                    "UPDATE notify_outbox SET status = ?, channel = ?, fallbacks = ?, "
                    "attempts = ?, next_at = ?, detail = ?, "
                    "provider_id = coalesce(?, provider_id), lease_until = NULL, worker = NULL, "
                    "updated_at = ? WHERE campaign_id = ? AND person = ? AND channel = ?"
                ),
                (
                    new_status,
                    new_channel,
                    rest,
                    attempts,
                    at,
                    detail,
                    provider_id,
                    at,
                    campaign_id,
                    person,
                    channel,
                ),
            )
            events = [(campaign_id, person, channel, status, at, attempts, detail)]
            if new_channel != channel:
                events.append((campaign_id, person, new_channel, "queued", at, 0, None))
            _events(self, cur, events)
        return new_status

    def queued_letters(self, campaign_id: int, limit: int) -> list[tuple[int, bytes]]:
        rows = self.query(
            "SELECT person, sealed FROM notify_outbox WHERE campaign_id = ? AND channel = "
            "'letter' AND status = 'queued' ORDER BY person LIMIT ?",
            (campaign_id, limit),
        )
        return [(int(p), bytes(s)) for p, s in rows]

    def letters_printed(self, campaign_id: int, persons: Sequence[int], detail: str) -> None:
        at = now()
        with self.transaction() as cur:
            cur.executemany(
                self.sql(
                    "UPDATE notify_outbox SET status = 'sent', attempts = attempts + 1, "
                    "detail = ?, updated_at = ? WHERE campaign_id = ? AND person = ? "
                    "AND channel = 'letter' AND status = 'queued'"
                ),
                [(detail, at, campaign_id, p) for p in persons],
            )
            _events(self, cur, [(campaign_id, p, "letter", "sent", at, 1, detail) for p in persons])

    def cancel(self, campaign_id: int) -> int:
        at = now()
        with self.transaction() as cur:
            cur.execute(
                self.sql(
                    "UPDATE notify_outbox SET status = 'cancelled', updated_at = ? "
                    "WHERE campaign_id = ? AND status IN ('queued', 'temporary_failure')"
                ),
                (at, campaign_id),
            )
            count = _rowcount(cur)
        return max(count, 0)

    # -- reading -------------------------------------------------------------------------

    def counts(self, campaign_id: int) -> dict[tuple[str, str], int]:
        rows = self.query(
            "SELECT coalesce(channel, '-'), status, count(*) FROM notify_outbox "
            "WHERE campaign_id = ? GROUP BY 1, 2",
            (campaign_id,),
        )
        return {(str(c), str(s)): int(n) for c, s, n in rows}

    def resent(self, campaign_id: int) -> tuple[int, int]:
        """(messages claimed again after a lease expired, such claims in all)."""
        rows = self.query(
            "SELECT count(*), coalesce(sum(resent), 0) FROM notify_outbox "
            "WHERE campaign_id = ? AND resent > 0",
            (campaign_id,),
        )
        return int(rows[0][0]), int(rows[0][1])

    def recent(self, campaign_id: int, seconds: float) -> int:
        """Messages that left (sent) in the last ``seconds``: the current rate."""
        rows = self.query(
            "SELECT count(*) FROM notify_events WHERE campaign_id = ? AND at >= ? "
            "AND status = 'sent'",
            (campaign_id, now() - seconds),
        )
        return int(rows[0][0])

    def next_due(self, campaign_id: int, channels: Sequence[str]) -> float | None:
        """When the earliest pending message of these channels can be claimed (None: none)."""
        marks = ", ".join("?" for _ in channels)
        rows = self.query(
            "SELECT min(CASE WHEN status = 'sending' THEN lease_until ELSE next_at END) "
            f"FROM notify_outbox WHERE campaign_id = ? AND channel IN ({marks}) "
            "AND status IN ('queued', 'sending', 'temporary_failure')",
            (campaign_id, *channels),
        )
        value = rows[0][0] if rows else None
        return float(value) if value is not None else None

    def find_code(self, code_tag: bytes) -> list[tuple[int, int, bytes | None, bytes | None]]:
        rows = self.query(
            "SELECT campaign_id, person, email_tag, phone_tag FROM notify_outbox "
            "WHERE code_tag = ?",
            (code_tag,),
        )
        return [
            (int(c), int(p), bytes(e) if e is not None else None, bytes(t) if t else None)
            for c, p, e, t in rows
        ]

    def sample(self, campaign_id: int, count: int) -> list[tuple[int, bytes]]:
        rows = self.query(
            "SELECT person, sealed FROM notify_outbox WHERE campaign_id = ? "
            "AND channel IS NOT NULL ORDER BY person LIMIT ?",
            (campaign_id, count),
        )
        return [(int(p), bytes(s)) for p, s in rows]


@contextmanager
def database_errors(where: str) -> Iterator[None]:
    """Database failures (read-only, disk full, server gone) as one clear error."""
    try:
        yield
    except WorkspaceError:
        raise
    except Exception as exc:
        if not _is_database_error(getattr(exc, "orig", None) or exc):
            raise
        raise WorkspaceError(
            f"the outbox ({where}) cannot be used: {_first_line(getattr(exc, 'orig', None) or exc)}"
            ". Nothing that was committed is lost: fix the cause and run the command again, the "
            "campaign resumes where it stopped"
        ) from None


def _events(box: Outbox, cur: Any, rows: list[tuple[Any, ...]]) -> None:
    if rows:
        cur.executemany(
            box.sql(
                "INSERT INTO notify_events (campaign_id, person, channel, status, at, attempt, "
                "detail) VALUES (?, ?, ?, ?, ?, ?, ?)"
            ),
            rows,
        )


def _rowcount(cur: Any) -> int:
    count = getattr(cur, "rowcount", -1)
    return int(count) if count is not None else -1


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _is_database_error(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error):
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is only needed for PostgreSQL
        return False
    return isinstance(exc, psycopg.Error)


class SqliteOutbox(Outbox):
    """One writer at a time: ``BEGIN IMMEDIATE`` takes SQLite's write lock before the claim
    reads, so two workers (threads or processes) never pick the same rows; they queue on the
    lock (``busy_timeout``) instead."""

    def __init__(self, con: sqlite3.Connection, where: str) -> None:
        con.isolation_level = None  # transactions are explicit
        # WAL (set by state.py) + NORMAL: a committed claim survives a killed process.
        con.execute("PRAGMA synchronous = NORMAL")
        con.execute("PRAGMA cache_size = -65536")  # 64 MB: the code index takes random inserts
        super().__init__(con, where)

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self.guard():
            cur = self.con.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                if self.con.in_transaction:
                    self.con.execute("ROLLBACK")
                raise
            self.con.execute("COMMIT")

    def _pick(self, condition: str) -> str:
        return f"IN (SELECT person FROM notify_outbox WHERE {condition} LIMIT ?)"

    def insert(self, rows: Sequence[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" for _ in OUTBOX_COLUMNS)
        with self.transaction() as cur:
            cur.executemany(
                f"INSERT INTO notify_outbox ({', '.join(OUTBOX_COLUMNS)}) VALUES ({marks})", rows
            )


class PostgresOutbox(Outbox):
    """Many workers, many machines: ``FOR UPDATE SKIP LOCKED`` gives each claim rows no other
    open claim holds, without waiting; ``COPY`` loads a plan."""

    placeholder = "%s"

    def __init__(self, con: Any, where: str) -> None:
        con.autocommit = True  # reads see the latest commits; writes use explicit transactions
        super().__init__(con, where)

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self.guard(), self.con.transaction(), self.con.cursor() as cur:
            yield cur

    def _pick(self, condition: str) -> str:
        # = ANY(ARRAY(...)): the locking subquery runs exactly once.
        return (
            f"= ANY(ARRAY(SELECT person FROM notify_outbox WHERE {condition} "
            "LIMIT ? FOR UPDATE SKIP LOCKED))"
        )

    def insert(self, rows: Sequence[tuple[Any, ...]]) -> None:
        with (
            self.transaction() as cur,
            cur.copy(f"COPY notify_outbox ({', '.join(OUTBOX_COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)


def open_outbox(settings: dict[str, Any]) -> Outbox:
    """The outbox of the configured state database, through a connection of its own."""
    engine = engine_for(settings)
    where = state_url(settings).split("@")[-1]  # no password in messages
    try:
        ensure_tables(engine)
        raw = engine.raw_connection()
    except Exception as exc:
        if not _is_database_error(getattr(exc, "orig", exc)):
            raise
        raise WorkspaceError(f"the outbox ({where}) cannot be opened: {_first_line(exc)}") from None
    con: Any = raw.driver_connection
    raw.detach()  # ours alone: its transaction settings must not leak back into the pool
    if engine.dialect.name == "sqlite":
        return SqliteOutbox(con, where)
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        return PostgresOutbox(con, where)
    raise ConfigError(
        f"state_url: the outbox runs on SQLite or on PostgreSQL through psycopg 3 "
        f"(postgresql+psycopg://...), not {engine.dialect.name}+{engine.dialect.driver}"
    )
