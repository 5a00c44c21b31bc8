"""Categories of people (art. 33(3)(a)) from the registry's own category column.

The column is not a data class: ingest keeps it raw (``records.raw``, read through
``raw_value_sql``, named by ``sources.column_names``). Values are folded (trimmed, lower
case); a value held by fewer than ``MIN_GROUP`` people joins "other", so that a wrongly chosen
column (say, e-mails) cannot put one person's value in a report.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from typing import Any

from breachwatch.errors import ConfigError
from breachwatch.store.schema import raw_value_sql

AUTO_COLUMNS = ("categorie", "category", "categories", "categorie_personne", "population")
MIN_GROUP = 10
NOT_GIVEN = "not_given"
OTHER = "other"


def _fold(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace(" ", "_")


def find_column(column_names: list[str], wanted: str) -> int | None:
    """1-based position of the category column among a source's columns, or None."""
    folded = [_fold(c) for c in column_names]
    for candidate in (_fold(wanted),) if wanted else AUTO_COLUMNS:
        if candidate in folded:
            return folded.index(candidate) + 1
    return None


def category_sql(registry_sources: list[dict[str, Any]], wanted: str) -> tuple[str, str | None]:
    """SQL giving the category of a registry record ``r``, and the column's name (None when
    no registry source has one)."""
    cases, name = [], None
    for source in registry_sources:
        position = find_column(source["column_names"], wanted)
        if position is not None:
            source_id = int(source["source_id"])
            slots = f"(SELECT raw_slots FROM sources WHERE source_id = {source_id})"
            cases.append(f"WHEN {source_id} THEN {raw_value_sql('r', slots, str(position))}")
            name = name or source["column_names"][position - 1]
    if wanted and name is None:
        raise ConfigError(f"report_category_column {wanted!r}: no registry file has such a column")
    if not cases:
        return "NULL", None
    return f"nullif(lower(trim(CASE r.source_id {' '.join(cases)} END)), '')", name


def group_categories(counts: Counter[str | None]) -> list[dict[str, Any]]:
    """[{id, people}], largest first; small groups merged into "other", missing values last."""
    grouped: Counter[str] = Counter()
    for value, people in counts.items():
        if value is None:
            grouped[NOT_GIVEN] += people
        elif people < MIN_GROUP or value in (NOT_GIVEN, OTHER):
            grouped[OTHER] += people
        else:
            grouped[value[:80]] += people
    tail = {OTHER: 1, NOT_GIVEN: 2}
    ordered = sorted(grouped.items(), key=lambda kv: (tail.get(kv[0], 0), -kv[1], kv[0]))
    return [{"id": value, "people": people} for value, people in ordered]
