"""``notify plan``: a campaign's recipients from the affected population, set-based.

DuckDB picks, per affected person, the contacts of their registry record (the organisation's
current data; the leaked ones only with ``notify_leaked_contacts``), the channels they can be
reached on in the campaign's order of preference (e-mail > SMS > letter by default; SMS only to
mobile numbers), their language, what leaked for them in this breach and their risks, and emits
it in Arrow batches. Python seals each person's payload (AES-256-GCM), derives the keyed tags of
their authenticity code and contacts, and bulk-loads the outbox. Every affected person gets one
row: reachable ones ``queued`` on their first channel, the others ``unreachable`` (counted, so the
plan reconciles: affected people = recipients per channel + unreachable).
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from breachwatch.errors import UsageError, WorkspaceError
from breachwatch.notify import campaign as campaigns
from breachwatch.notify.codes import code_value, value_tag
from breachwatch.notify.content import load_content
from breachwatch.notify.keys import NotifyKeys, create_keys, row_aad
from breachwatch.notify.models import CHANNELS
from breachwatch.notify.outbox import Outbox, now, open_outbox
from breachwatch.risk.exposure import leaks
from breachwatch.risk.rules import compute_risk
from breachwatch.store.schema import raw_value_sql
from breachwatch.store.workspace import Workspace

BATCH_ROWS = 50_000
LANGUAGES = ("fr", "en")
Progress = Callable[[str, int, int], None]

_PEOPLE = """
    CREATE OR REPLACE TEMP TABLE bw_notify_people AS
    SELECT registry_uid, list_sort(list_distinct(flatten(list(data_classes)))) AS classes
    FROM affected WHERE breach = $breach GROUP BY registry_uid
"""

# SMS only to mobiles: in France +336 / +337; abroad we cannot tell from the number alone.
_MOBILE = "(NOT starts_with({c}, '+33') OR starts_with({c}, '+336') OR starts_with({c}, '+337'))"

_LEAKED_CONTACTS = f"""
    SELECT l.registry_uid,
           min(CASE WHEN r.email_valid THEN lower(r.email) END) AS email,
           min(CASE WHEN r.phone_valid AND {_MOBILE.format(c="r.phone")} THEN r.phone END)
               AS mobile
    FROM (SELECT registry_uid, unnest(leak_uids) AS leak_uid FROM affected
          WHERE breach = $breach) l
    JOIN records r ON r.record_uid = l.leak_uid
    GROUP BY l.registry_uid
"""
_NO_LEAKED_CONTACTS = (
    "SELECT NULL::BIGINT AS registry_uid, NULL::VARCHAR AS email, NULL::VARCHAR AS mobile "
    "WHERE false"
)

_AVAILABLE = {
    "email": "email IS NOT NULL",
    "sms": "mobile IS NOT NULL",
    "letter": "address IS NOT NULL",
}


def _recipients_sql(channels: tuple[str, ...], leaked: bool, language_column: bool) -> str:
    language = "$default_language"
    if language_column:
        position = "list_position(s.column_names, $language_column)"
        raw = f"lower(trim({raw_value_sql('r', 's.raw_slots', position)}))"
        language = (
            f"CASE WHEN {raw} LIKE 'en%' THEN 'en' WHEN {raw} LIKE 'fr%' THEN 'fr' "
            "ELSE $default_language END"
        )
    available = ", ".join(f"CASE WHEN {_AVAILABLE[c]} THEN '{c}' END" for c in channels)
    return f"""
    WITH rk AS (SELECT registry_uid, list(DISTINCT risk ORDER BY risk) AS risks FROM risk
                GROUP BY registry_uid),
    leaked AS ({_LEAKED_CONTACTS if leaked else _NO_LEAKED_CONTACTS}),
    base AS (
        SELECT p.registry_uid AS person, r.record_id, r.first_name, r.last_name,
               coalesce(CASE WHEN r.email_valid THEN lower(r.email)
                             WHEN r.email_2_valid THEN lower(r.email_2) END, l.email) AS email,
               coalesce(CASE WHEN r.phone_valid AND {_MOBILE.format(c="r.phone")} THEN r.phone
                             WHEN r.phone_2_valid AND {_MOBILE.format(c="r.phone_2")}
                             THEN r.phone_2 END, l.mobile) AS mobile,
               CASE WHEN r.postal_address_valid AND r.postal_code IS NOT NULL
                         AND r.city IS NOT NULL THEN r.postal_address END AS address,
               r.postal_code, r.city, {language} AS lang,
               p.classes, coalesce(rk.risks, []) AS risks
        FROM bw_notify_people p
        JOIN records r ON r.record_uid = p.registry_uid
        JOIN sources s ON s.source_id = r.source_id
        LEFT JOIN rk ON rk.registry_uid = p.registry_uid
        LEFT JOIN leaked l ON l.registry_uid = p.registry_uid)
    SELECT person,
           list_filter([{available}], x -> x IS NOT NULL) AS available,
           lang, email, mobile,
           to_json({{'record_id': record_id, 'first_name': first_name,
                     'last_name': last_name, 'lang': lang, 'email': email, 'mobile': mobile,
                     'address': address, 'postal_code': postal_code, 'city': city,
                     'classes': classes, 'risks': risks}})::VARCHAR AS payload
    FROM base
    ORDER BY person  -- the outbox's primary key then grows at its end: no random inserts
    """


@dataclass
class PlanSummary:
    campaign: str
    breach: str
    people: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    by_language: dict[str, int] = field(default_factory=dict)
    reachable: dict[str, int] = field(default_factory=dict)
    with_fallback: int = 0
    seconds: float = 0.0
    risk_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "breach": self.breach,
            "people": self.people,
            "by_channel": self.by_channel,
            "by_language": self.by_language,
            "reachable": self.reachable,
            "with_fallback": self.with_fallback,
            "seconds": round(self.seconds, 2),
            "risk_seconds": round(self.risk_seconds, 2),
        }


def parse_channels(text: str) -> tuple[str, ...]:
    chosen = tuple(c.strip() for c in text.split(",") if c.strip())
    unknown = [c for c in chosen if c not in CHANNELS]
    if unknown or not chosen or len(set(chosen)) != len(chosen):
        raise UsageError(
            f"--channels {text!r}: expected distinct channels among {', '.join(CHANNELS)}, "
            "in order of preference"
        )
    return chosen


def plan_campaign(
    ws: Workspace,
    *,
    breach: str,
    name: str,
    channels: tuple[str, ...] = CHANNELS,
    content_file: Path | None = None,
    operator: str,
    progress: Progress | None = None,
    refresh_risk: bool = False,
) -> PlanSummary:
    """Plans campaign ``name``. The risks come from the ``risk`` table when it was computed for
    this breach (by ``breachwatch risk`` or ``index``); ``refresh_risk`` computes it again (do
    so after a new linkage)."""
    started = time.perf_counter()
    settings = ws.settings
    if breach not in leaks(ws):
        raise UsageError(f"breach {breach!r} is not an ingested leak")
    language = str(settings["notify_default_language"])
    if language not in LANGUAGES:
        raise UsageError(f"notify_default_language {language!r}: expected fr or en")
    content = load_content(content_file)
    keys = create_keys(settings)
    report = progress or (lambda label, done, total: None)
    summary = PlanSummary(name, breach)

    report("risk", 0, 1)
    if refresh_risk or not _risk_is_for(ws, breach):
        compute_risk(ws, breach)
    report("risk", 1, 1)
    summary.risk_seconds = time.perf_counter() - started
    campaign_id = campaigns.create_campaign(
        settings,
        name=name,
        breach=breach,
        channels=channels,
        content=content,
        key_id=keys.key_id,
        operator=operator,
    )
    ws.con.execute(_PEOPLE, {"breach": breach})
    try:
        total = _scalar(ws, "SELECT count(*) FROM bw_notify_people")
        outbox = open_outbox(settings)
        try:
            _load(ws, outbox, keys, campaign_id, channels, summary, total, report)
        finally:
            outbox.close()
    finally:
        ws.con.execute("DROP TABLE IF EXISTS bw_notify_people")
    if summary.people != total:
        raise WorkspaceError(
            f"plan of {name!r} does not reconcile: {total:,} affected people, "
            f"{summary.people:,} planned"
        )
    summary.seconds = time.perf_counter() - started
    campaigns.planned(settings, name, summary.to_json(), operator)
    return summary


def _load(
    ws: Workspace,
    outbox: Outbox,
    keys: NotifyKeys,
    campaign_id: int,
    channels: tuple[str, ...],
    summary: PlanSummary,
    total: int,
    report: Progress,
) -> None:
    settings = ws.settings
    column = str(settings["notify_language_column"])
    sql = _recipients_sql(channels, bool(settings["notify_leaked_contacts"]), bool(column))
    params: dict[str, Any] = {"default_language": settings["notify_default_language"]}
    if column:
        params["language_column"] = column
    if bool(settings["notify_leaked_contacts"]):
        params["breach"] = summary.breach
    by_channel: Counter[str] = Counter()
    by_language: Counter[str] = Counter()
    reachable: Counter[str] = Counter()
    report("outbox", 0, total)
    # Three stages on their own threads: DuckDB (which releases the GIL) makes the next batch
    # and SQLite/PostgreSQL (likewise) stores the previous one while Python seals this one.
    writes: queue.Queue[list[tuple[Any, ...]] | None] = queue.Queue(maxsize=2)
    writer = _Stage(lambda: _write(outbox, writes))
    try:
        for batch in _Stage.iterate(lambda: _batches(ws, sql, params)):
            rows = _rows(keys, campaign_id, batch)
            writer.put(writes, rows)
            summary.people += len(rows)
            for row, available, lang in zip(rows, batch["available"], batch["lang"], strict=True):
                by_channel[row[2] or "unreachable"] += 1
                by_language[lang] += 1
                reachable.update(available)
                summary.with_fallback += 1 if row[3] else 0
            report("outbox", summary.people, total)
    finally:
        writer.put(writes, None)
        writer.join()
    summary.by_channel = {c: by_channel[c] for c in (*channels, "unreachable")}
    summary.by_language = dict(sorted(by_language.items()))
    summary.reachable = {c: reachable[c] for c in channels}


class _Stage:
    """A thread of the plan's pipeline; its exception is raised again in the caller."""

    def __init__(self, target: Callable[[], None]) -> None:
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(target,), daemon=True)
        self.thread.start()

    def _run(self, target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            self.error = exc

    def put(self, into: queue.Queue[Any], item: Any) -> None:
        while self.thread.is_alive():
            try:
                into.put(item, timeout=0.5)
                return
            except queue.Full:
                continue
        self.join()

    def join(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise self.error

    @staticmethod
    def iterate(make: Callable[[], Iterator[Any]]) -> Iterator[Any]:
        """The items of ``make()``, produced one ahead on another thread; the producer stops
        (and lets go of its connection) when the consumer does, even on an error."""
        items: queue.Queue[Any] = queue.Queue(maxsize=2)
        done, stop = object(), threading.Event()

        def put(item: Any) -> None:
            while not stop.is_set():
                try:
                    items.put(item, timeout=0.2)
                    return
                except queue.Full:
                    continue

        def produce() -> None:
            try:
                for item in make():
                    if stop.is_set():
                        return
                    put(item)
            finally:
                put(done)

        stage = _Stage(produce)
        try:
            while (item := items.get()) is not done:
                yield item
        finally:
            stop.set()
            stage.thread.join()
        stage.join()


def _write(outbox: Outbox, writes: queue.Queue[list[tuple[Any, ...]] | None]) -> None:
    while (rows := writes.get()) is not None:
        outbox.insert(rows)


def _batches(ws: Workspace, sql: str, params: dict[str, Any]) -> Iterator[dict[str, list[Any]]]:
    reader = ws.con.execute(sql, params).fetch_record_batch(BATCH_ROWS)
    for batch in reader:
        yield {name: batch.column(name).to_pylist() for name in batch.schema.names}


def _rows(keys: NotifyKeys, campaign_id: int, batch: dict[str, list[Any]]) -> list[tuple[Any, ...]]:
    sealer = keys.sealer()
    at = now()
    rows = []
    for person, available, email, mobile, payload in zip(
        batch["person"],
        batch["available"],
        batch["email"],
        batch["mobile"],
        batch["payload"],
        strict=True,
    ):
        code = value_tag(keys, code_value(keys, campaign_id, person))
        rows.append(
            (
                campaign_id,
                person,
                available[0] if available else None,
                ",".join(available[1:]),
                "queued" if available else "unreachable",
                0,
                at,
                0,
                at,
                code,
                keys.tag("contact", b"email:" + email.encode()) if email else None,
                keys.tag("contact", b"phone:" + mobile.encode()) if mobile else None,
                sealer.seal(payload.encode(), row_aad(campaign_id, person)),
            )
        )
    return rows


def _risk_is_for(ws: Workspace, breach: str) -> bool:
    try:
        row = ws.con.execute(
            "SELECT any_value(relative_to), count(*) FROM exposure WHERE relative_to = ?", [breach]
        ).fetchone()
        ws.con.execute("SELECT 1 FROM risk LIMIT 1")
    except duckdb.Error:  # not built yet
        return False
    return bool(row and row[1])


def _scalar(ws: Workspace, sql: str) -> int:
    row = ws.con.execute(sql).fetchone()
    return int(row[0]) if row else 0
