"""What the four eyes look at before approving: a rendered preview and a test send.

``preview`` renders one person's messages on every channel of the campaign that person can be
reached on (their personal data is shown: the read is audited). ``test_send`` sends a specimen
through the real e-mail and SMS paths (same composer, DKIM and provider) to seed addresses: the
content of a real recipient's notice (data classes and risks, language) with a specimen name,
no real contact and a code that verifies as *not* issued, so no one's data reaches the seeds.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from breachwatch.errors import UsageError
from breachwatch.notify import campaign as campaigns
from breachwatch.notify.codes import canonical_contact, issue_code
from breachwatch.notify.content import LANGUAGES, Composer, Rendered
from breachwatch.notify.keys import NotifyKeys, load_keys, row_aad
from breachwatch.notify.mail import Email, pool_from_settings
from breachwatch.notify.outbox import open_outbox
from breachwatch.notify.senders import AsyncHttpSmsSender, OutgoingMessage
from breachwatch.store.workspace import Workspace

SPECIMEN = {"first_name": "Camille", "last_name": "Exemple"}
SPECIMEN_PERSON = 0  # no registry record has uid 0: its code is never issued


def composer_for(settings: dict[str, Any], info: campaigns.CampaignInfo) -> Composer:
    return Composer(
        info.content,
        organisation=str(settings["organisation"]),
        dpo=str(settings["dpo_contact"]),
        breach=info.breach,
    )


def _available(person: dict[str, Any], channels: tuple[str, ...]) -> list[str]:
    contact = {"email": "email", "sms": "mobile", "letter": "address"}
    return [c for c in channels if person.get(contact[c])]


def find_person(ws: Workspace, breach: str, record_id: str) -> int:
    row = ws.con.execute(
        "SELECT registry_uid FROM affected WHERE breach = ? AND record_id = ? LIMIT 1",
        [breach, record_id],
    ).fetchone()
    if row is None:
        raise UsageError(f"person {record_id!r} is not among the people affected by {breach!r}")
    return int(row[0])


@dataclass(frozen=True)
class Preview:
    person: int
    record_id: str
    messages: list[Rendered]


def preview(settings: dict[str, Any], name: str, person: int | None, operator: str) -> Preview:
    info = campaigns.get_campaign(settings, name)
    keys = load_keys(settings)
    outbox = open_outbox(settings)
    try:
        if person is None:
            found = outbox.sample(info.id, 1)
            if not found:
                raise UsageError(f"campaign {name!r} has nobody to preview")
            person = found[0][0]
        row = outbox.row(info.id, person)
    finally:
        outbox.close()
    if row is None:
        raise UsageError(f"that person is not in campaign {name!r}")
    data = _open(keys, info.id, person, row.sealed)
    composer = composer_for(settings, info)
    code = issue_code(keys, info.id, person)
    messages = [composer.render(c, data, code) for c in _available(data, info.channels)]
    campaigns.record_preview(settings, name, operator, person)
    return Preview(person, str(data.get("record_id") or ""), messages)


def _open(keys: NotifyKeys, campaign_id: int, person: int, sealed: bytes) -> dict[str, Any]:
    opened: dict[str, Any] = json.loads(keys.sealer().open(sealed, row_aad(campaign_id, person)))
    return opened


@dataclass(frozen=True)
class SeedSend:
    sent: list[str]  # "email fr", "sms en"... (never the seed address itself)
    failed: list[str]


def send_to_seeds(settings: dict[str, Any], name: str, seeds: list[str], operator: str) -> SeedSend:
    info = campaigns.get_campaign(settings, name)
    if info.status not in ("draft", "approved", "paused"):
        raise UsageError(f"campaign {name!r} is {info.status}: a test send is for a draft")
    keys = load_keys(settings)
    kinds = [canonical_contact(s, str(settings["default_region"])) for s in seeds]
    if not seeds or None in kinds:
        raise UsageError("--to: give seed e-mail addresses or mobile numbers, comma-separated")
    specimen = _specimen(settings, info, keys)
    result = asyncio.run(_send_all(settings, info, keys, specimen, [str(k) for k in kinds]))
    campaigns.record_test_send(settings, name, operator, len(result.sent), len(result.failed))
    return result


def _specimen(
    settings: dict[str, Any], info: campaigns.CampaignInfo, keys: NotifyKeys
) -> dict[str, Any]:
    outbox = open_outbox(settings)
    try:
        found = outbox.sample(info.id, 1)
    finally:
        outbox.close()
    real = _open(keys, info.id, found[0][0], found[0][1]) if found else {}
    return {**SPECIMEN, "classes": real.get("classes", []), "risks": real.get("risks", [])}


async def _send_all(
    settings: dict[str, Any],
    info: campaigns.CampaignInfo,
    keys: NotifyKeys,
    specimen: dict[str, Any],
    seeds: list[str],
) -> SeedSend:
    composer = composer_for(settings, info)
    code = issue_code(keys, info.id, SPECIMEN_PERSON)
    sent: list[str] = []
    failed: list[str] = []
    mail = pool_from_settings(settings) if any(s.startswith("email:") for s in seeds) else None
    sms = None
    if any(s.startswith("phone:") for s in seeds) and settings.get("sms_url"):
        sms = AsyncHttpSmsSender(
            str(settings["sms_url"]), str(settings["sms_api_key"]),
            str(settings["sms_sender_id"]), timeout=float(settings["sms_timeout"]),
        )  # fmt: skip
    try:
        for n, seed in enumerate(seeds):
            kind, _, contact = seed.partition(":")
            for lang in LANGUAGES:
                label = f"{'email' if kind == 'email' else 'sms'} {lang}"
                ok = await _send_one(composer, mail, sms, info.id, n, kind, contact, lang,
                                     specimen, code)  # fmt: skip
                (sent if ok else failed).append(label)
    finally:
        if mail is not None:
            await mail[0].close()
        if sms is not None:
            await sms.aclose()
    return SeedSend(sent, failed)


async def _send_one(
    composer: Composer,
    mail: Any,
    sms: AsyncHttpSmsSender | None,
    campaign_id: int,
    n: int,
    kind: str,
    contact: str,
    lang: str,
    specimen: dict[str, Any],
    code: str,
) -> bool:
    reference = f"bw-{campaign_id}-test{n}-{lang}"
    if kind == "email":
        if mail is None:
            raise UsageError("e-mail is not configured (smtp_host): cannot test-send to it")
        r = composer.render("email", {**specimen, "lang": lang}, code)
        data = mail[1].compose(
            Email(contact, f"[TEST] {r.subject}", r.text, r.html, reference, lang)
        )
        return bool((await mail[0].send(contact, data)).accepted)
    if sms is None:
        raise UsageError("SMS is not configured (sms_url): cannot test-send to a phone")
    r = composer.render("sms", {**specimen, "lang": lang}, code)
    message = OutgoingMessage(channel="sms", to=contact, text=r.text, reference=reference)
    return bool((await sms.send(message)).accepted)
