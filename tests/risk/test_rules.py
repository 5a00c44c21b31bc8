"""Every rule of rules.toml fires with exactly its requirements and not with one group missing;
exposure says which breaches hold each class and what the analysed breach added."""

from __future__ import annotations

from pathlib import Path

import pytest

from breachwatch.errors import ConfigError
from breachwatch.ingest.pipeline import ingest
from breachwatch.risk.exposure import build_exposure
from breachwatch.risk.rules import AGENCY_RELATION, Rule, aggregate, apply_rules, load_rules
from breachwatch.store.workspace import Workspace
from breachwatch.types import Role

RULES = load_rules()


def _expose(ws: Workspace, people: dict[int, list[str]], in_breach: bool = True) -> None:
    ws.con.execute(
        "CREATE OR REPLACE TABLE exposure (registry_uid BIGINT, record_id VARCHAR, "
        "data_class VARCHAR, in_breach BOOLEAN)"
    )
    for uid, classes in people.items():
        for data_class in classes:
            ws.con.execute(
                "INSERT INTO exposure VALUES (?, ?, ?, ?)", [uid, f"P{uid}", data_class, in_breach]
            )


def _risks(ws: Workspace, uid: int) -> set[str]:
    rows = ws.con.execute("SELECT risk FROM risk WHERE registry_uid = ?", [uid]).fetchall()
    return {r[0] for r in rows}


def _minimal(rule: Rule) -> list[str]:
    return [group[0] for group in rule.requires if group[0] != AGENCY_RELATION]


def test_rules_file_is_complete() -> None:
    ids = {r.id for r in RULES}
    assert {
        "identity_fraud_kit",
        "sim_swap",
        "targeted_phishing",
        "account_takeover",
        "bank_fraud",
    } <= ids
    for rule in RULES:
        assert rule.advice_fr and rule.advice_en and rule.name_fr and rule.name_en


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_fires_with_its_requirements(ws: Workspace, rule: Rule) -> None:
    _expose(ws, {1: _minimal(rule)})
    apply_rules(ws, [rule])
    assert _risks(ws, 1) == {rule.id}


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_needs_every_group(ws: Workspace, rule: Rule) -> None:
    groups = [g for g in rule.requires if AGENCY_RELATION not in g]
    people = {i: [other[0] for j, other in enumerate(groups) if j != i] for i in range(len(groups))}
    _expose(ws, people)
    apply_rules(ws, [rule])
    fired = ws.con.execute("SELECT count(*) FROM risk").fetchone()
    assert fired == (0,)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_any_class_of_a_group_satisfies_it(ws: Workspace, rule: Rule) -> None:
    last = [g[-1] for g in rule.requires if g[-1] != AGENCY_RELATION]
    _expose(ws, {7: last})
    apply_rules(ws, [rule])
    assert _risks(ws, 7) == {rule.id}


def test_people_outside_the_breach_get_no_risk(ws: Workspace) -> None:
    _expose(ws, {3: ["last_name", "phone", "date_of_birth"]}, in_breach=False)
    apply_rules(ws, RULES)
    assert _risks(ws, 3) == set()


def test_aggregate_counts_people_by_highest_level(ws: Workspace) -> None:
    _expose(ws, {1: ["last_name", "postal_address"], 2: ["last_name", "phone", "date_of_birth"]})
    apply_rules(ws, RULES)
    totals = aggregate(ws, RULES)
    assert totals["people"] == 2
    assert totals["by_highest_level"] == {"high": 1, "medium": 0, "low": 1}
    assert totals["by_risk"]["sim_swap"]["people"] == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[rule]]\nid="x"\n', "lacks"),
        (
            '[[rule]]\nid="x"\nname_fr="a"\nname_en="a"\nlevel="extreme"\nrequires=[["nir"]]\n'
            'advice_fr="a"\nadvice_en="a"\n',
            "level",
        ),
        (
            '[[rule]]\nid="x"\nname_fr="a"\nname_en="a"\nlevel="high"\nrequires=[["shoe_size"]]\n'
            'advice_fr="a"\nadvice_en="a"\n',
            "shoe_size",
        ),
        ("[[rule]\n", "rules.toml"),
    ],
)
def test_bad_rules_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_rules(path)


def test_exposure_across_leaks(ws: Workspace, tmp_path: Path) -> None:
    import datetime as dt

    registry = tmp_path / "registry.csv"
    registry.write_text(
        "id,nom,prenom,date_naissance,email,nir\n"
        "P1,Martin,Léa,1985-03-21,lea.martin@example.org,285037512345688\n",
        encoding="utf-8",
    )
    old = tmp_path / "old.csv"
    old.write_text(
        "email,date_naissance,password\nlea.martin@example.org,21/03/1985,hunter2\n",
        encoding="utf-8",
    )
    new = tmp_path / "new.csv"
    new.write_text("nir,nom,prenom\n285037512345688,MARTIN,Lea\n", encoding="utf-8")
    ingest(ws, [registry], None, Role.REGISTRY)
    ingest(ws, [old], "old", disclosed=dt.date(2020, 1, 1))
    ingest(ws, [new], "new", disclosed=dt.date(2026, 1, 1))
    assert build_exposure(ws, "new") == 1
    rows = dict(
        (r[0], r[1:])
        for r in ws.con.execute(
            "SELECT data_class, breaches, first_exposed, added_by_breach FROM exposure"
        ).fetchall()
    )
    assert rows["nir"] == (["new"], dt.date(2026, 1, 1), True)
    assert rows["email"] == (["old"], dt.date(2020, 1, 1), False)
    assert rows["password"][0] == ["old"]
    assert rows["date_of_birth"][0] == ["old"]


def test_a_leak_that_matched_nobody_is_linked_once(ws: Workspace, tmp_path: Path) -> None:
    from breachwatch.risk.exposure import ensure_affected

    registry = tmp_path / "registry.csv"
    registry.write_text(
        "id,nom,prenom,date_naissance,nir\nP1,Martin,Léa,1985-03-21,285037512345688\n",
        encoding="utf-8",
    )
    stranger = tmp_path / "stranger.csv"
    stranger.write_text("nir,nom\n185127512345619,DURAND\n", encoding="utf-8")
    ingest(ws, [registry], None, Role.REGISTRY)
    ingest(ws, [stranger], "strangers")
    assert ensure_affected(ws) == ["strangers"]
    assert ws.con.execute("SELECT count(*) FROM affected").fetchone() == (0,)
    assert ensure_affected(ws) == []  # linked, nobody matched: not linked again
    ingest(ws, [stranger], "strangers")  # ingested into again: linked again
    assert ensure_affected(ws) == ["strangers"]


def test_risk_tables_are_reused_until_an_input_changes(ws: Workspace, tmp_path: Path) -> None:
    import dataclasses
    import datetime as dt

    from breachwatch.risk.rules import compute_risk

    registry = tmp_path / "registry.csv"
    registry.write_text(
        "id,nom,prenom,date_naissance,email,telephone,nir\n"
        "P1,Martin,Léa,1985-03-21,lea.martin@example.org,0612345678,285037512345688\n",
        encoding="utf-8",
    )
    main = tmp_path / "main.csv"
    main.write_text("nir,nom,prenom\n285037512345688,MARTIN,Lea\n", encoding="utf-8")
    older = tmp_path / "older.csv"
    older.write_text(
        "email,date_naissance,telephone\nlea.martin@example.org,21/03/1985,06 12 34 56 78\n",
        encoding="utf-8",
    )
    ingest(ws, [registry], None, Role.REGISTRY)
    ingest(ws, [main], "main", disclosed=dt.date(2026, 1, 1))

    def built_at() -> object:
        row = ws.con.execute("SELECT built_at FROM derived WHERE name = 'risk'").fetchone()
        return row[0] if row else None

    def exposed() -> set[str]:
        return {r[0] for r in ws.con.execute("SELECT data_class FROM exposure").fetchall()}

    first = compute_risk(ws, "main", RULES)
    stamp = built_at()
    assert stamp is not None
    assert compute_risk(ws, "main", RULES) == first
    assert built_at() == stamp  # nothing changed: the tables were not built again

    # A leak ingested since: linked, and its classes join the exposure.
    ingest(ws, [older], "older", disclosed=dt.date(2020, 1, 1))
    assert "phone" not in exposed()
    compute_risk(ws, "main", RULES)
    assert built_at() != stamp and {"phone", "email", "date_of_birth"} <= exposed()

    # Other rules, another breach, another disclosure date: built again each time.
    stamp = built_at()
    fewer = [dataclasses.replace(r, level="low") for r in RULES[:1]]
    assert set(compute_risk(ws, "main", fewer)["by_risk"]) == {RULES[0].id}
    assert built_at() != stamp
    stamp = built_at()
    compute_risk(ws, "older", RULES)
    assert built_at() != stamp
    assert ws.con.execute("SELECT DISTINCT relative_to FROM exposure").fetchall() == [("older",)]
    stamp = built_at()
    ws.con.execute("UPDATE breaches SET disclosed_on = DATE '2019-06-01' WHERE name = 'older'")
    compute_risk(ws, "older", RULES)
    assert built_at() != stamp
