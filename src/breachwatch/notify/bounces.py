"""Bounces: RFC 3464 delivery status notifications dropped in ``notify_bounce_dir``.

The bounce mailbox (a Maildir's ``new/``, a folder a mail filter writes to…) holds one message
per file. A DSN (``multipart/report; report-type=delivery-status``) names the failed message by
its returned headers (``message/rfc822`` or ``text/rfc822-headers``): our Message-ID is the
deterministic reference of (campaign, person, channel). ``Action: failed`` with a 5.x.x status
is a permanent failure: the person's next channel is queued. ``delayed`` is only news; a
``delivered`` DSN marks the message delivered. Processed files move to ``processed/``, files
that are no DSN of ours to ``ignored/``, so the folder only ever holds what is new.
"""

from __future__ import annotations

import contextlib
from email import message_from_bytes, policy
from email.message import Message
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from breachwatch.notify.outbox import Outbox
from breachwatch.notify.senders import _redact


def scan_bounces(settings: dict[str, Any], outbox: Outbox) -> int:
    """Applies every DSN in the bounce folder; returns how many changed a message's status."""
    folder = str(settings.get("notify_bounce_dir") or "")
    if not folder or not Path(folder).is_dir():
        return 0
    from breachwatch.notify.worker import parse_reference

    applied = 0
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file()):
        verdict = read_dsn(path.read_bytes())
        target = "ignored"
        if verdict is not None:
            message_id, status, detail = verdict
            found = parse_reference(message_id)
            if found is not None:
                campaign_id, person, channel = found
                if status is not None and outbox.report(
                    campaign_id, person, channel, status, detail
                ):
                    applied += 1
                target = "processed"
        _move(path, Path(folder) / target)
    return applied


def read_dsn(raw: bytes) -> tuple[str, str | None, str] | None:
    """(Message-ID of the returned message, new status or None, detail) of a DSN, or None."""
    message = message_from_bytes(raw, policy=policy.compat32)
    if message.get_content_type() != "multipart/report":
        return None
    if str(message.get_param("report-type") or "").lower() != "delivery-status":
        return None
    fields = _recipient_fields(message)
    message_id = _returned_message_id(message)
    if fields is None or message_id is None:
        return None
    action = fields.get("action", "").strip().lower()
    code = fields.get("status", "").strip()
    diagnostic = _redact(fields.get("diagnostic-code", ""))
    detail = f"bounce {code}: {diagnostic}".strip()[:200]
    if action == "failed" and code.startswith("5"):
        return message_id, "permanent_failure", detail
    if action == "delivered":
        return message_id, "delivered", detail
    return message_id, None, detail  # delayed, relayed, expanded: nothing to do


def _recipient_fields(message: Message) -> dict[str, str] | None:
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):  # unparsed: read the blocks ourselves
            return _parse_blocks(str(blocks))
        for block in blocks[1:] or blocks:  # per-message fields first, then per recipient
            if isinstance(block, Message) and block.get("Action"):
                return {k.lower(): str(v) for k, v in block.items()}
    return None


def _parse_blocks(text: str) -> dict[str, str] | None:
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields = dict(
            (k.strip().lower(), v.strip())
            for k, _, v in (line.partition(":") for line in block.splitlines() if ":" in line)
        )
        if "action" in fields:
            return fields
    return None


def _returned_message_id(message: Message) -> str | None:
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            first = inner[0] if isinstance(inner, list) and inner else None
            if isinstance(first, Message) and first.get("Message-ID"):
                return str(first["Message-ID"])
        if kind == "text/rfc822-headers":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                headers = BytesHeaderParser().parsebytes(payload)
                if headers.get("Message-ID"):
                    return str(headers["Message-ID"])
    return None


def _move(path: Path, folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    with contextlib.suppress(OSError):  # another reader moved it first
        path.replace(folder / path.name)
