"""The report's words in French and English (``texts.toml``), and number/date formatting."""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from breachwatch.errors import UsageError
from breachwatch.types import DATA_CLASS_LABELS, DataClass

LANGUAGES = ("fr", "en")


@cache
def _all_texts() -> dict[str, Any]:
    raw = resources.files("breachwatch.report").joinpath("texts.toml").read_text(encoding="utf-8")
    return tomllib.loads(raw)


@dataclass(frozen=True)
class Texts:
    """The texts of one language, with the helpers that format numbers the way it writes them."""

    lang: str
    words: dict[str, Any]

    def __call__(self, key: str, **values: object) -> str:
        text = str(self.words[key])
        return text.format(**values) if values else text

    def category(self, value: str) -> str:
        return str(self.words["categories"].get(value, value))

    def status(self, value: str) -> str:
        return str(self.words["statuses"].get(value, value))

    def level(self, value: str) -> str:
        return self(f"level_{value}")

    def data_class(self, name: str) -> str:
        try:
            labels = DATA_CLASS_LABELS[DataClass(name)]
        except ValueError:
            return name
        return labels[0] if self.lang == "fr" else labels[1]

    def number(self, value: int) -> str:
        return f"{value:,}".replace(",", self("number_sep"))

    def decimal(self, value: float, digits: int = 1) -> str:
        return (
            f"{value:,.{digits}f}".replace(",", "\0")
            .replace(".", self("decimal_sep"))
            .replace("\0", self("number_sep"))
        )

    def percent(self, part: int, whole: int) -> str:
        return self.decimal(100 * part / whole if whole else 0.0) + " %"

    def approx(self, value: int) -> str:
        """Two significant digits, for the public statement ("about 38,000,000")."""
        if value < 100:
            return self.number(value)
        step = 10 ** (int(math.log10(value)) - 1)
        return self.number(round(value / step) * step)

    def enumerate(self, items: list[str], joiner: str = "and") -> str:
        if len(items) <= 1:
            return "".join(items) or self("none")
        return ", ".join(items[:-1]) + f" {self(joiner)} " + items[-1]


def texts(lang: str) -> Texts:
    if lang not in LANGUAGES:
        raise UsageError(f"--lang {lang!r}: expected fr or en")
    return Texts(lang, _all_texts()[lang])


def utc_text(moment: dt.datetime | None, unknown: str = "") -> str:
    """A UTC timestamp as the report shows it (minutes are enough for a 72-hour deadline)."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else unknown
