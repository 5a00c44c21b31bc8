"""Running a campaign: workers (a thread, or processes), bounces, progress, and the status.

``run_campaign`` starts ``--workers`` workers (one runs in this process; more run as processes,
which is what uses several cores: rendering and MIME are CPU work under the GIL). The calling
process watches: every second it reads the bounce folder and reports progress. Several ``notify
run`` on several machines may share one campaign when the state database is PostgreSQL.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from breachwatch.errors import ConfigError, KeyError_
from breachwatch.notify import campaign as campaigns
from breachwatch.notify.bounces import scan_bounces
from breachwatch.notify.keys import NotifyKeys, load_keys
from breachwatch.notify.models import CHANNELS, PENDING
from breachwatch.notify.outbox import Outbox, open_outbox
from breachwatch.notify.worker import RunOptions, Worker, WorkerStats, parse_rates, run_worker

RATE_WINDOW = 30.0


@dataclass
class StatusReport:
    campaign: str
    breach: str
    status: str
    counts: dict[tuple[str, str], int]
    people: int
    pending: int
    letters_queued: int
    rate: float  # messages sent per second, over the last RATE_WINDOW seconds
    eta_seconds: float | None
    possible_duplicates: int
    created_by: str
    approved_by: str | None

    def to_json(self) -> dict[str, Any]:
        by_channel: dict[str, dict[str, int]] = {}
        for (channel, status), n in sorted(self.counts.items()):
            by_channel.setdefault(channel, {})[status] = n
        return {
            "campaign": self.campaign,
            "breach": self.breach,
            "status": self.status,
            "people": self.people,
            "by_channel": by_channel,
            "pending": self.pending,
            "letters_queued": self.letters_queued,
            "rate_per_second": round(self.rate, 1),
            "eta_seconds": round(self.eta_seconds) if self.eta_seconds is not None else None,
            "possible_duplicates": self.possible_duplicates,
            "created_by": self.created_by,
            "approved_by": self.approved_by,
        }


def status_report(
    settings: dict[str, Any], name: str, outbox: Outbox | None = None
) -> StatusReport:
    info = campaigns.get_campaign(settings, name)
    own = outbox is None
    box = outbox or open_outbox(settings)
    try:
        counts = box.counts(info.id)
        rate = box.recent(info.id, RATE_WINDOW) / RATE_WINDOW
        duplicates, _ = box.resent(info.id)
    finally:
        if own:
            box.close()
    pending = sum(n for (c, s), n in counts.items() if s in PENDING and c in ("email", "sms"))
    return StatusReport(
        info.name,
        info.breach,
        info.status,
        counts,
        sum(counts.values()),
        pending,
        counts.get(("letter", "queued"), 0),
        rate,
        pending / rate if rate > 0 else None,
        duplicates,
        info.created_by,
        info.approved_by,
    )


@dataclass
class RunSummary:
    campaign: str
    workers: int
    channels: list[str]
    outcomes: Counter[str] = field(default_factory=Counter)
    reclaimed: int = 0
    bounces: int = 0
    seconds: float = 0.0
    final: StatusReport | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "workers": self.workers,
            "channels": self.channels,
            "outcomes": dict(self.outcomes),
            "reclaimed_after_lease_expiry": self.reclaimed,
            "bounces": self.bounces,
            "seconds": round(self.seconds, 2),
            "status": self.final.to_json() if self.final else None,
        }


def run_campaign(
    settings: dict[str, Any],
    name: str,
    *,
    operator: str,
    workers: int = 1,
    rates: dict[str, float] | None = None,
    progress: Callable[[StatusReport], None] | None = None,
) -> RunSummary:
    started = time.perf_counter()
    if workers < 1:
        raise ConfigError("--workers must be at least 1")
    info = campaigns.get_campaign(settings, name)
    keys = load_keys(settings)
    if info.key_id != keys.key_id:
        raise KeyError_(
            f"campaign {name!r} was planned with notify key {info.key_id}, but {keys.path} is "
            f"key {keys.key_id}: copy the planning machine's key file (notify_key_file)"
        )
    rates = rates if rates is not None else parse_rates(str(settings["notify_rate"]))
    options = RunOptions.from_settings(settings, {c: r / workers for c, r in rates.items()})
    info = campaigns.transition(settings, name, "start", operator)
    channels = Worker(settings, info, keys, options).channels()
    if not channels and any(c in info.channels for c in ("email", "sms")):
        raise ConfigError(
            f"campaign {name!r} sends by {', '.join(info.channels)}, but neither smtp_host nor "
            "sms_url is set on this machine"
        )
    summary = RunSummary(name, workers, channels)
    stats = _supervise(settings, info, keys, options, workers, summary, progress)
    for one in stats:
        summary.outcomes.update(one.outcomes)
        summary.reclaimed += one.reclaimed
    summary.final = _finish(settings, name, operator)
    summary.seconds = time.perf_counter() - started
    return summary


def _supervise(
    settings: dict[str, Any],
    info: campaigns.CampaignInfo,
    keys: NotifyKeys,
    options: RunOptions,
    workers: int,
    summary: RunSummary,
    progress: Callable[[StatusReport], None] | None,
) -> list[WorkerStats]:
    """Runs the workers to the end, reading bounces and reporting progress meanwhile."""
    results: list[WorkerStats] = []
    errors: list[BaseException] = []
    stopping = threading.Event()

    def in_thread() -> None:
        try:
            results.append(run_worker(settings, info, keys, options, stopping.is_set))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            errors.append(exc)

    thread = threading.Thread(target=in_thread, name="bw-worker", daemon=True)
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(
            target=_child, args=(settings, info.name, options, os.getpid()), daemon=True
        )
        for _ in range(workers - 1)
    ]
    monitor = open_outbox(settings)
    summary.bounces += scan_bounces(settings, monitor)  # their fallbacks are sent in this run
    thread.start()
    for child in children:
        child.start()
    try:
        while thread.is_alive() or any(c.is_alive() for c in children):
            summary.bounces += scan_bounces(settings, monitor)
            if progress is not None:
                progress(status_report(settings, info.name, monitor))
            thread.join(timeout=1.0)
        summary.bounces += scan_bounces(settings, monitor)
    except BaseException:
        stopping.set()
        for child in children:
            child.terminate()
        raise
    finally:
        monitor.close()
    if errors:
        raise errors[0]
    failed = [c.exitcode for c in children if c.exitcode]
    if failed:
        raise ConfigError(f"{len(failed)} worker process(es) failed (exit codes {failed})")
    return results


def _child(settings: dict[str, Any], name: str, options: RunOptions, parent: int) -> None:
    """A worker process; it stops when the process that started it is gone."""
    info = campaigns.get_campaign(settings, name)
    run_worker(settings, info, load_keys(settings), options, lambda: os.getppid() != parent)


def _finish(settings: dict[str, Any], name: str, operator: str) -> StatusReport:
    report = status_report(settings, name)
    left = sum(n for (c, s), n in report.counts.items() if s in PENDING and c in CHANNELS)
    if report.status == "running" and left == 0:
        campaigns.transition(settings, name, "done", operator)
        report = status_report(settings, name)
    return report
