"""A campaign's life and its four-eyes rule, recorded in the audit log.

``planning`` → ``draft`` (planned) → previewed and test-sent → ``approved`` by a second
operator → ``running`` ⇄ ``paused`` → ``done``; ``cancelled`` from any state before ``done``.
One organisation had to retract a breach notice sent by mistake: nothing leaves before a person
other than the one who planned it has approved it, after someone looked at a rendered message
and a test send reached seed addresses.

Operators are named by ``--operator`` (default: the login name). Until user accounts exist
(issue 7) the name is declared, not authenticated: the audit log records it with every action,
so a dishonest approval is at least attributable.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from breachwatch.errors import UsageError
from breachwatch.notify.models import Campaign, OutboxMessage, ensure_tables
from breachwatch.notify.outbox import database_errors, now
from breachwatch.state import audit, engine_for, state_url


@dataclass(frozen=True)
class CampaignInfo:
    id: int
    name: str
    breach: str
    status: str
    channels: tuple[str, ...]
    key_id: str
    content: dict[str, dict[str, Any]]
    plan: dict[str, Any]
    created_by: str
    previewed_by: str | None
    test_sent_by: str | None
    approved_by: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign": self.name,
            "breach": self.breach,
            "status": self.status,
            "channels": list(self.channels),
            "created_by": self.created_by,
            "previewed_by": self.previewed_by,
            "test_sent_by": self.test_sent_by,
            "approved_by": self.approved_by,
        }


def default_operator() -> str:
    return os.environ.get("USER") or getpass.getuser()


@contextmanager
def _session(settings: dict[str, Any]) -> Iterator[Session]:
    with database_errors(state_url(settings).split("@")[-1]):
        engine = engine_for(settings)
        ensure_tables(engine)
        with Session(engine) as session:
            yield session


def _info(c: Campaign) -> CampaignInfo:
    return CampaignInfo(
        c.id,
        c.name,
        c.breach,
        c.status,
        tuple(c.channels.split(",")),
        c.key_id,
        json.loads(c.content),
        json.loads(c.plan or "{}"),
        c.created_by,
        c.previewed_by,
        c.test_sent_by,
        c.approved_by,
    )


def _load(s: Session, name: str) -> Campaign:
    campaign = s.scalar(select(Campaign).where(Campaign.name == name))
    if campaign is None:
        raise UsageError(f"no campaign named {name!r} (`breachwatch notify plan` creates one)")
    return campaign


def get_campaign(settings: dict[str, Any], name: str) -> CampaignInfo:
    with _session(settings) as s:
        return _info(_load(s, name))


def create_campaign(
    settings: dict[str, Any],
    *,
    name: str,
    breach: str,
    channels: tuple[str, ...],
    content: dict[str, dict[str, Any]],
    key_id: str,
    operator: str,
) -> int:
    """A campaign in ``planning``; a plan interrupted earlier under the same name is discarded
    and started again, any other existing campaign of that name is an error."""
    at = now()
    with _session(settings) as s, s.begin():
        old = s.scalar(select(Campaign).where(Campaign.name == name))
        if old is not None and old.status != "planning":
            raise UsageError(
                f"campaign {name!r} exists already ({old.status}); choose another name"
            )
        if old is not None:
            s.execute(delete(OutboxMessage).where(OutboxMessage.campaign_id == old.id))
            s.delete(old)
            s.flush()
        campaign = Campaign(
            name=name,
            breach=breach,
            status="planning",
            channels=",".join(channels),
            key_id=key_id,
            content=json.dumps(content, ensure_ascii=False),
            plan="{}",
            created_by=operator,
            created_at=at,
            updated_at=at,
        )
        s.add(campaign)
        s.flush()
        campaign_id = int(campaign.id)
    return campaign_id


def planned(settings: dict[str, Any], name: str, plan: dict[str, Any], operator: str) -> None:
    with _session(settings) as s, s.begin():
        campaign = _load(s, name)
        campaign.plan = json.dumps(plan)
        campaign.status = "draft"
        campaign.updated_at = now()
    _audit(settings, operator, "notify.plan", name, {"people": plan.get("people", 0)})


def record_preview(settings: dict[str, Any], name: str, operator: str, person: int) -> None:
    with _session(settings) as s, s.begin():
        campaign = _load(s, name)
        campaign.previewed_by, campaign.previewed_at = operator, now()
    _audit(settings, operator, "notify.preview", name, {"person": person}, "read person data")


def record_test_send(
    settings: dict[str, Any], name: str, operator: str, sent: int, failed: int
) -> None:
    with _session(settings) as s, s.begin():
        campaign = _load(s, name)
        if sent:
            campaign.test_sent_by, campaign.test_sent_at = operator, now()
    _audit(settings, operator, "notify.test_send", name, {"sent": sent, "failed": failed})


def approve(settings: dict[str, Any], name: str, operator: str) -> CampaignInfo:
    with _session(settings) as s, s.begin():
        campaign = _load(s, name)
        problem = _approval_problem(campaign, operator)
        if problem is None:
            campaign.status, campaign.approved_by = "approved", operator
            campaign.approved_at = now()
        info = _info(campaign)
    if problem:
        # A refused approval is recorded too: someone tried.
        _audit(settings, operator, "notify.approve_refused", name, {}, problem)
        raise UsageError(f"campaign {name!r} cannot be approved: {problem}")
    _audit(settings, operator, "notify.approve", name, {"created_by": info.created_by})
    return info


def _approval_problem(campaign: Campaign, operator: str) -> str | None:
    if campaign.status != "draft":
        return f"it is {campaign.status}, not a draft"
    if operator == campaign.created_by:
        return (
            f"{operator!r} planned it; a second operator must approve (four eyes: --operator NAME)"
        )
    if campaign.previewed_by is None:
        return "nobody has previewed a message yet (`breachwatch notify preview`)"
    if campaign.test_sent_by is None:
        return "no test send reached seed addresses yet (`breachwatch notify test-send`)"
    return None


_TRANSITIONS = {
    # action: (states it applies to, new state)
    "start": (("approved", "running", "done"), "running"),
    "pause": (("approved", "running"), "paused"),
    "resume": (("paused",), "running"),
    "cancel": (("planning", "draft", "approved", "running", "paused"), "cancelled"),
    "done": (("running",), "done"),
}


def transition(
    settings: dict[str, Any], name: str, action: str, operator: str, *, quiet: bool = False
) -> CampaignInfo:
    allowed, target = _TRANSITIONS[action]
    with _session(settings) as s, s.begin():
        campaign = _load(s, name)
        if campaign.status not in allowed:
            raise UsageError(_refusal(name, action, campaign.status))
        campaign.status, campaign.updated_at = target, now()
        info = _info(campaign)
    if not quiet:
        _audit(settings, operator, f"notify.{action}", name, {})
    return info


def _refusal(name: str, action: str, status: str) -> str:
    hints = {
        "draft": "it needs a preview, a test send and a second operator's approval first",
        "paused": "resume it first (`breachwatch notify resume`)",
        "cancelled": "it was cancelled",
        "done": "it is done",
    }
    hint = hints.get(status, f"it is {status}")
    return f"cannot {action} campaign {name!r}: {hint}"


def campaign_status(settings: dict[str, Any], campaign_id: int) -> str:
    with _session(settings) as s:
        campaign = s.get(Campaign, campaign_id)
        return campaign.status if campaign is not None else "cancelled"


def _audit(
    settings: dict[str, Any],
    operator: str,
    action: str,
    name: str,
    detail: dict[str, Any],
    reason: str = "",
) -> None:
    with database_errors(state_url(settings).split("@")[-1]):
        audit(settings, actor=operator, action=action, subject=name, reason=reason, detail=detail)
