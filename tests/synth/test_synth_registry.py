from __future__ import annotations

import re
from collections import Counter
from datetime import date

import pytest
from stdnum.fr import nir as stdnir
from synth_readers import PEOPLE, read_registry

from breachwatch.synth import SynthManifest
from breachwatch.synth.formats import REGISTRY_COLUMNS
from breachwatch.synth.vocab import lexicon

RESERVED = re.compile(r"@(example\.(org|com|net)|[a-z0-9.-]+\.test)$")


@pytest.fixture(scope="module")
def registry(synth: SynthManifest) -> list[dict[str, str]]:
    return read_registry(synth.registry)


def _insee_of_place() -> dict[str, str]:
    places = lexicon().places
    return dict(zip(places.name.to_pylist(), places.insee.to_pylist(), strict=True))


def _department_of_postcode() -> dict[str, str]:
    places = lexicon().places
    return {
        postcode: places.departments[d]
        for postcode, d in zip(places.postcode.to_pylist(), places.department, strict=True)
        if d >= 0
    }


def test_header_and_row_count(synth: SynthManifest, registry: list[dict[str, str]]) -> None:
    header = synth.registry.read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == list(REGISTRY_COLUMNS)
    assert len(registry) == PEOPLE
    assert [r["id_personne"] for r in registry[:3]] == ["P00000001", "P00000002", "P00000003"]


def test_every_nir_is_valid_and_unique(registry: list[dict[str, str]]) -> None:
    nirs = [r["nir"] for r in registry]
    assert all(len(n) == 15 and stdnir.is_valid(n) for n in nirs)
    assert len(set(nirs)) == len(nirs)


def test_nir_matches_sex_birth_date_and_place(registry: list[dict[str, str]]) -> None:
    insee = _insee_of_place()
    for r in registry:
        nir, born = r["nir"], date.fromisoformat(r["date_naissance"])
        assert nir[0] == {"M": "1", "F": "2"}[r["sexe"]]
        assert nir[1:3] == f"{born.year % 100:02d}" and nir[3:5] == f"{born.month:02d}"
        assert nir[5:10] == insee[r["lieu_naissance"]]


def test_births_abroad_in_corsica_and_overseas(registry: list[dict[str, str]]) -> None:
    departments = Counter(r["nir"][5:7] for r in registry)
    assert 0.07 < departments["99"] / PEOPLE < 0.13
    assert departments["2A"] + departments["2B"] > 0
    assert departments["97"] > 0


def test_postcode_matches_department(registry: list[dict[str, str]]) -> None:
    department = _department_of_postcode()
    for r in registry:
        code = department[r["code_postal"]]
        expected = "20" if code in ("2A", "2B") else code[:2]
        assert r["code_postal"].startswith(expected)


def test_ages_are_those_of_job_seekers(registry: list[dict[str, str]]) -> None:
    ages = [2024 - int(r["date_naissance"][:4]) for r in registry]
    assert min(ages) >= 16 and max(ages) <= 71
    assert sum(20 <= a <= 60 for a in ages) / len(ages) > 0.8


def test_emails_unique_and_reserved(registry: list[dict[str, str]]) -> None:
    emails = [r["email"] for r in registry]
    assert len(set(emails)) == len(emails)
    assert all(RESERVED.search(e) for e in emails)
    # Some patterns carry digits (jean.dupont42), most do not.
    with_digits = sum(bool(re.search(r"\d@", e)) for e in emails) / len(emails)
    assert 0.1 < with_digits < 0.8


def test_household_members_share_name_derived_local_parts(registry: list[dict[str, str]]) -> None:
    locals_ = Counter(r["email"].split("@")[0] for r in registry)
    assert locals_.most_common(1)[0][1] > 1


def test_identifiers_and_phones(registry: list[dict[str, str]]) -> None:
    assert all(re.fullmatch(r"\d{7}[A-Z]", r["identifiant"]) for r in registry)
    assert len({r["identifiant"] for r in registry}) == PEOPLE
    assert all(re.fullmatch(r"0[67]( \d\d){4}", r["tel_portable"]) for r in registry)
    assert len({r["tel_portable"] for r in registry}) == PEOPLE
    landlines = [r["tel_fixe"] for r in registry if r["tel_fixe"]]
    assert all(re.fullmatch(r"0[1-59]( \d\d){4}", t) for t in landlines)
    assert 0.2 < len(landlines) / PEOPLE < 0.6


def test_birth_names(registry: list[dict[str, str]]) -> None:
    married = [r for r in registry if r["nom_naissance"] and r["nom_naissance"] != r["nom"]]
    assert married and Counter(r["sexe"] for r in married)["F"] / len(married) > 0.95
    assert any(r["nom_naissance"] == "" for r in registry)
    assert any(r["nom_naissance"] == r["nom"] for r in registry)


def test_categories_and_registration(registry: list[dict[str, str]]) -> None:
    categories = Counter(r["categorie"] for r in registry)
    assert set(categories) == {"demandeur_actuel", "ancien_demandeur", "compte_candidat"}
    for r in registry:
        registered, born = r["date_inscription"], r["date_naissance"]
        assert "2008-12-19" <= registered < "2024-03-01" and registered > born


def test_names_repeat_like_real_names(registry: list[dict[str, str]]) -> None:
    surnames = Counter(r["nom"] for r in registry)
    top = surnames.most_common(1)[0][1] / PEOPLE
    assert 0.001 < top < 0.015  # about 0.3 % for the most common surname (Martin in France)
    assert len(surnames) > PEOPLE / 4  # a long tail: most surnames are rare
    addresses = Counter((r["adresse"], r["code_postal"]) for r in registry)
    assert addresses.most_common(1)[0][1] > 1  # households share an address
