"""``notify run``: workers that drain a campaign's outbox through the channel adapters.

A worker is one asyncio loop per process. Per channel (e-mail, SMS) it claims a batch (the
database commits ``sending`` and a lease first), renders and sends every message concurrently
(a pool of SMTP connections, an HTTP/1.1 connection pool for SMS) within the channel's rate,
and records the outcomes in one transaction. While a batch is sent the next one is claimed, so
the database round trips overlap the network ones; a heartbeat extends the leases of what the
worker holds, however slow a provider is, and stops when the worker dies (then another worker
takes the rows over, with the same references).

Outcomes: accepted → ``sent``; a temporary failure → ``temporary_failure``, retried after
``notify_retry_seconds · 2^(attempt-1)`` (±50 % jitter, at most ``notify_retry_max_seconds``,
at least the provider's Retry-After); after ``notify_max_attempts``, or on a permanent failure,
the row moves to the person's next channel (``queued``) or ends ``permanent_failure``. Letters
are not sent here: ``notify letters`` prints them.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from breachwatch.errors import ConfigError, UsageError
from breachwatch.notify.campaign import CampaignInfo, campaign_status
from breachwatch.notify.codes import issue_code
from breachwatch.notify.content import Composer as ContentComposer
from breachwatch.notify.keys import NotifyKeys, row_aad
from breachwatch.notify.mail import Composer as MailComposer
from breachwatch.notify.mail import Email, SmtpPool, pool_from_settings
from breachwatch.notify.outbox import Claimed, Outbox, Outcome, open_outbox
from breachwatch.notify.senders import _ADDR_SPEC, AsyncHttpSmsSender, OutgoingMessage, SendResult

T = TypeVar("T")
SENT_CHANNELS = ("email", "sms")
_REFERENCE = re.compile(r"bw-(\d+)-(\d+)-(email|sms|letter)")
_RATE = re.compile(r"(email|sms)=(\d+(?:\.\d+)?)/(s|m|h)")
_PER = {"s": 1.0, "m": 60.0, "h": 3600.0}


def reference(campaign_id: int, person: int, channel: str) -> str:
    """The deterministic id of a message: its Message-ID's left part, its SMS client
    reference. A resend after a crash carries the same one."""
    return f"bw-{campaign_id}-{person}-{channel}"


def parse_reference(text: str) -> tuple[int, int, str] | None:
    found = _REFERENCE.search(text)
    if found is None:
        return None
    return int(found.group(1)), int(found.group(2)), found.group(3)


def parse_rates(text: str) -> dict[str, float]:
    """``email=200/s,sms=50/s`` → messages per second by channel."""
    rates: dict[str, float] = {}
    for item in (p.strip() for p in text.split(",") if p.strip()):
        found = _RATE.fullmatch(item)
        if found is None:
            raise UsageError(f"--rate {item!r}: expected CHANNEL=N/s (or /m, /h), e.g. email=200/s")
        rates[found.group(1)] = float(found.group(2)) / _PER[found.group(3)]
    return rates


@dataclass(frozen=True)
class RunOptions:
    rates: dict[str, float]
    batch: int
    lease: float
    max_attempts: int
    retry_base: float
    retry_max: float

    @classmethod
    def from_settings(cls, settings: dict[str, Any], rates: dict[str, float]) -> RunOptions:
        options = cls(
            rates=rates,
            batch=int(settings["notify_batch"]),
            lease=float(settings["notify_lease_seconds"]),
            max_attempts=int(settings["notify_max_attempts"]),
            retry_base=float(settings["notify_retry_seconds"]),
            retry_max=float(settings["notify_retry_max_seconds"]),
        )
        if options.batch < 1 or options.lease <= 0 or options.max_attempts < 1:
            raise ConfigError(
                "notify_batch, notify_lease_seconds and notify_max_attempts must be positive"
            )
        return options

    def backoff(self, attempts: int) -> float:
        delay = min(self.retry_max, self.retry_base * 2 ** max(attempts - 1, 0))
        return delay * random.uniform(0.5, 1.5)


class _Lease:
    """How long this worker surely holds a claimed batch (monotonic clock).

    The database's lease runs from the claim, and from each renewal by the heartbeat. A renewal
    counts only if it completed before the lease it renews ran out: after that, another worker
    may have taken the rows over, and the renewal (which touches only rows still this worker's)
    says nothing about them. A third of the lease is kept in hand for the send itself. So a
    worker starved of CPU or of its database (its heartbeat late) stops sending rather than race
    the worker that took its rows over: two live workers never send the same message."""

    def __init__(self, until: float) -> None:
        self.until = until

    def renewed(self, asked: float, completed: float, lease: float) -> None:
        self.until = asked + lease if completed < self.until else float("-inf")

    def holds(self, lease: float) -> bool:
        return time.monotonic() < self.until - lease / 3


@dataclass
class WorkerStats:
    outcomes: Counter[str] = field(default_factory=Counter)
    reclaimed: int = 0
    seconds: float = 0.0


class TokenBucket:
    """``rate`` messages per second, bursts of at most one second's worth."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.tokens = 1.0
        self.at = time.monotonic()
        self.lock = asyncio.Lock()

    async def take(self) -> None:
        if not self.rate:
            return
        async with self.lock:
            current = time.monotonic()
            self.tokens = min(max(self.rate, 1.0), self.tokens + (current - self.at) * self.rate)
            self.at = current
            if self.tokens < 1:
                await asyncio.sleep((1 - self.tokens) / self.rate)
                self.tokens, self.at = 1.0, time.monotonic()
            self.tokens -= 1


def worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{os.urandom(4).hex()}"


class Worker:
    def __init__(
        self,
        settings: dict[str, Any],
        campaign: CampaignInfo,
        keys: NotifyKeys,
        options: RunOptions,
        stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.settings, self.campaign, self.keys, self.options = settings, campaign, keys, options
        self.stop = stop
        self.id = worker_id()
        self.stats = WorkerStats()
        self.sealer = keys.sealer()
        self.content = ContentComposer(
            campaign.content,
            organisation=str(settings["organisation"]),
            dpo=str(settings["dpo_contact"]),
            breach=campaign.breach,
        )
        self.mail: tuple[SmtpPool, MailComposer] | None = None
        self.sms: AsyncHttpSmsSender | None = None
        self._status, self._status_at = campaign.status, 0.0
        self._busy: dict[str, bool] = {}
        self._leases: set[_Lease] = set()  # of the batches being sent

    def channels(self) -> list[str]:
        """The campaign's channels this machine can send (e-mail needs ``smtp_host``, SMS
        ``sms_url``)."""
        configured = {"email": bool(self.settings.get("smtp_host")),
                      "sms": bool(self.settings.get("sms_url"))}  # fmt: skip
        return [c for c in self.campaign.channels if configured.get(c)]

    async def run(self) -> WorkerStats:
        started = time.perf_counter()
        self.outbox = open_outbox(self.settings)
        self._db_thread = ThreadPoolExecutor(1, thread_name_prefix="bw-outbox")
        self.mail = pool_from_settings(self.settings)
        if self.settings.get("sms_url"):
            self.sms = AsyncHttpSmsSender(
                str(self.settings["sms_url"]),
                str(self.settings["sms_api_key"]),
                str(self.settings["sms_sender_id"]),
                timeout=float(self.settings["sms_timeout"]),
            )
        # A send starts only when a connection is free for it, so that the lease is checked
        # right before the message goes out, not before it waits in the pool's queue.
        self._slots = {
            "email": asyncio.Semaphore(self.mail[0].size if self.mail else 1),
            "sms": asyncio.Semaphore(self.sms.connections if self.sms else 1),
        }
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            async with asyncio.TaskGroup() as group:  # one channel failing stops the others
                for channel in self.channels():
                    group.create_task(self._drain(channel))
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None
        finally:
            heartbeat.cancel()
            await self._close()
        self.stats.seconds = time.perf_counter() - started
        return self.stats

    async def _close(self) -> None:
        if self.mail is not None:
            await self.mail[0].close()
        if self.sms is not None:
            await self.sms.aclose()
        self._db_thread.shutdown(wait=True)
        self.outbox.close()

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db_thread, partial(fn, *args))

    async def _heartbeat(self) -> None:
        """Extends this worker's leases, and keeps the campaign's state fresh (a pause takes
        effect within half a second, even in the middle of a batch)."""
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(0.5)
            await self._state()
            if time.monotonic() - renewed >= self.options.lease / 3:
                asked = time.monotonic()
                await self._db(self.outbox.renew, self.campaign.id, self.id, self.options.lease)
                renewed = time.monotonic()
                for lease in self._leases:
                    lease.renewed(asked, renewed, self.options.lease)

    async def _state(self) -> str:
        if time.monotonic() - self._status_at > 0.5:
            self._status = await self._db(campaign_status, self.settings, self.campaign.id)
            self._status_at = time.monotonic()
        return self._status

    async def _drain(self, channel: str) -> None:
        self._busy[channel] = True
        bucket = TokenBucket(self.options.rates.get(channel))
        send = self._send_email if channel == "email" else self._send_sms
        finishing: asyncio.Future[int] | None = None
        claim: asyncio.Future[tuple[_Lease, list[Claimed]]] | None = None
        while True:
            if claim is None and await self._running():
                claim = self._claim(channel)
            if claim is not None:
                lease, claimed = await claim
                claim = None
                if claimed:
                    if await self._running():  # the next batch, claimed while this one is sent
                        claim = self._claim(channel)
                    try:
                        outcomes = await self._send_batch(claimed, lease, send, bucket)
                    finally:
                        self._leases.discard(lease)
                    if finishing is not None:
                        await finishing
                    finishing = asyncio.ensure_future(
                        self._db(self.outbox.finish, self.campaign.id, self.id, outcomes)
                    )
                    continue
            if finishing is not None:
                await finishing
                finishing = None
            if self.stop() or not await self._wait(channel, await self._state()):
                return

    async def _running(self) -> bool:
        return not self.stop() and await self._state() == "running"

    def _claim(self, channel: str) -> asyncio.Future[tuple[_Lease, list[Claimed]]]:
        """The next batch, with its lease as this worker knows it."""

        async def claim() -> tuple[_Lease, list[Claimed]]:
            lease = _Lease(time.monotonic() + self.options.lease)
            options = self.options
            batch = await self._db(
                self.outbox.claim, self.campaign.id, channel, options.batch, options.lease, self.id
            )
            if batch:
                self._leases.add(lease)  # the heartbeat renews it from now on
            return lease, batch

        return asyncio.ensure_future(claim())

    async def _wait(self, channel: str, state: str) -> bool:
        """Sleeps until work may be due; False when the channel has nothing pending or the
        campaign stopped (cancelled)."""
        if state == "paused":
            await asyncio.sleep(0.5)
            return True
        if state != "running":
            return False
        due = await self._db(self.outbox.next_due, self.campaign.id, [channel])
        self._busy[channel] = due is not None
        if due is None:
            # Idle, but another channel's permanent failures may still fall back to this one.
            if any(busy for other, busy in self._busy.items() if other != channel):
                await asyncio.sleep(0.2)
                return True
            return False
        await asyncio.sleep(min(max(due - time.time(), 0.02), 1.0))
        return True

    async def _send_batch(
        self,
        claimed: list[Claimed],
        lease: _Lease,
        send: Callable[[Claimed, TokenBucket], Awaitable[SendResult]],
        bucket: TokenBucket,
    ) -> list[Outcome]:
        self.stats.reclaimed += sum(c.reclaimed for c in claimed)
        results = await asyncio.gather(
            *(self._unless_stopped(send, c, bucket, lease) for c in claimed)
        )
        outcomes = [self._outcome(c, r) for c, r in zip(claimed, results, strict=True)]
        self.stats.outcomes.update(o.status for o in outcomes)
        return outcomes

    async def _unless_stopped(
        self,
        send: Callable[[Claimed, TokenBucket], Awaitable[SendResult]],
        c: Claimed,
        bucket: TokenBucket,
        lease: _Lease,
    ) -> SendResult | None:
        """Sends within the rate, unless the campaign was paused or cancelled meanwhile or the
        lease may run out (None: not sent)."""
        await bucket.take()
        async with self._slots[c.channel]:
            if self.stop() or self._status != "running" or not lease.holds(self.options.lease):
                return None
            return await send(c, bucket)

    def _person(self, c: Claimed) -> dict[str, Any]:
        opened = self.sealer.open(c.sealed, row_aad(self.campaign.id, c.person))
        person: dict[str, Any] = json.loads(opened)
        return person

    async def _send_email(self, c: Claimed, bucket: TokenBucket) -> SendResult:
        assert self.mail is not None
        pool, composer = self.mail
        person = self._person(c)
        to = str(person.get("email") or "")
        if not _ADDR_SPEC.fullmatch(to):
            return SendResult(accepted=False, permanent=True, detail="invalid e-mail address")
        code = issue_code(self.keys, self.campaign.id, c.person)
        rendered = self.content.render("email", person, code)
        ref = reference(self.campaign.id, c.person, "email")
        data = composer.compose(
            Email(to, rendered.subject, rendered.text, rendered.html, ref, rendered.language)
        )
        return await pool.send(to, data)

    async def _send_sms(self, c: Claimed, bucket: TokenBucket) -> SendResult:
        assert self.sms is not None
        person = self._person(c)
        code = issue_code(self.keys, self.campaign.id, c.person)
        rendered = self.content.render("sms", person, code)
        ref = reference(self.campaign.id, c.person, "sms")
        message = OutgoingMessage(
            channel="sms",
            to=str(person.get("mobile") or ""),
            text=rendered.text,
            reference=ref,
            language=rendered.language,
        )
        return await self.sms.send(message)

    def _outcome(self, c: Claimed, result: SendResult | None) -> Outcome:
        at = time.time()
        if result is None:  # released unsent: queued again, the attempt not counted
            status = "cancelled" if self._status == "cancelled" else "queued"
            why = "lease running out" if self._status == "running" else f"campaign {self._status}"
            return Outcome(
                c.person, c.channel, status, c.attempts - 1, c.fallbacks, at,
                f"released unsent: {why}",
            )  # fmt: skip
        if result.accepted:
            return Outcome(
                c.person, c.channel, "sent", c.attempts, c.fallbacks, at,
                provider_id=result.provider_id,
            )  # fmt: skip
        detail = result.detail[:200]
        if not result.permanent and c.attempts < self.options.max_attempts:
            delay = max(self.options.backoff(c.attempts), result.retry_after or 0.0)
            return Outcome(
                c.person, c.channel, "temporary_failure", c.attempts, c.fallbacks, at + delay,
                detail,
            )  # fmt: skip
        if not result.permanent:
            detail = f"gave up after {c.attempts} attempts: {detail}"[:200]
        if c.fallbacks:
            following, _, rest = c.fallbacks.partition(",")
            return Outcome(
                c.person, following, "queued", 0, rest, at, detail, fell_back_from=c.channel
            )
        return Outcome(c.person, c.channel, "permanent_failure", c.attempts, "", at, detail)


def run_worker(
    settings: dict[str, Any],
    campaign: CampaignInfo,
    keys: NotifyKeys,
    options: RunOptions,
    stop: Callable[[], bool] = lambda: False,
) -> WorkerStats:
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        return runner.run(Worker(settings, campaign, keys, options, stop).run())


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (it comes with uvicorn[standard]): the worker spends most
    of its time in socket I/O and SMTP parsing callbacks, where uvloop's event loop costs less
    CPU per message than asyncio's (BENCHMARKS.md, notification campaigns)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def pending(outbox: Outbox, campaign_id: int, channels: list[str]) -> int:
    counts = outbox.counts(campaign_id)
    return sum(
        n
        for (channel, status), n in counts.items()
        if channel in channels and status in ("queued", "sending", "temporary_failure")
    )
