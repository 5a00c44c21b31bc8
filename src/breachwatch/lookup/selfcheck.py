"""The private self-check: the page queues a check; a background worker answers by message.

The request path does the same constant work whatever the identifier (validate the form, count
the rate limits, enqueue), so neither the page, the status code nor the response time depends on
membership. The lookup and the sending happen afterwards, in a worker thread: the answer goes to
the e-mail or phone that was typed (whoever reads it controls that contact), or, for a NIR with
date of birth, to the contacts the registry holds for that person and to nobody when there is
no such person.
"""

from __future__ import annotations

import hashlib
import hmac
import queue
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
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


class SelfCheck:
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
        self.senders = senders
        self.rules = load_rules()
        self.jobs: queue.Queue[Job | None] = queue.Queue(QUEUE_SIZE)
        self.stats: Counter[str] = Counter()
        self._idle = threading.Condition()
        self._pending = 0
        self._thread = threading.Thread(target=self._run, name="selfcheck", daemon=True)
        self._thread.start()

    # -- request path: constant work ------------------------------------------------------

    def channels(self) -> set[str]:
        return set(self.senders)

    def rate_key(self, identifier: Identifier) -> str:
        """Keyed hash for the per-identifier limit: Redis never holds an identifier."""
        return hmac.new(
            self.keys.seal_key, b"ratelimit\x00" + identifier.data, hashlib.sha256
        ).hexdigest()

    def submit(self, identifier: Identifier, lang: str) -> bool:
        """Queues the check; False when the queue is full (the caller answers 503)."""
        with self._idle:
            self._pending += 1
        try:
            self.jobs.put_nowait(Job(identifier, lang))
        except queue.Full:
            with self._idle:
                self._pending -= 1
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

    # -- worker ------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            try:
                self._answer(job)
            except Exception:  # noqa: BLE001 - one failed job must not stop the worker
                self.stats["errors"] += 1
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _answer(self, job: Job) -> None:
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

    def drain(self, timeout: float = 30.0) -> bool:
        """Waits until every queued check is answered (tests, shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        self.jobs.put(None)
        self._thread.join(timeout=5)
