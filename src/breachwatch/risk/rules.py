"""Risk rules: read from ``rules.toml`` (editable by a non-programmer), applied set-based."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from breachwatch.errors import ConfigError, UsageError
from breachwatch.risk.exposure import build_exposure, ensure_affected
from breachwatch.store.workspace import Workspace
from breachwatch.types import DataClass

AGENCY_RELATION = "agency_relation"
LEVELS = ("high", "medium", "low")


@dataclass(frozen=True)
class Rule:
    id: str
    name_fr: str
    name_en: str
    level: str
    requires: tuple[tuple[str, ...], ...]
    advice_fr: str
    advice_en: str


def load_rules(path: Path | None = None) -> list[Rule]:
    text = path.read_text(encoding="utf-8") if path else _default_rules()
    where = str(path or "breachwatch/risk/rules.toml")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    rules = [_rule(item, where) for item in data.get("rule", [])]
    if len({r.id for r in rules}) != len(rules):
        raise ConfigError(f"{where}: two rules share an id")
    return rules


def _default_rules() -> str:
    return resources.files("breachwatch.risk").joinpath("rules.toml").read_text(encoding="utf-8")


def _rule(item: dict[str, Any], where: str) -> Rule:
    known = {dc.value for dc in DataClass} | {AGENCY_RELATION}
    try:
        rule = Rule(
            id=item["id"],
            name_fr=item["name_fr"],
            name_en=item["name_en"],
            level=item["level"],
            requires=tuple(tuple(group) for group in item["requires"]),
            advice_fr=item["advice_fr"],
            advice_en=item["advice_en"],
        )
    except KeyError as exc:
        raise ConfigError(f"{where}: rule {item.get('id', '?')!r} lacks {exc}") from None
    unknown = sorted({c for group in rule.requires for c in group} - known)
    if unknown or rule.level not in LEVELS or not rule.requires:
        raise ConfigError(
            f"{where}: rule {rule.id!r}: unknown data class(es) {unknown} or level "
            f"{rule.level!r} (expected {', '.join(LEVELS)}) or no requirement"
        )
    return rule


def _condition(rule: Rule) -> str:
    groups = []
    for group in rule.requires:
        items = ", ".join(f"'{c}'" for c in group)
        groups.append(f"list_has_any(facts, [{items}])")
    return " AND ".join(groups)


def compute_risk(ws: Workspace, breach: str, rules: list[Rule] | None = None) -> dict[str, Any]:
    """Risks of every person affected by ``breach``, given everything exposed about them.

    The ``exposure`` and ``risk`` tables are rebuilt only when their inputs changed since they
    were last built: the breach they are relative to, the rules, and every breach's links and
    dates (``breaches``). Building them again would give the same rows."""
    rules = rules if rules is not None else load_rules()
    ensure_affected(ws)
    signature = _signature(ws, breach, rules)
    built = ws.con.execute("SELECT signature FROM derived WHERE name = 'risk'").fetchone()
    if built is None or built[0] != signature:
        ws.con.execute("DELETE FROM derived WHERE name = 'risk'")
        build_exposure(ws, breach)
        apply_rules(ws, rules)
        ws.con.execute(
            "INSERT INTO derived VALUES ('risk', ?, current_timestamp::TIMESTAMP)", [signature]
        )
    return aggregate(ws, rules)


def _signature(ws: Workspace, breach: str, rules: list[Rule]) -> str:
    state = ws.con.execute(
        """SELECT string_agg(concat_ws('|', name, role, created_at, updated_at, disclosed_on,
                                       linked_at), ';' ORDER BY name)
           FROM breaches"""
    ).fetchone()
    text = repr((breach, rules, state[0] if state else None))
    return hashlib.sha256(text.encode()).hexdigest()


def apply_rules(ws: Workspace, rules: list[Rule]) -> None:
    """Table ``risk`` (registry_uid, record_id, risk, level) from table ``exposure``."""
    selects = [
        f"SELECT registry_uid, record_id, '{r.id}' AS risk, '{r.level}' AS level "
        f"FROM facts WHERE {_condition(r)}"
        for r in rules
    ]
    union = " UNION ALL ".join(selects) or (
        "SELECT NULL::BIGINT AS registry_uid, NULL AS record_id, NULL AS risk, NULL AS level "
        "WHERE false"
    )
    ws.con.execute(
        f"""CREATE OR REPLACE TABLE risk AS
            WITH facts AS (
                SELECT registry_uid, any_value(record_id) AS record_id,
                       list(data_class) || ['{AGENCY_RELATION}'] AS facts
                FROM exposure GROUP BY registry_uid HAVING bool_or(in_breach))
            {union}"""
    )


def aggregate(ws: Workspace, rules: list[Rule]) -> dict[str, Any]:
    people = ws.con.execute(
        "SELECT count(DISTINCT registry_uid) FROM exposure WHERE in_breach"
    ).fetchone()
    counts = dict(ws.con.execute("SELECT risk, count(*) FROM risk GROUP BY 1").fetchall())
    by_level = dict(
        ws.con.execute(
            "SELECT level, count(*) FROM (SELECT registry_uid, "
            "CASE min(CASE level WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END) "
            "WHEN 1 THEN 'high' WHEN 2 THEN 'medium' ELSE 'low' END AS level "
            "FROM risk GROUP BY 1) GROUP BY 1"
        ).fetchall()
    )
    return {
        "people": int(people[0]) if people else 0,
        "by_risk": {r.id: {"level": r.level, "people": int(counts.get(r.id, 0))} for r in rules},
        "by_highest_level": {level: int(by_level.get(level, 0)) for level in LEVELS},
    }


def person_risks(
    ws: Workspace, record_id: str, rules: list[Rule] | None = None
) -> list[tuple[Rule, list[str]]]:
    """The risks of one person (by registry record_id) and their exposed classes."""
    rules = rules if rules is not None else load_rules()
    found = ws.con.execute(
        "SELECT list(risk) FROM risk WHERE record_id = ?", [record_id]
    ).fetchone()
    exposed = ws.con.execute(
        "SELECT list(data_class ORDER BY data_class) FROM exposure WHERE record_id = ?",
        [record_id],
    ).fetchone()
    if not exposed or not exposed[0]:
        raise UsageError(f"no exposure known for person {record_id!r} (run `breachwatch risk`)")
    ids = set(found[0] or []) if found else set()
    return [(r, list(exposed[0])) for r in rules if r.id in ids]
