"""The private self-check: the page queues a check; a background worker answers by message.

The request path does the same constant work whatever the identifier (validate the form, count
the rate limits, enqueue), so neither the page, the status code nor the response time depends on
membership. The lookup and the sending happen afterwards, in a child process, at least
ANSWER_DELAY after the request (so they never compete with its response): the answer goes to
the e-mail or phone that was typed (whoever reads it controls that contact), or, for a NIR with
date of birth, to the contacts the registry holds for that person and to nobody when there is
no such person.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import multiprocessing
import queue
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from breachwatch.lookup.answer import Finding, compose
from breachwatch.lookup.identifiers import (
    Identifier,
    Kind,
    email_identifier,
    nir_identifier,
    phone_identifier,
)
from breachwatch.lookup.index import LookupIndex
from breachwatch.lookup.keys import LookupKeys
from breachwatch.notify.senders import OutgoingMessage, Sender
from breachwatch.risk.rules import load_rules

QUEUE_SIZE = 10_000
Channel = Literal["email", "sms"]


class FormError(Exception):
    """A form the page cannot accept; ``field`` names the input, ``code`` the message."""

    def __init__(self, field: str, code: str) -> None:
        super().__init__(code)
        self.field = field
        self.code = code


def parse_form(contact: str, nir: str, birth_date: str, region: str = "FR") -> Identifier:
    """One identifier from the page's inputs: an e-mail or phone, or a NIR with birth date."""
    contact, nir, birth_date = contact.strip(), nir.strip(), birth_date.strip()
    if contact and (nir or birth_date):
        raise FormError("contact", "one_only")
    if contact:
        if len(contact) > 254:
            raise FormError("contact", "bad_contact")
        found = email_identifier(contact) if "@" in contact else phone_identifier(contact, region)
        if found is None:
            raise FormError("contact", "bad_email" if "@" in contact else "bad_phone")
        return found
    if not nir:
        raise FormError("contact", "empty")
    if not birth_date:
        raise FormError("birth_date", "need_birth_date")
    found = nir_identifier(nir[:40], birth_date[:20])
    if found is None:
        raise FormError("nir", "bad_nir")
    return found


@dataclass(frozen=True)
class Job:
    identifier: Identifier
    lang: str
    not_before: float  # monotonic time: answered no earlier, well after the page went out


# Answers start at least this long after the request (plus jitter): the work a member's answer
# causes (lookup, composing, sending) then never overlaps that person's own response, which
# otherwise came out ~2 ms later for members than for non-members (BENCHMARKS.md, lookup).
ANSWER_DELAY = 0.1
ANSWER_JITTER = 0.05


class SelfCheck:
    """The page's side: validates, queues. The answers are looked up, composed and sent by an
    ``Answerer`` in a child process (started on the first check), so that their CPU work (a
    few ms per e-mail) neither slows the pages nor shows in their timing."""

    def __init__(
        self,
        settings: dict[str, Any],
        keys: LookupKeys,
        indexes: Callable[[], dict[str, LookupIndex]],
        senders: dict[str, Sender],
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.indexes = indexes
        self.senders = senders  # which channels exist; the child process has its own
        self.stats: Counter[str] = Counter()
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._process: Any = None
        self._jobs: Any = None
        self._pending: Any = None

    # -- request path: constant work ------------------------------------------------------

    def channels(self) -> set[str]:
        return set(self.senders)

    def rate_key(self, identifier: Identifier) -> str:
        """Keyed hash for the per-identifier limit: Redis never holds an identifier."""
        return hmac.new(
            self.keys.seal_key, b"ratelimit\x00" + identifier.data, hashlib.sha256
        ).hexdigest()

    def start(self) -> None:
        """Starts the answering process (the service does at start-up; else the first check)."""
        with self._lock:
            if self._process is not None and self._process.is_alive():
                return
            self._jobs = self._context.Queue(QUEUE_SIZE)
            self._pending = self._context.Value("i", 0)
            self._process = self._context.Process(
                target=_answer_loop,
                args=(self.settings, self._jobs, self._pending),
                name="breachwatch-answers",
                daemon=True,
            )
            self._process.start()

    def submit(self, identifier: Identifier, lang: str) -> bool:
        """Queues the check; False when the queue is full (the caller answers 503)."""
        if self._process is None or not self._process.is_alive():
            self.start()
        delay = ANSWER_DELAY + secrets.randbelow(1000) / 1000 * ANSWER_JITTER
        with self._pending.get_lock():
            self._pending.value += 1
        try:
            self._jobs.put_nowait(Job(identifier, lang, time.monotonic() + delay))
        except queue.Full:
            with self._pending.get_lock():
                self._pending.value -= 1
            self.stats["queue_full"] += 1
            return False
        return True

    def on_screen(self, identifier: Identifier) -> list[Finding]:
        """Findings in non-sensitive breaches only: those may be shown on the page."""
        return [
            Finding(name, payload)
            for name, index in self.indexes().items()
            if not index.sensitive
            for payload in index.find(identifier.data)
        ]

    def drain(self, timeout: float = 30.0) -> bool:
        """Waits until every queued check is answered (tests, shutdown)."""
        if self._pending is None:
            return True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._pending.value == 0:
                return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        if self._process is None:
            return
        with contextlib.suppress(queue.Full):
            self._jobs.put(None, timeout=5)
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.terminate()


def _answer_loop(settings: dict[str, Any], jobs: Any, pending: Any) -> None:
    """The child process: answers queued checks until it reads None."""
    from breachwatch.lookup.index import Indexes
    from breachwatch.lookup.keys import load_keys
    from breachwatch.notify.senders import sender_from_settings

    indexes = Indexes(Path(settings["home"]), load_keys(settings))
    answerer = Answerer(settings, indexes, sender_from_settings(settings))
    while True:
        job = jobs.get()
        if job is None:
            break
        wait = job.not_before - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            answerer.answer(job)
        except Exception:  # noqa: BLE001 - one failed answer must not stop the others
            answerer.stats["errors"] += 1
        finally:
            with pending.get_lock():
                pending.value -= 1
    for sender in answerer.senders.values():
        sender.close()


class Answerer:
    """Looks a check up in every index and sends the answer (FR/EN, by e-mail or SMS)."""

    def __init__(
        self,
        settings: dict[str, Any],
        indexes: Callable[[], dict[str, LookupIndex]],
        senders: dict[str, Sender],
    ) -> None:
        self.settings = settings
        self.indexes = indexes
        self.senders = senders
        self.rules = load_rules()
        self.stats: Counter[str] = Counter()

    def answer(self, job: Job) -> None:
        findings = [
            Finding(name, payload)
            for name, index in self.indexes().items()
            for payload in index.find(job.identifier.data)
        ]
        self.stats["checks"] += 1
        self.stats["found" if findings else "not_found"] += 1
        kind = job.identifier.kind
        value = job.identifier.canonical.split(":", 1)[1]
        if kind is Kind.EMAIL:
            self._deliver("email", value, findings, job.lang)
        elif kind is Kind.PHONE:
            self._deliver("sms", value, findings, job.lang)
        else:
            # A NIR: the registry's contacts of each person found; nobody when none is found.
            for f in findings:
                email, mobile = f.payload.get("email"), f.payload.get("mobile")
                if email and "email" in self.senders:
                    self._deliver("email", email, [f], job.lang)
                elif mobile and "sms" in self.senders:
                    self._deliver("sms", mobile, [f], job.lang)
                else:
                    self.stats["no_contact"] += 1

    def _deliver(self, channel: Channel, to: str, findings: list[Finding], lang: str) -> None:
        sender = self.senders.get(channel)
        if sender is None:
            self.stats["no_sender"] += 1
            return
        subject, text = compose(
            findings,
            lang,
            organisation=str(self.settings["organisation"]),
            dpo=str(self.settings["dpo_contact"]),
            rules=self.rules,
            short=channel == "sms",
        )
        result = sender.send(
            OutgoingMessage(
                channel=channel,
                to=to,
                subject=subject,
                text=text,
                reference=f"selfcheck-{uuid.uuid4().hex}",
                language=lang,
            )
        )
        self.stats["sent" if result.accepted else "send_failed"] += 1
