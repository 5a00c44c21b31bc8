"""The art. 33 notification as one JSON-ready dict (``docs/report.md`` documents its keys).

Numbers come from ``aggregates`` (set-based queries over the stored tables); words from
``texts.toml``. Every timestamp is UTC, written ISO 8601 with a ``Z``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import duckdb

from breachwatch.errors import UsageError
from breachwatch.report import aggregates as agg
from breachwatch.report import measures
from breachwatch.report.categories import MIN_GROUP, category_sql, group_categories
from breachwatch.report.texts import Texts, texts
from breachwatch.risk.rules import Rule, load_rules
from breachwatch.store.workspace import Workspace

SCHEMA = "breachwatch/regulator-report"
SCHEMA_VERSION = 1
DEADLINE = dt.timedelta(hours=72)  # GDPR art. 33(1): "not later than 72 hours after ... aware"
# Data classes whose absence the statement tells people about (what they fear most).
WATCHED_ABSENT = ("password", "password_hash", "iban")
# Not meaningful to people in the public statement (a dump's own row id).
NOT_FOR_PEOPLE = ("record_id", "unknown")
MAX_ADVICE = 4


def iso(value: dt.datetime | dt.date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return value.isoformat()


def parse_moment(text: str, option: str = "--aware-since") -> dt.datetime:
    """ISO 8601 date or date-time; without an offset, the machine's local time."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{option} {text!r}: expected a date-time such as 2026-02-03T14:30+01:00"
        ) from None
    return moment.astimezone(dt.UTC)


def build_report(
    ws: Workspace,
    breach: str,
    *,
    lang: str = "fr",
    aware_since: dt.datetime | None = None,
    now: dt.datetime | None = None,
    nature: str | None = None,
) -> dict[str, Any]:
    t = texts(lang)
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    con = ws.con
    facts = agg.breach_row(con, breach)
    affected = agg.affected_totals(con, breach)
    agg.check_risk_tables(con, breach)
    leak_sources = agg.sources(con, breach)
    classes = agg.record_classes(con, breach)
    people = affected["people"]
    categories, departments, category_column = _people(con, ws.settings, breach)
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "lang": lang,
        "generated_at": iso(now),
        "controller": _controller(ws.settings),
        "breach": _breach(facts, leak_sources),
        "counts": _counts(con, breach, leak_sources, affected),
        "people_categories": {
            "column": category_column,
            "min_group": MIN_GROUP,
            "categories": [{**c, "label": t.category(c["id"])} for c in categories],
        },
        "departments": departments,
        "data_categories": _data_categories(t, classes, agg.exposure_by_class(con)),
        "consequences": _consequences(t, con, people),
    }
    self_check = measures.self_check(ws.home, breach)
    report["timeline"] = _timeline(facts, leak_sources, affected, self_check, aware_since, now)
    report["measures"] = _measures(ws, breach, affected, self_check)
    report["nature"] = _nature(t, report, classes, leak_sources, nature)
    report["statement"] = _statement(t, report, classes, str(ws.settings["selfcheck_url"]))
    return report


def _controller(settings: dict[str, Any]) -> dict[str, str]:
    return {
        "name": str(settings["organisation"]),
        "address": str(settings["controller_address"]),
        "dpo_name": str(settings["dpo_name"]),
        "dpo_contact": str(settings["dpo_contact"]),
        "contact_point": str(settings["contact_point"]),
        "supervisory_authority": str(settings["supervisory_authority"]),
    }


def _breach(facts: dict[str, Any], leak_sources: list[dict[str, Any]]) -> dict[str, Any]:
    keep = ("file", "format", "rows_read", "rows_accepted", "rows_quarantined")
    return {
        "name": facts["name"],
        "sensitive": facts["sensitive"],
        "disclosed_on": iso(facts["disclosed_on"]),
        "sources": [
            {**{k: s[k] for k in keep}, "ingested_at": iso(s["ingested_at"])} for s in leak_sources
        ],
    }


def _counts(
    con: duckdb.DuckDBPyConnection,
    breach: str,
    leak_sources: list[dict[str, Any]],
    affected: dict[str, Any],
) -> dict[str, int]:
    records = agg.record_total(con, breach)
    return {
        "rows_read": sum(s["rows_read"] for s in leak_sources),
        "records": records,
        "quarantined_rows": sum(s["rows_quarantined"] for s in leak_sources),
        "matched_records": affected["matched_records"],
        "unmatched_records": records - affected["matched_records"],
        "affected_people": affected["people"],
    }


def _people(
    con: duckdb.DuckDBPyConnection, settings: dict[str, Any], breach: str
) -> tuple[list[dict[str, Any]], dict[str, Any], str | None]:
    names = agg.registries(con)
    registry_sources = [s for name in names for s in agg.sources(con, name)]
    sql, column = category_sql(registry_sources, str(settings["report_category_column"]))
    rows = agg.people_breakdown(con, breach, sql, names)
    by_category: Counter[str | None] = Counter()
    by_department: Counter[str | None] = Counter()
    for category, department, people in rows:  # a few hundred groups, not people
        by_category[category] += people
        by_department[department] += people
    unknown = by_department.pop(None, 0)
    ordered = sorted(by_department.items(), key=lambda kv: (-kv[1], str(kv[0])))
    departments = {
        "by_department": [{"code": code, "people": n} for code, n in ordered],
        "unknown": unknown,
    }
    return group_categories(by_category), departments, column


def _data_categories(
    t: Texts, classes: dict[str, dict[str, int]], exposure: dict[str, dict[str, int]]
) -> list[dict[str, Any]]:
    rows = []
    for name, n in sorted(classes.items(), key=lambda kv: (-kv[1]["present"], kv[0])):
        exposed = exposure.get(name, {})
        rows.append(
            {
                "data_class": name,
                "label": t.data_class(name),
                "records_present": n["present"],
                "records_valid": n["valid"],
                "records_invalid": n["invalid"],
                "people": exposed.get("people", 0),
                "people_first_exposed": exposed.get("first_exposed", 0),
            }
        )
    return rows


def _consequences(t: Texts, con: duckdb.DuckDBPyConnection, people: int) -> dict[str, Any]:
    by_risk, by_level = agg.risk_counts(con, agg.registries(con))
    rules = {r.id: r for r in load_rules()}
    with_risk = sum(by_level.values())
    risks = [_risk(t, rid, n, rules.get(rid)) for rid, n in by_risk.items() if n]
    order = {level: i for i, level in enumerate(agg.LEVEL_ORDER)}
    risks.sort(key=lambda r: (order.get(r["level"], 9), -r["people"], r["id"]))
    return {
        "people_by_highest_level": {**by_level, "none": max(people - with_risk, 0)},
        "risks": risks,
    }


def _risk(t: Texts, rid: str, people: int, rule: Rule | None) -> dict[str, Any]:
    fr = t.lang == "fr"
    return {
        "id": rid,
        "name": (rule.name_fr if fr else rule.name_en) if rule else rid,
        "level": rule.level if rule else "low",
        "people": people,
        "advice": (rule.advice_fr if fr else rule.advice_en) if rule else "",
    }


def _timeline(
    facts: dict[str, Any],
    leak_sources: list[dict[str, Any]],
    affected: dict[str, Any],
    self_check: dict[str, Any] | None,
    aware_since: dt.datetime | None,
    now: dt.datetime,
) -> dict[str, Any]:
    aware = aware_since or facts["created_at"]
    if aware > now:
        raise UsageError(f"--aware-since {iso(aware)} lies in the future")
    deadline = aware + DEADLINE
    loaded = [s["ingested_at"] for s in leak_sources if s["ingested_at"]]
    hours_left = round((deadline - now).total_seconds() / 3600, 1)
    return {
        "disclosed_on": iso(facts["disclosed_on"]),
        "aware_since": iso(aware),
        "deadline": iso(deadline),
        "hours_left": hours_left,
        "overdue": hours_left < 0,
        "first_ingested_at": iso(min(loaded)) if loaded else None,
        "last_ingested_at": iso(max(loaded)) if loaded else None,
        "linked_at": iso(affected["linked_at"]),
        "self_check_ready_at": iso(self_check["built_at"]) if self_check else None,
        "report_at": iso(now),
    }


def _measures(
    ws: Workspace, breach: str, affected: dict[str, Any], self_check: dict[str, Any] | None
) -> dict[str, Any]:
    check = None
    if self_check is not None:
        check = {
            "url": str(ws.settings["selfcheck_url"]),
            "people": self_check["people"],
            "built_at": iso(self_check["built_at"]),
        }
    return {
        "linkage": {"people": affected["people"], "at": iso(affected["linked_at"])},
        "campaign": measures.campaign_progress(ws.settings, breach),
        "self_check": check,
        "phishing": {
            "check_available": True,
            "waves": measures.phishing_waves(ws.settings, breach),
        },
    }


def _class_labels(t: Texts, classes: dict[str, dict[str, int]], skip: tuple[str, ...]) -> str:
    return t.enumerate([t.data_class(c) for c in classes if c not in skip])


def _nature(
    t: Texts,
    report: dict[str, Any],
    classes: dict[str, dict[str, int]],
    leak_sources: list[dict[str, Any]],
    nature: str | None,
) -> dict[str, Any]:
    counts = report["counts"]
    description = nature or t(
        "nature_default",
        organisation=report["controller"]["name"],
        breach=report["breach"]["name"],
        records=t.number(counts["records"]),
        people=t.number(counts["affected_people"]),
        classes=_class_labels(t, classes, ()),
    )
    mapped = {c for s in leak_sources for c, dc in s["columns"].items() if dc == "unknown"}
    return {
        "type": "confidentiality",
        "summary": t("nature_type"),
        "description": description,
        "data_classes": sorted(classes),
        "data_classes_not_concerned": [c for c in WATCHED_ABSENT if c not in classes],
        "unclassified_columns": sorted(mapped),
    }


def _statement(
    t: Texts, report: dict[str, Any], classes: dict[str, dict[str, int]], url: str
) -> dict[str, Any]:
    """Art. 34(2): clear and plain language; what happened, what to do, whom to ask."""
    names = {
        "organisation": report["controller"]["name"],
        "people": t.approx(report["counts"]["affected_people"]),
        "url": url,
        "contact_point": report["controller"]["contact_point"],
        "dpo_contact": report["controller"]["dpo_contact"],
        "authority": report["controller"]["supervisory_authority"],
    }
    paragraphs = [
        t("st_what", **names),
        t("st_data", classes=_class_labels(t, classes, NOT_FOR_PEOPLE)),
    ]
    absent = report["nature"]["data_classes_not_concerned"]
    if absent:
        labels = list(dict.fromkeys(t.data_class(c) for c in absent))
        paragraphs.append(t("st_not_concerned", classes=t.enumerate(labels, "nor")))
    paragraphs += [t("st_risk", **names), t("st_never", **names), t("st_check", **names)]
    advice = [
        (f"{r['name']} : " if t.lang == "fr" else f"{r['name']}: ") + r["advice"]
        for r in report["consequences"]["risks"][:MAX_ADVICE]
        if r["advice"]
    ]
    return {
        "title": t("statement_title"),
        "paragraphs": paragraphs,
        "advice": advice,
        "contact": t("st_contact", **names),
    }
