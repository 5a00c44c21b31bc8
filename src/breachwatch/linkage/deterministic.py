"""Deterministic links: a leaked record and a registry person share a strong identifier.

Rules (docs/affected.md), all set-based; one SQL text runs on both engines (DuckDB here, Spark in
``spark.py``), so their rules cannot drift:
- a key links only if its value belongs to exactly one registry person (a family landline or a
  shared mailbox is ambiguous and left to the probabilistic step);
- NIR and agency id stand alone; an e-mail or phone also needs the date of birth to agree (or,
  when the leak has none, first name and postal code): relatives share a landline, a surname
  and name-derived addresses, namesakes share name-derived addresses (RESEARCH.md: 74% of
  false positives at 3 M came from shared e-mails; on our synthetic data "same landline + same
  surname" linked deleted accounts to their relatives);
- when keys point at different people, the strongest route wins: nir > agency_id > email > phone.
"""

from __future__ import annotations

import re

import duckdb

DETERMINISTIC_TABLE = "bw_det_links"

# (route, priority, leak-side key expressions, registry-side key expressions, needs corroboration)
_KEYS: tuple[tuple[str, int, tuple[str, ...], tuple[str, ...], bool], ...] = (
    ("nir", 1, ("nir",), ("nir",), False),
    ("agency_id", 2, ("agency_id",), ("agency_id",), False),
    ("email", 3, ("email_match", "email_2_match"), ("email_match", "email_2_match"), True),
    ("phone", 4, ("phone", "phone_2"), ("phone", "phone_2"), True),
)
# Same date of birth; or, when the leak has no date of birth, same first name and postal code;
# or, when it has neither date of birth nor first name (forum accounts), same city.
_CORROBORATION = (
    "(l.date_of_birth = r.date_of_birth OR (l.date_of_birth IS NULL "
    "AND l.first_name_match = r.first_name_match AND l.postal_code = r.postal_code) "
    "OR (l.date_of_birth IS NULL AND l.first_name_match IS NULL "
    "AND l.city_match = r.city_match))"
)


def _valid(column: str) -> str:
    return f"{column.removesuffix('_match')}_valid"


# Every column of ``records`` the rules read: what the Spark engine ships of each side.
DETERMINISTIC_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(
        ["record_uid", *re.findall(r"\b[lr]\.(\w+)", _CORROBORATION)]
        + [c for _, _, leak, reg, _ in _KEYS for c in (*leak, *reg)]
        + [_valid(c) for _, _, leak, _, _ in _KEYS for c in leak]
    )
)


def _unique_keys(route: str, columns: tuple[str, ...]) -> str:
    union = " UNION ALL ".join(
        f"SELECT {c} AS k, record_uid FROM bw_reg WHERE {_valid(c)}" for c in columns
    )
    return (
        f"SELECT k, any_value(record_uid) AS registry_uid FROM ({union}) AS keyed "
        "GROUP BY k HAVING count(DISTINCT record_uid) = 1"
    )


def _candidates(route: str, priority: int, leak_cols: tuple[str, ...], corroborate: bool) -> str:
    parts = []
    for column in leak_cols:
        join = (
            f"SELECT l.record_uid AS leak_uid, k.registry_uid, '{route}' AS route, "
            f"{priority} AS priority FROM bw_leak l JOIN key_{route} k ON l.{column} = k.k"
        )
        if corroborate:
            join += f" JOIN bw_reg r ON r.record_uid = k.registry_uid AND {_CORROBORATION}"
        parts.append(join + f" WHERE l.{_valid(column)}")
    return " UNION ALL ".join(parts)


def deterministic_steps() -> list[tuple[str, str]]:
    """The links as named steps over relations ``bw_leak`` and ``bw_reg``, each a SELECT that
    may read the steps before it; the last, ``links``, has columns ``(leak_uid, registry_uid,
    route, conflicting)``, ``conflicting`` true when another key of the same record pointed at
    someone else.

    DuckDB runs them as one query (``deterministic_links_sql``); Spark materialises each step,
    as one query of this many joins takes its planner minutes. Portable SQL (no ``arg_min``,
    which Spark spells ``min_by``): the strongest route's least priority first, then, among its
    candidates, the least registry uid, so that a record whose two e-mails point at two people
    links the same way on every engine."""
    steps = [(f"key_{route}", _unique_keys(route, reg)) for route, _, _, reg, _ in _KEYS]
    candidates = " UNION ALL ".join(
        _candidates(route, prio, leak, corr) for route, prio, leak, _, corr in _KEYS
    )
    steps.append(("candidates", candidates))
    steps.append(
        (
            "links",
            """WITH best AS (SELECT leak_uid, min(priority) AS priority,
                                count(DISTINCT registry_uid) > 1 AS conflicting
                         FROM candidates GROUP BY leak_uid)
               SELECT b.leak_uid, min(c.registry_uid) AS registry_uid, min(c.route) AS route,
                      b.conflicting
               FROM best b JOIN candidates c
                 ON c.leak_uid = b.leak_uid AND c.priority = b.priority
               GROUP BY b.leak_uid, b.conflicting""",
        )
    )
    return steps


def deterministic_links_sql() -> str:
    """The steps as one query (see ``deterministic_steps``)."""
    *before, (_, last) = deterministic_steps()
    ctes = ", ".join(f"{name} AS ({sql})" for name, sql in before)
    return f"WITH {ctes} SELECT * FROM ({last}) AS links"


def link_deterministic(con: duckdb.DuckDBPyConnection) -> int:
    """Links the records of view ``bw_leak`` to those of view ``bw_reg``; returns link count.

    Writes temp table ``bw_det_links`` (columns: see ``deterministic_links_sql``)."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {DETERMINISTIC_TABLE} AS {deterministic_links_sql()}"
    )
    row = con.execute(f"SELECT count(*) FROM {DETERMINISTIC_TABLE}").fetchone()
    return int(row[0]) if row else 0
