"""The key edges of ``link`` (``identity.key_pairs_sql``, ``key_edges_sql``) against a plain
Python statement of the rules, on small random tables where keys, birth dates and names collide
often."""

from __future__ import annotations

import datetime as dt
from itertools import combinations
from typing import Any

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from breachwatch.linkage.identity import (
    _KEYS,
    KEYED_COLUMNS,
    MAX_KEY_RECORDS,
    key_edges_sql,
    key_pairs_sql,
)

_TYPES = {
    "record_uid": "BIGINT",
    "date_of_birth": "DATE",
    **{c: "BOOLEAN" for c in KEYED_COLUMNS if c.endswith("_valid")},
}


def _dob(days: int | None) -> dt.date | None:
    return None if days is None else dt.date(1980, 1, 1) + dt.timedelta(days=days)


def _value(alphabet: str) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), st.sampled_from(alphabet))


@st.composite
def _records(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Up to 24 records over few values, so that keys are shared by 2 to more than
    MAX_KEY_RECORDS records and corroboration goes every way."""
    count = draw(st.integers(1, 24))
    uids = draw(st.lists(st.integers(1, 10_000), min_size=count, max_size=count, unique=True))
    rows = []
    for uid in uids:
        row: dict[str, Any] = {"record_uid": uid, "breach": "b"}
        for _, _, columns, _ in _KEYS:
            for col, valid in columns:
                value = draw(_value("abc"))
                row[col] = value
                # As ingest stores them: NULL validity for a missing value.
                row[valid] = None if value is None else draw(st.booleans())
        row["first_name_match"] = draw(_value("xy"))
        row["postal_code"] = draw(_value("12"))
        row["city_match"] = draw(_value("pq"))
        row["date_of_birth"] = _dob(draw(st.one_of(st.none(), st.integers(0, 2))))
        rows.append(row)
    return rows


def _corroborated_by(left: dict[str, Any], right: dict[str, Any], birth_dates: int) -> str | None:
    """identity's corroboration of an e-mail or phone pair, as its docstring states it."""
    if left["date_of_birth"] is not None and left["date_of_birth"] == right["date_of_birth"]:
        return "date_of_birth"
    one_lacks = left["date_of_birth"] is None or right["date_of_birth"] is None
    if not one_lacks:
        return None
    fn, pc, city = (
        (left["first_name_match"], right["first_name_match"]),
        (
            left["postal_code"],
            right["postal_code"],
        ),
        (left["city_match"], right["city_match"]),
    )
    if None not in fn + pc and fn[0] == fn[1] and pc[0] == pc[1]:
        return "first_name and postal_code"
    if None in fn and None not in city and city[0] == city[1]:
        return "city"
    bare = [r["date_of_birth"] is None and r["first_name_match"] is None for r in (left, right)]
    if any(bare) and birth_dates <= 1:
        return "single date of birth behind the key"
    return None


def _reference(rows: list[dict[str, Any]]) -> set[tuple[int, int, str, str | None]]:
    best: dict[tuple[int, int], tuple[int, str, str | None]] = {}
    for route, priority, columns, corroborate in _KEYS:
        holders: dict[str, dict[int, dict[str, Any]]] = {}
        for row in rows:
            for col, valid in columns:
                if row[valid] is True and row[col] is not None:
                    holders.setdefault(row[col], {})[row["record_uid"]] = row
        for held in holders.values():
            if not 2 <= len(held) <= MAX_KEY_RECORDS:
                continue
            birth_dates = len({r["date_of_birth"] for r in held.values()} - {None})
            for lu, ru in combinations(sorted(held), 2):
                by = _corroborated_by(held[lu], held[ru], birth_dates) if corroborate else None
                if corroborate and by is None:
                    continue
                if (lu, ru) not in best or priority < best[(lu, ru)][0]:
                    best[(lu, ru)] = (priority, route, by)
    return {(lu, ru, route, by) for (lu, ru), (_, route, by) in best.items()}


def _sql_edges(
    rows: list[dict[str, Any]], slices: int = 1
) -> set[tuple[int, int, str, str | None]]:
    """The SQL's edges, the key values cut into ``slices`` as the DuckDB engine cuts them."""
    con = duckdb.connect()
    columns = ", ".join(f"{c} {_TYPES.get(c, 'VARCHAR')}" for c in KEYED_COLUMNS)
    con.execute(f"CREATE TABLE keyed ({columns})")
    con.executemany(
        f"INSERT INTO keyed VALUES ({', '.join('?' for _ in KEYED_COLUMNS)})",
        [[row[c] for c in KEYED_COLUMNS] for row in rows],
    )
    con.execute("CREATE TABLE pairs (left_uid BIGINT, right_uid BIGINT, rank INTEGER)")
    for part in range(slices):
        con.execute(f"INSERT INTO pairs {key_pairs_sql('keyed', slice_of=(part, slices))}")
    found = con.execute(
        f"SELECT left_uid, right_uid, route, corroborated_by FROM ({key_edges_sql('pairs')})"
    ).fetchall()
    assert len(found) == len({(lu, ru) for lu, ru, _, _ in found}), "a pair came out twice"
    return {(int(lu), int(ru), route, by) for lu, ru, route, by in found}


@settings(max_examples=300, deadline=None)
@given(_records())
def test_key_edges_follow_the_rules(rows: list[dict[str, Any]]) -> None:
    expected = _reference(rows)
    assert _sql_edges(rows) == expected
    assert _sql_edges(rows, slices=3) == expected


def test_a_second_column_counts_when_the_first_is_missing() -> None:
    """A registry record with no mobile but a landline (phone_2) is keyed on the landline."""
    base: dict[str, Any] = {c: None for c in KEYED_COLUMNS}
    one = base | {"record_uid": 1, "phone_2": "+33145000000", "phone_2_valid": True}
    two = base | {"record_uid": 2, "phone": "+33145000000", "phone_valid": True}
    for row in (one, two):
        row["date_of_birth"] = dt.date(1980, 5, 4)
    assert _sql_edges([one, two]) == {(1, 2, "phone", "date_of_birth")}
