"""Notices: the art. 34 content and the per-person parts, in French and English, on every
channel; no link; names escaped; an SMS within two segments."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from breachwatch.errors import UsageError
from breachwatch.notify.content import Composer, default_content, load_content
from breachwatch.notify.sms import measure
from breachwatch.risk.rules import load_rules
from breachwatch.types import DataClass

CODE = "BW-7K2M-Q9XD-4HRT"
ALL_CLASSES = [dc.value for dc in DataClass if dc != DataClass.UNKNOWN]
PERSON = {
    "first_name": "Éloïse",
    "last_name": "Dupré <script>alert(1)</script>",
    "classes": ["first_name", "last_name", "nir", "email", "phone", "date_of_birth"],
    "risks": ["identity_fraud_kit", "sim_swap", "targeted_phishing"],
}
LINK = re.compile(r"https?://|www\.|<a\s|href=", re.IGNORECASE)
# What art. 34(2) asks, per language: nature, DPO contact, consequences, measures, actions.
ART34 = {
    "fr": ["Ce qui s'est passé", "délégué à la protection des données", "Ce que cela peut",
           "Ce que nous avons fait", "Ce que nous vous recommandons"],
    "en": ["What happened", "data protection officer", "What it may lead to", "What we did",
           "What we recommend"],
}  # fmt: skip


def composer(organisation: str = "France Travail (synthetic demo)") -> Composer:
    return Composer(
        default_content(), organisation=organisation, dpo="dpo@example.org", breach="agency-2026"
    )


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_email_has_the_art34_content_and_the_personal_parts(lang: str) -> None:
    rendered = composer().render("email", {**PERSON, "lang": lang}, CODE)
    assert rendered.language == lang and rendered.html is not None
    for part in ART34[lang]:
        assert part in rendered.text, part
    labels = {"fr": "numéro de sécurité sociale", "en": "social security number"}
    assert labels[lang] in rendered.text and labels[lang] in rendered.html
    rules = {r.id: r for r in load_rules()}
    for risk in PERSON["risks"]:
        name = rules[risk].name_fr if lang == "fr" else rules[risk].name_en
        assert name in rendered.text
    assert CODE in rendered.text and CODE in rendered.html
    assert "dpo@example.org" in rendered.text


@pytest.mark.parametrize("channel", ["email", "sms", "letter"])
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_no_link_anywhere(channel: str, lang: str) -> None:
    rendered = composer().render(channel, {**PERSON, "lang": lang}, CODE)
    for text in (rendered.subject, rendered.text, rendered.html or ""):
        assert not LINK.search(text)


def test_names_are_escaped_in_html() -> None:
    rendered = composer().render("email", PERSON, CODE)
    assert rendered.html is not None
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert "<script>" in rendered.text  # plain text is plain


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize(
    "organisation", ["FT", "France Travail (synthetic demo)", "Caisse régionale " * 6]
)
def test_sms_fits_two_segments_and_keeps_the_code(lang: str, organisation: str) -> None:
    for classes in (["email"], PERSON["classes"], ALL_CLASSES):
        rendered = composer(organisation).render(
            "sms", {**PERSON, "lang": lang, "classes": classes}, CODE
        )
        length = measure(rendered.text)
        assert length.segments <= 2, (length, rendered.text)
        if len(organisation) < 60:
            assert CODE in rendered.text and length.encoding == "GSM-7"


def test_sms_drops_detail_before_it_overflows() -> None:
    short = composer().render("sms", {**PERSON, "classes": ["email"], "risks": []}, CODE)
    full = composer().render("sms", {**PERSON, "classes": ALL_CLASSES}, CODE)
    assert "adresse e-mail" in short.text
    assert "IBAN" not in full.text  # too many classes for two segments: the list goes first


def test_unknown_language_falls_back_to_french() -> None:
    assert composer().render("email", {**PERSON, "lang": "de"}, CODE).language == "fr"


def test_a_campaign_replaces_texts(tmp_path: Path) -> None:
    custom = tmp_path / "content.toml"
    custom.write_text(
        '[fr]\nnature = "Le 12 mars, un compte de conseiller a été détourné."\n'
        '[en]\nmeasures = "We reset every adviser account."\n',
        encoding="utf-8",
    )
    content = load_content(custom)
    assert content["fr"]["nature"].startswith("Le 12 mars")
    assert content["en"]["measures"] == "We reset every adviser account."
    assert content["fr"]["measures"] == default_content()["fr"]["measures"]
    custom.write_text('[de]\nnature = "x"\n[fr]\nlinks = "y"\n', encoding="utf-8")
    with pytest.raises(UsageError, match="de.*fr.links"):
        load_content(custom)


def test_letter_text() -> None:
    rendered = composer().render("letter", {**PERSON, "lang": "fr"}, CODE)
    assert rendered.text.startswith("Objet :")
    assert "Code d'authenticité de ce courrier : " + CODE in rendered.text


def test_shipped_email_templates_are_rendered_once_per_combination() -> None:
    assert composer().cacheable


@pytest.mark.parametrize(
    "person",
    [
        PERSON,
        {**PERSON, "lang": "en", "first_name": 'O\'Brien & "Sons"', "last_name": ""},
        {"classes": ["email"], "risks": [], "lang": "en"},  # no name: the polite fallback
        {"first_name": "Zoé", "last_name": "N\x00code\x00", "classes": ALL_CLASSES, "risks": []},
        {**PERSON, "risks": ["sim_swap", "no_such_rule"]},
    ],
)
def test_cached_email_is_exactly_the_direct_render(person: dict[str, object]) -> None:
    cached = composer()
    direct = composer()
    direct.cacheable = False
    for code in (CODE, "BW-0000-0000-0001"):  # the second reuses the cached render
        a, b = cached.render("email", person, code), direct.render("email", person, code)
        assert a == b
    assert len(cached._emails) == 1


@pytest.mark.parametrize(
    ("source", "cacheable"),
    [
        ("Bonjour {{ person.name }}, code {{ code }}", True),
        ("{% if person.first_name %}Bonjour {{ person.first_name }}{% endif %}", False),
        ("Bonjour {{ person.name|upper }}", False),
        ("{{ code[:4] }}", False),
        ("{{ person }}", False),
    ],
)
def test_a_template_that_branches_on_personal_values_is_not_cached(
    source: str, cacheable: bool
) -> None:
    from jinja2 import DictLoader, Environment

    from breachwatch.notify.content import only_interpolates_personal

    env = Environment(loader=DictLoader({"t.txt": source}))
    assert only_interpolates_personal(env, "t.txt") is cacheable
