"""Waves: the reports of one campaign, grouped as they arrive.

Two reports belong to the same wave when

- their texts are near-duplicates: MinHash over word 3-shingles of the normalised text (lower
  case, accents stripped, links, e-mail addresses, authenticity codes and every token holding a
  digit replaced by placeholders, so that the per-victim parts — link, name, amount, date — barely
  count), estimated Jaccard similarity >= ``SIMILAR_AT``, candidates found by LSH (datasketch);
- or they share an indicator that links (a look-alike domain, a phone number, a sender address,
  a shortened or messaging link): union-find, kept in ``phishing_links`` (indicator -> wave).

A new report joins the wave it is linked to or starts one; a report linking several waves merges
them into the oldest. The database is the truth; the LSH index is a cache in each process's
memory: before each assignment it loads the representatives stored since it last looked, by any
process, so the first report after a start rebuilds it, and server processes and the CLI agree.
Only representatives enter it: a report whose text is a near-copy (>= ``COPY_AT``) of one already
in it is not added, so a wave of a million identical SMS costs one entry, not a million.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH
from sqlalchemy import distinct, func, select, update
from sqlalchemy.orm import Session

from breachwatch.phishing.codes import CANDIDATE_RE
from breachwatch.phishing.indicators import Indicator
from breachwatch.phishing.message import parse_message
from breachwatch.phishing.store import (
    PhishingIndicator,
    PhishingLink,
    PhishingReport,
    PhishingWave,
    count_report,
    engine,
    link_key,
    lock_head,
    open_report,
    report_keys,
)
from breachwatch.phishing.text import fold
from breachwatch.phishing.urls import LINK_RE

NUM_PERM = 128
SCHEME = "affine32"  # datasketch's hashing scheme: stored signatures are read back with it
SHINGLE_WORDS = 3
MIN_TOKENS = 5  # "Cliquez : URL" alone says nothing about a campaign
SIMILAR_AT = 0.5
COPY_AT = 0.9
EXAMPLE_CHARS = 2000
_DIGIT_TOKEN_RE = re.compile(r"\S*\d\S*")
_NUM_RUN_RE = re.compile(r"(?:_num_\s*)+")
_TOKEN_RE = re.compile(r"_(?:url|mail|code|num)_|[^\W_]+")


# -- text similarity -----------------------------------------------------------------------


def normalise(text: str) -> list[str]:
    """The words of ``text`` with what changes from one victim to the next made alike."""
    text = LINK_RE.sub(lambda m: " _mail_ " if m.group("mail") else " _url_ ", text)
    text = CANDIDATE_RE.sub(" _code_ ", text)
    text = _DIGIT_TOKEN_RE.sub(" _num_ ", fold(text))
    return _TOKEN_RE.findall(_NUM_RUN_RE.sub("_num_ ", text))


def signature(text: str) -> MinHash | None:
    """MinHash of the word 3-shingles; None for a text too short to compare."""
    tokens = normalise(text)
    if len(tokens) < MIN_TOKENS:
        return None
    shingles = {
        " ".join(tokens[i : i + SHINGLE_WORDS]) for i in range(len(tokens) - SHINGLE_WORDS + 1)
    }
    minhash = MinHash(num_perm=NUM_PERM, scheme=SCHEME)
    minhash.update_batch([s.encode("utf-8") for s in shingles])
    return minhash


def _to_bytes(minhash: MinHash) -> bytes:
    return bytes(minhash.hashvalues.tobytes())


def _from_bytes(data: bytes) -> LeanMinHash:
    return LeanMinHash(seed=1, hashvalues=np.frombuffer(data, dtype=np.uint32), scheme=SCHEME)


class WaveIndex:
    """The LSH index of one database, in this process; see the module's docstring."""

    def __init__(self) -> None:
        self.lsh = MinHashLSH(threshold=SIMILAR_AT, num_perm=NUM_PERM)
        self.signatures: dict[int, LeanMinHash] = {}
        self.last_id = 0
        self.lock = threading.Lock()

    def sync(self, session: Session) -> None:
        query = (
            select(PhishingReport.id, PhishingReport.signature, PhishingReport.representative)
            .where(PhishingReport.id > self.last_id)
            .order_by(PhishingReport.id)
            .execution_options(yield_per=10_000)
        )
        for report_id, data, representative in session.execute(query):
            if representative and data is not None:
                self.add(report_id, _from_bytes(data))
            self.last_id = max(self.last_id, report_id)

    def add(self, report_id: int, minhash: MinHash | LeanMinHash) -> None:
        if report_id not in self.signatures:
            lean = minhash if isinstance(minhash, LeanMinHash) else LeanMinHash(minhash)
            self.signatures[report_id] = lean
            self.lsh.insert(report_id, lean)

    def similar(self, minhash: MinHash) -> dict[int, float]:
        """Representatives whose estimated Jaccard similarity is at least ``SIMILAR_AT``."""
        found = {}
        for report_id in self.lsh.query(minhash):
            similarity = float(self.signatures[report_id].jaccard(minhash))
            if similarity >= SIMILAR_AT:
                found[report_id] = similarity
        return found


_INDEXES: dict[str, WaveIndex] = {}
_INDEXES_LOCK = threading.Lock()


def wave_index(settings: dict[str, Any]) -> WaveIndex:
    url = str(engine(settings).url)
    with _INDEXES_LOCK:
        if url not in _INDEXES:  # built once: choosing the LSH bands integrates numerically
            _INDEXES[url] = WaveIndex()
        return _INDEXES[url]


# -- assignment ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NewReport:
    received_at: datetime
    reported_at: datetime
    kind: str
    channel: str
    reporter: str | None
    digest: str
    verdict: str
    score: int
    codes: tuple[str, ...]
    sealed: bytes
    signature: MinHash | None
    indicators: list[Indicator] = field(default_factory=list)


@dataclass(frozen=True)
class Filed:
    report_id: int
    wave_id: int
    new_wave: bool
    duplicate: bool
    verdict: str
    score: int

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def add_report(settings: dict[str, Any], new: NewReport) -> Filed:
    """Stores the report and assigns its wave, in one transaction serialised on the head row."""
    index = wave_index(settings)
    with index.lock, Session(engine(settings)) as s:
        with s.begin():
            lock_head(s)
            if new.reporter is not None:
                known = _duplicate(s, new)
                if known is not None:
                    return known
            index.sync(s)
            similar = index.similar(new.signature) if new.signature is not None else {}
            representative = (
                new.signature is not None and max(similar.values(), default=0) < COPY_AT
            )
            report, created = _store(s, new, similar, representative)
            filed = Filed(report.id, report.wave_id, created, False, new.verdict, new.score)
        if representative and new.signature is not None:
            index.add(filed.report_id, new.signature)
        index.last_id = max(index.last_id, filed.report_id)
    return filed


def _duplicate(s: Session, new: NewReport) -> Filed | None:
    """The same person (same IP today) sending the same message again: the first report."""
    known = s.scalar(
        select(PhishingReport)
        .where(PhishingReport.reporter == new.reporter, PhishingReport.digest == new.digest)
        .limit(1)
    )
    if known is None:
        return None
    return Filed(known.id, known.wave_id, False, True, known.verdict, known.score)


def _store(
    s: Session, new: NewReport, similar: dict[int, float], representative: bool
) -> tuple[PhishingReport, bool]:
    links = {link_key(i.type, i.value) for i in new.indicators if i.link}
    linked = set(
        s.scalars(select(PhishingReport.wave_id).where(PhishingReport.id.in_(similar)))
        if similar
        else ()
    )
    if links:
        linked |= set(s.scalars(select(PhishingLink.wave_id).where(PhishingLink.key.in_(links))))
    wave = _merge(s, linked) if linked else _new_wave(s, new.received_at)
    wave.reports += 1
    wave.first_seen = min(wave.first_seen, new.received_at)
    wave.last_seen = max(wave.last_seen, new.received_at)
    report = PhishingReport(
        wave_id=wave.id,
        reported_at=new.reported_at,
        received_at=new.received_at,
        kind=new.kind,
        channel=new.channel,
        reporter=new.reporter,
        digest=new.digest,
        verdict=new.verdict,
        score=new.score,
        codes=",".join(new.codes),
        sealed=new.sealed,
        signature=_to_bytes(new.signature) if new.signature is not None else None,
        representative=representative,
    )
    s.add(report)
    count_report(s)
    s.flush()
    s.add_all(
        PhishingIndicator(report_id=report.id, type=i.type, value=i.value, link=i.link)
        for i in new.indicators
    )
    known = set(s.scalars(select(PhishingLink.key).where(PhishingLink.key.in_(links))))
    s.add_all(PhishingLink(key=key, wave_id=wave.id) for key in links - known)
    return report, not linked


def _new_wave(s: Session, at: datetime) -> PhishingWave:
    wave = PhishingWave(first_seen=at, last_seen=at, reports=0, merged_into=None)
    s.add(wave)
    s.flush()
    return wave


def _merge(s: Session, wave_ids: set[int]) -> PhishingWave:
    """The oldest wave absorbs the others: their reports, links and former ids move to it."""
    waves = sorted(s.scalars(select(PhishingWave).where(PhishingWave.id.in_(wave_ids))), key=_id)
    target, others = waves[0], waves[1:]
    if not others:
        return target
    moved = [w.id for w in others]
    for wave in others:
        target.reports += wave.reports
        target.first_seen = min(target.first_seen, wave.first_seen)
        target.last_seen = max(target.last_seen, wave.last_seen)
        wave.merged_into, wave.reports = target.id, 0
    s.execute(
        update(PhishingReport).where(PhishingReport.wave_id.in_(moved)).values(wave_id=target.id)
    )
    s.execute(update(PhishingLink).where(PhishingLink.wave_id.in_(moved)).values(wave_id=target.id))
    s.execute(
        update(PhishingWave)
        .where(PhishingWave.merged_into.in_(moved))
        .values(merged_into=target.id)
    )
    return target


def _id(wave: PhishingWave) -> int:
    return wave.id


# -- what operators see --------------------------------------------------------------------


def resolve(s: Session, wave_id: int) -> PhishingWave | None:
    """The wave, or the one it was merged into."""
    wave = s.get(PhishingWave, wave_id)
    if wave is not None and wave.merged_into is not None:
        wave = s.get(PhishingWave, wave.merged_into)
    return wave


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds") + "Z"


@dataclass(frozen=True)
class WaveSummary:
    id: int
    first_seen: datetime
    last_seen: datetime
    reports: int
    verdicts: dict[str, int]
    indicators: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "reports": self.reports,
            "verdicts": self.verdicts,
            "top_indicators": self.indicators,
        }


def list_waves(
    settings: dict[str, Any], *, since: datetime | None = None, limit: int = 100, top: int = 5
) -> list[WaveSummary]:
    """Live waves (not merged away), the most recently active first."""
    query = select(PhishingWave).where(PhishingWave.merged_into.is_(None))
    if since is not None:
        query = query.where(PhishingWave.last_seen >= since)
    query = query.order_by(PhishingWave.last_seen.desc(), PhishingWave.id.desc()).limit(limit)
    with Session(engine(settings)) as s:
        waves = list(s.scalars(query))
        ids = [w.id for w in waves]
        verdicts = _verdicts(s, ids)
        indicators = _top_indicators(s, ids, top)
        return [
            WaveSummary(
                w.id,
                w.first_seen,
                w.last_seen,
                w.reports,
                verdicts.get(w.id, {}),
                indicators.get(w.id, []),
            )
            for w in waves
        ]


def _verdicts(s: Session, ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {i: {} for i in ids}
    query = (
        select(PhishingReport.wave_id, PhishingReport.verdict, func.count())
        .where(PhishingReport.wave_id.in_(ids))
        .group_by(PhishingReport.wave_id, PhishingReport.verdict)
    )
    for wave_id, verdict, count in s.execute(query):
        out[wave_id][verdict] = int(count)
    return out


def _top_indicators(s: Session, ids: list[int], top: int) -> dict[int, list[dict[str, Any]]]:
    reports = func.count(distinct(PhishingIndicator.report_id))
    query = (
        select(PhishingReport.wave_id, PhishingIndicator.type, PhishingIndicator.value, reports)
        .join(PhishingReport, PhishingReport.id == PhishingIndicator.report_id)
        .where(PhishingReport.wave_id.in_(ids))
        .group_by(PhishingReport.wave_id, PhishingIndicator.type, PhishingIndicator.value)
    )
    grouped: dict[int, list[tuple[int, str, str]]] = {i: [] for i in ids}
    for wave_id, kind, value, count in s.execute(query):
        grouped[wave_id].append((int(count), kind, value))
    return {
        wave_id: [
            {"type": kind, "value": value, "reports": count}
            for count, kind, value in sorted(rows, key=lambda r: (-r[0], r[1], r[2]))[:top]
        ]
        for wave_id, rows in grouped.items()
    }


def wave_detail(settings: dict[str, Any], wave_id: int, *, top: int = 20) -> dict[str, Any] | None:
    """One wave for the dashboard: its summary, time series, merged ids and an example text.

    The example quotes a reported message: whoever shows it must escape it.
    """
    with Session(engine(settings)) as s:
        wave = resolve(s, wave_id)
        if wave is None:
            return None
        summary = WaveSummary(
            wave.id,
            wave.first_seen,
            wave.last_seen,
            wave.reports,
            _verdicts(s, [wave.id])[wave.id],
            _top_indicators(s, [wave.id], top)[wave.id],
        )
        times = list(
            s.scalars(select(PhishingReport.received_at).where(PhishingReport.wave_id == wave.id))
        )
        merged = list(s.scalars(select(PhishingWave.id).where(PhishingWave.merged_into == wave.id)))
        first = s.scalar(
            select(PhishingReport)
            .where(PhishingReport.wave_id == wave.id)
            .order_by(PhishingReport.id)
            .limit(1)
        )
        example = _example(settings, first) if first is not None else None
    return {
        **summary.to_json(),
        "merged_from": sorted(merged),
        "per_hour": _series(times, "hour"),
        "per_day": _series(times, "day"),
        "example": example,
    }


def _series(times: list[datetime], unit: str) -> list[dict[str, Any]]:
    """Reports per hour or per UTC day, oldest first; buckets without a report are left out."""
    if unit == "hour":
        counts = Counter(t.replace(minute=0, second=0, microsecond=0) for t in times)
        return [{"start": iso(k), "reports": n} for k, n in sorted(counts.items())]
    days = Counter(t.date() for t in times)
    return [{"day": k.isoformat(), "reports": n} for k, n in sorted(days.items())]


def _example(settings: dict[str, Any], report: PhishingReport) -> dict[str, Any]:
    opened = open_report(report_keys(settings), report.sealed)
    parsed = parse_message(opened.message, report.kind)  # type: ignore[arg-type]
    body = parsed.fields.get("body", "")
    return {
        "report_id": report.id,
        "kind": report.kind,
        "subject": parsed.fields.get("subject", ""),
        "text": body[:EXAMPLE_CHARS],
        "truncated": len(body) > EXAMPLE_CHARS,
    }
