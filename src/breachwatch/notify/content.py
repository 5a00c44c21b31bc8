"""What each person is told: Jinja2 templates per language and channel (``templates/``).

The campaign's art. 34 texts (nature of the breach, likely consequences, measures taken,
recommended actions, GDPR art. 34(2) with art. 33(3)) are one TOML per campaign, frozen in the
campaign row when it is planned, so what was approved is what is sent. The per-person parts
come from the sealed outbox payload: the data classes that leaked for this person, their named
risks with advice (``risk/rules.toml``) and their authenticity code.

E-mails have a text and an HTML part (autoescaped: names are untrusted text); an SMS keeps within
two segments by dropping detail (risk names, then the classes) until it fits; a letter is text
that ``letters.py`` lays out as PDF. No template has a link.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

from breachwatch.errors import UsageError
from breachwatch.lookup.answer import LEVEL_LABELS, class_label
from breachwatch.notify.sms import shortest_fitting
from breachwatch.risk.rules import Rule, load_rules

LANGUAGES = ("fr", "en")
CONTENT_FIELDS = ("subject", "nature", "consequences", "measures", "actions", "sms")
SMS_DETAIL_LEVELS = (2, 1, 0)  # most complete first


@dataclass(frozen=True)
class Rendered:
    channel: str
    language: str
    subject: str
    text: str
    html: str | None = None


def templates_dir() -> Path:
    return Path(str(resources.files("breachwatch.notify") / "templates"))


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(templates_dir())),
        autoescape=select_autoescape(["html"], default_for_string=False, default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
    )


def default_content() -> dict[str, dict[str, Any]]:
    return _read_content((templates_dir() / "content.toml").read_text(encoding="utf-8"), "")


def load_content(path: Path | None) -> dict[str, dict[str, Any]]:
    """The default texts, with those of ``path`` (same layout) replacing them field by field."""
    content = default_content()
    if path is None:
        return content
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--content {path}: cannot read: {exc}") from None
    for lang, fields in _read_content(text, str(path)).items():
        content[lang].update(fields)
    return content


def _read_content(text: str, where: str) -> dict[str, dict[str, Any]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{where or 'content.toml'}: {exc}") from None
    unknown = sorted(set(data) - set(LANGUAGES))
    bad = sorted(
        f"{lang}.{name}"
        for lang in data
        if lang in LANGUAGES
        for name in data[lang]
        if name not in CONTENT_FIELDS
    )
    if unknown or bad:
        raise UsageError(
            f"{where or 'content.toml'}: unknown language(s) {unknown} or field(s) {bad} "
            f"(languages: {', '.join(LANGUAGES)}; fields: {', '.join(CONTENT_FIELDS)})"
        )
    return {lang: dict(data.get(lang, {})) for lang in LANGUAGES}


class Composer:
    """Renders one campaign's messages; one per worker (templates parsed once)."""

    def __init__(
        self,
        content: dict[str, dict[str, Any]],
        *,
        organisation: str,
        dpo: str,
        breach: str,
        rules: list[Rule] | None = None,
    ) -> None:
        self.organisation, self.dpo = organisation, dpo
        fill = {"organisation": organisation, "dpo": dpo, "breach": breach}
        self.content = {lang: _fill(content[lang], fill) for lang in LANGUAGES}
        self.rules = {r.id: r for r in (rules if rules is not None else load_rules())}
        env = _environment()
        self.templates: dict[tuple[str, str], Template] = {
            (lang, name): env.get_template(f"{lang}/{name}")
            for lang in LANGUAGES
            for name in ("email.txt", "email.html", "sms.txt", "letter.txt")
        }

    def render(self, channel: str, person: dict[str, Any], code: str) -> Rendered:
        given = str(person.get("lang") or "")
        lang = given if given in LANGUAGES else LANGUAGES[0]
        context = self._context(lang, person, code)
        if channel == "email":
            return Rendered(
                channel,
                lang,
                context["subject"],
                self.templates[lang, "email.txt"].render(context),
                self.templates[lang, "email.html"].render(context),
            )
        if channel == "sms":
            sms = self.templates[lang, "sms.txt"]
            candidates = [sms.render(context, detail=level) for level in SMS_DETAIL_LEVELS]
            return Rendered(channel, lang, "", shortest_fitting([c.strip() for c in candidates]))
        if channel == "letter":
            return Rendered(
                channel,
                lang,
                context["subject"],
                self.templates[lang, "letter.txt"].render(context),
            )
        raise ValueError(f"unknown channel {channel!r}")

    def _context(self, lang: str, person: dict[str, Any], code: str) -> dict[str, Any]:
        content = self.content[lang]
        name = " ".join(p for p in (person.get("first_name"), person.get("last_name")) if p)
        return {
            "organisation": self.organisation,
            "dpo": self.dpo,
            "content": content,
            "subject": content["subject"],
            "person": {
                "name": name or ("Madame, Monsieur" if lang == "fr" else "Sir or Madam"),
                "first_name": person.get("first_name") or "",
                "last_name": person.get("last_name") or "",
            },
            "classes": [class_label(c, lang) for c in person.get("classes", [])],
            "risks": [self._risk(r, lang) for r in person.get("risks", []) if r in self.rules],
            "code": code,
        }

    def _risk(self, risk_id: str, lang: str) -> dict[str, str]:
        rule = self.rules[risk_id]
        fr, en = LEVEL_LABELS.get(rule.level, (rule.level, rule.level))
        if lang == "fr":
            return {"name": rule.name_fr, "level": fr, "advice": rule.advice_fr}
        return {"name": rule.name_en, "level": en, "advice": rule.advice_en}


def _fill(fields: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    def one(text: str) -> str:
        for key, value in values.items():
            text = text.replace("{" + key + "}", value)
        return text

    return {
        k: [one(x) for x in v] if isinstance(v, list) else one(str(v)) for k, v in fields.items()
    }
