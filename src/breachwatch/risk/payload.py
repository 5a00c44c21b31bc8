"""Exposure in the sealed per-person payloads (lookup index, dashboard people file), grouped.

Light on purpose: the web service reads payloads through ``with_expanded_exposure``.
"""

from __future__ import annotations

from typing import Any

# Per person of the registry_uid range [$lo, $hi], their exposure as groups of data classes
# sharing the same breaches, first exposure date and "added" flag (a person's dozen classes
# fall in two or three such groups): the sealed per-person payloads (lookup index, dashboard
# people file) store these, 2.6 times smaller than one entry per class at 100 k people.
EXPOSURE_GROUPS_SQL = """
    SELECT registry_uid, list_sort(list({'c': classes, 'b': breaches, 'f': first_exposed,
                                         'a': added})) AS exposure_groups
    FROM (SELECT registry_uid, list_sort(list(data_class)) AS classes, breaches,
                 CAST(first_exposed AS VARCHAR) AS first_exposed, added_by_breach AS added
          FROM exposure WHERE registry_uid BETWEEN $lo AND $hi
          GROUP BY registry_uid, breaches, first_exposed, added_by_breach)
    GROUP BY registry_uid
"""


def expand_exposure(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The groups of ``EXPOSURE_GROUPS_SQL`` as one entry per data class, in class order:
    ``class``, ``breaches``, ``first_exposed``, ``added``."""
    entries = [
        {"class": name, "breaches": g["b"], "first_exposed": g["f"], "added": g["a"]}
        for g in groups
        for name in g["c"]
    ]
    return sorted(entries, key=lambda e: str(e["class"]))


def with_expanded_exposure(payload: dict[str, Any]) -> dict[str, Any]:
    """A sealed payload as its readers expect it: ``exposure`` one entry per data class (files
    written before the grouping already hold that)."""
    groups = payload.pop("exposure_groups", None)
    if groups is not None:
        payload["exposure"] = expand_exposure(groups)
    return payload
