"""Indicators of the phishing waves for a national CERT: CSV, or a STIX 2.1 bundle.

CSV cells that a spreadsheet would run as a formula (leading ``= + - @``, tab or carriage
return) get a leading apostrophe, as OWASP recommends against CSV injection; a phone number in
E.164 (``+33…``) therefore reads ``'+33…`` in the file.

STIX 2.1: one ``identity`` (the organisation), one ``indicator`` per value (pattern type
``stix``), one ``campaign`` per wave and an ``indicates`` ``relationship`` from each indicator to
each wave it was seen in. STIX 2.1 has no phone-number or SMS-sender object: those patterns use
the custom observable types ``x-phone-number`` and ``x-sms-sender`` with a ``value`` property,
as the specification allows for custom objects. Identifiers are UUIDv5 of what they describe, so
that a new export of the same indicator or wave updates the CERT's copy instead of adding one.
"""

from __future__ import annotations

import csv
import ipaddress
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from breachwatch import state
from breachwatch.errors import UsageError
from breachwatch.export import neutralise_cell
from breachwatch.phishing.store import PhishingIndicator, PhishingReport, PhishingWave, engine
from breachwatch.phishing.waves import resolve

FORMATS = ("csv", "stix")
FLAGGED = ("phishing", "suspicious")
CSV_COLUMNS = ("wave", "type", "value", "first_seen", "last_seen", "reports")
EPOCH = datetime(2000, 1, 1)
# Fixed namespace of breachwatch's STIX identifiers (a random UUID drawn once).
STIX_NAMESPACE = uuid.UUID("6c9e2f5e-3f57-4b1e-9d35-0f7f4b0d9a31")
_SCO_TYPES = {
    "url": "url",
    "domain": "domain-name",
    "email": "email-addr",
    "phone": "x-phone-number",
    "sender": "x-sms-sender",
}


@dataclass(frozen=True)
class IndicatorRow:
    wave: int
    type: str
    value: str
    first_seen: datetime
    last_seen: datetime
    reports: int


def indicator_rows(
    settings: dict[str, Any], wave: int | None = None, *, all_verdicts: bool = False
) -> list[IndicatorRow]:
    """Every indicator of every wave (or of one), with when it was seen and how often.

    Only reports the check found phishing or suspicious count, unless ``all_verdicts``: the
    links of a genuine notice someone reported are nobody's to block.
    """
    query = (
        select(
            PhishingReport.wave_id,
            PhishingIndicator.type,
            PhishingIndicator.value,
            func.min(PhishingReport.received_at),
            func.max(PhishingReport.received_at),
            func.count(distinct(PhishingReport.id)),
        )
        .join(PhishingReport, PhishingReport.id == PhishingIndicator.report_id)
        .group_by(PhishingReport.wave_id, PhishingIndicator.type, PhishingIndicator.value)
        .order_by(PhishingReport.wave_id, PhishingIndicator.type, PhishingIndicator.value)
    )
    if not all_verdicts:
        query = query.where(PhishingReport.verdict.in_(FLAGGED))
    with Session(engine(settings)) as s:
        if wave is not None:
            found = resolve(s, wave)
            if found is None:
                raise UsageError(f"--wave {wave}: no such wave")
            query = query.where(PhishingReport.wave_id == found.id)
        return [IndicatorRow(*row) for row in s.execute(query)]


def export_indicators(
    settings: dict[str, Any],
    fmt: str,
    out: Path,
    wave: int | None = None,
    *,
    all_verdicts: bool = False,
) -> int:
    """Writes the file; returns the number of indicator rows (CSV) or indicators (STIX)."""
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: expected csv or stix")
    rows = indicator_rows(settings, wave, all_verdicts=all_verdicts)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        write_csv(rows, out)
        count = len(rows)
    else:
        waves, since = _waves(settings, rows)
        bundle = stix_bundle(rows, waves, str(settings["organisation"]), since)
        out.write_text(json.dumps(bundle, indent=1, ensure_ascii=False), encoding="utf-8")
        count = sum(1 for o in bundle["objects"] if o["type"] == "indicator")
    state.audit(
        settings,
        actor="cli",
        action="phishing.export",
        subject=f"wave:{wave}" if wave is not None else "waves",
        reason=f"indicators exported as {fmt}",
        detail={"indicators": count},
    )
    return count


# -- CSV -----------------------------------------------------------------------------------


def write_csv(rows: list[IndicatorRow], out: Path) -> None:
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for r in rows:
            cells = (r.wave, r.type, r.value, _ts(r.first_seen), _ts(r.last_seen), r.reports)
            writer.writerow([neutralise_cell(c) if isinstance(c, str) else c for c in cells])


# -- STIX 2.1 ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaveInfo:
    id: int
    first_seen: datetime
    last_seen: datetime
    reports: int


def _waves(settings: dict[str, Any], rows: list[IndicatorRow]) -> tuple[list[WaveInfo], datetime]:
    """The waves of ``rows``, and the first report ever (the organisation's identity's date)."""
    ids = sorted({r.wave for r in rows})
    with Session(engine(settings)) as s:
        waves = s.scalars(select(PhishingWave).where(PhishingWave.id.in_(ids)))
        info = [WaveInfo(w.id, w.first_seen, w.last_seen, w.reports) for w in waves]
        first = s.scalar(select(func.min(PhishingReport.received_at)))
    return info, first or EPOCH


def stix_bundle(
    rows: list[IndicatorRow], waves: list[WaveInfo], organisation: str, since: datetime = EPOCH
) -> dict[str, Any]:
    """``since``: the identity's creation date, the same in every export (the first report)."""
    identity = _identity(organisation, since)
    objects: list[dict[str, Any]] = [identity]
    campaigns = {w.id: _campaign(w, organisation, identity["id"]) for w in waves}
    objects.extend(campaigns.values())
    by_value: dict[tuple[str, str], list[IndicatorRow]] = {}
    for row in rows:
        by_value.setdefault((row.type, row.value), []).append(row)
    for (kind, value), seen in by_value.items():
        indicator = _indicator(kind, value, seen, identity["id"])
        objects.append(indicator)
        for row in seen:
            if row.wave in campaigns:
                objects.append(_relationship(indicator, campaigns[row.wave], identity["id"]))
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}


def _stix_id(kind: str, name: str) -> str:
    return f"{kind}--{uuid.uuid5(STIX_NAMESPACE, f'{kind}|{name}')}"


def _ts(moment: datetime) -> str:
    """STIX timestamps: UTC, ``Z``, millisecond precision."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _identity(organisation: str, since: datetime) -> dict[str, Any]:
    created = _ts(since)
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": _stix_id("identity", organisation),
        "created": created,
        "modified": created,
        "name": organisation,
        "identity_class": "organization",
    }


def _campaign(wave: WaveInfo, organisation: str, identity: str) -> dict[str, Any]:
    return {
        "type": "campaign",
        "spec_version": "2.1",
        "id": _stix_id("campaign", f"{organisation}|wave|{wave.id}"),
        "created_by_ref": identity,
        "created": _ts(wave.first_seen),
        "modified": _ts(wave.last_seen),
        "name": f"Phishing wave {wave.id} impersonating {organisation}",
        "description": f"{wave.reports} messages reported to {organisation}.",
        "first_seen": _ts(wave.first_seen),
        "last_seen": _ts(wave.last_seen),
    }


def pattern(kind: str, value: str) -> str:
    """A STIX pattern matching one observed value (``'`` and ``\\`` escaped in the literal)."""
    if kind == "ip":
        sco = "ipv6-addr" if ipaddress.ip_address(value).version == 6 else "ipv4-addr"
    else:
        sco = _SCO_TYPES[kind]
    literal = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"[{sco}:value = '{literal}']"


def _indicator(kind: str, value: str, seen: list[IndicatorRow], identity: str) -> dict[str, Any]:
    first = min(r.first_seen for r in seen)
    last = max(r.last_seen for r in seen)
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": _stix_id("indicator", f"{kind}|{value}"),
        "created_by_ref": identity,
        "created": _ts(first),
        "modified": _ts(last),
        "name": f"{kind}: {value}"[:256],
        "indicator_types": ["malicious-activity"],
        "pattern": pattern(kind, value),
        "pattern_type": "stix",
        "pattern_version": "2.1",
        "valid_from": _ts(first),
    }


def _relationship(
    indicator: dict[str, Any], campaign: dict[str, Any], identity: str
) -> dict[str, Any]:
    return {
        "type": "relationship",
        "spec_version": "2.1",
        "id": _stix_id("relationship", f"{indicator['id']}|{campaign['id']}"),
        "created_by_ref": identity,
        "created": indicator["created"],
        "modified": indicator["modified"],
        "relationship_type": "indicates",
        "source_ref": indicator["id"],
        "target_ref": campaign["id"],
    }
