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

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    nodes,
    select_autoescape,
)
from markupsafe import escape

from breachwatch.errors import UsageError
from breachwatch.lookup.answer import LEVEL_LABELS, class_label
from breachwatch.notify.sms import shortest_fitting
from breachwatch.risk.rules import Rule, load_rules

LANGUAGES = ("fr", "en")
CONTENT_FIELDS = ("subject", "nature", "consequences", "measures", "actions", "sms")
SMS_DETAIL_LEVELS = (2, 1, 0)  # most complete first
# An e-mail's text and HTML are rendered once per (language, data classes, risks) — a few
# hundred combinations for millions of people — with markers where the person's name and code
# go, and the markers are replaced per message: rendering was about half of a worker's CPU per
# e-mail. NUL occurs in no template nor text, and autoescaping leaves it alone.
PERSONAL = ("name", "first_name", "last_name", "code")
_MARKERS = {field: f"\x00{field}\x00" for field in PERSONAL}
# One pass: a value put in is never searched for markers again.
_MARKER = re.compile("\x00(" + "|".join(PERSONAL) + ")\x00")
RENDER_CACHE_SIZE = 4096


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
        names = ("email.txt", "email.html", "sms.txt", "letter.txt")
        self.templates: dict[tuple[str, str], Template] = {
            (lang, name): env.get_template(f"{lang}/{name}") for lang in LANGUAGES for name in names
        }
        self.cacheable = all(
            only_interpolates_personal(env, f"{lang}/{name}")
            for lang in LANGUAGES
            for name in ("email.txt", "email.html")
        )
        self._emails: dict[tuple[str, tuple[str, ...], tuple[str, ...]], tuple[str, str]] = {}

    def render(self, channel: str, person: dict[str, Any], code: str) -> Rendered:
        given = str(person.get("lang") or "")
        lang = given if given in LANGUAGES else LANGUAGES[0]
        if channel == "email" and self.cacheable:
            return self._email(lang, person, code)
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

    def _email(self, lang: str, person: dict[str, Any], code: str) -> Rendered:
        classes = tuple(person.get("classes", []))
        risks = tuple(person.get("risks", []))
        key = (lang, classes, risks)
        parts = self._emails.get(key)
        if parts is None:
            if len(self._emails) >= RENDER_CACHE_SIZE:
                self._emails.clear()
            context = self._context(lang, person, _MARKERS["code"], markers=True)
            parts = self._emails[key] = (
                self.templates[lang, "email.txt"].render(context),
                self.templates[lang, "email.html"].render(context),
            )
        values = _personal(lang, person) | {"code": code}
        escaped = {field: str(escape(value)) for field, value in values.items()}
        text = _MARKER.sub(lambda m: values[m.group(1)], parts[0])
        html = _MARKER.sub(lambda m: escaped[m.group(1)], parts[1])
        return Rendered("email", lang, self.content[lang]["subject"], text, html)

    def _context(
        self, lang: str, person: dict[str, Any], code: str, *, markers: bool = False
    ) -> dict[str, Any]:
        content = self.content[lang]
        return {
            "organisation": self.organisation,
            "dpo": self.dpo,
            "content": content,
            "subject": content["subject"],
            "person": {f: _MARKERS[f] for f in PERSONAL[:3]}
            if markers
            else _personal(lang, person),
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


def _personal(lang: str, person: dict[str, Any]) -> dict[str, str]:
    name = " ".join(p for p in (person.get("first_name"), person.get("last_name")) if p)
    return {
        "name": name or ("Madame, Monsieur" if lang == "fr" else "Sir or Madam"),
        "first_name": person.get("first_name") or "",
        "last_name": person.get("last_name") or "",
    }


def only_interpolates_personal(env: Environment, name: str) -> bool:
    """Whether the template uses the person's fields and the code only as plain ``{{ person.x }}``
    and ``{{ code }}`` outputs: no test, loop, filter or call on them. Then rendering with
    markers and replacing them gives the same text as rendering with the values."""
    source = env.loader.get_source(env, name)[0] if env.loader else ""
    tree = env.parse(source)

    def personal(node: nodes.Node) -> bool:
        if isinstance(node, nodes.Getattr):
            return isinstance(node.node, nodes.Name) and node.node.name == "person"
        return isinstance(node, nodes.Name) and node.name == "code"

    plain = sum(personal(n) for out in tree.find_all(nodes.Output) for n in out.nodes)
    used = sum(1 for n in tree.find_all(nodes.Name) if n.name in ("person", "code"))
    return plain == used


def _fill(fields: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    def one(text: str) -> str:
        for key, value in values.items():
            text = text.replace("{" + key + "}", value)
        return text

    return {
        k: [one(x) for x in v] if isinstance(v, list) else one(str(v)) for k, v in fields.items()
    }
