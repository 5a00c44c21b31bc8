"""Exposure grouped for the sealed payloads, and expanded back for their readers."""

from __future__ import annotations

import duckdb

from breachwatch.risk.payload import EXPOSURE_GROUPS_SQL, expand_exposure, with_expanded_exposure


def test_grouped_exposure_expands_to_one_entry_per_class() -> None:
    con = duckdb.connect()
    con.execute(
        """CREATE TABLE exposure AS SELECT * FROM (VALUES
             (1, 'nir', ['agency'], DATE '2026-11-01', true),
             (1, 'email', ['agency', 'telecom'], DATE '2019-05-02', false),
             (1, 'phone', ['agency', 'telecom'], DATE '2019-05-02', false),
             (1, 'gender', ['agency'], DATE '2026-11-01', true),
             (2, 'email', ['retail'], DATE '2020-01-01', false),
             (3, 'nir', ['agency'], DATE '2026-11-01', true))
           AS t(registry_uid, data_class, breaches, first_exposed, added_by_breach)"""
    )
    rows = con.execute(
        f"SELECT registry_uid, exposure_groups FROM ({EXPOSURE_GROUPS_SQL}) ORDER BY 1",
        {"lo": 1, "hi": 2},
    ).fetchall()
    assert [uid for uid, _ in rows] == [1, 2]  # person 3 is outside the range
    groups = rows[0][1]
    assert len(groups) == 2  # four classes, two (breaches, date, added) combinations
    assert expand_exposure(groups) == [
        {
            "class": "email",
            "breaches": ["agency", "telecom"],
            "first_exposed": "2019-05-02",
            "added": False,
        },
        {"class": "gender", "breaches": ["agency"], "first_exposed": "2026-11-01", "added": True},
        {"class": "nir", "breaches": ["agency"], "first_exposed": "2026-11-01", "added": True},
        {
            "class": "phone",
            "breaches": ["agency", "telecom"],
            "first_exposed": "2019-05-02",
            "added": False,
        },
    ]


def test_payloads_written_before_the_grouping_are_read_as_they_are() -> None:
    old = {"record_id": "P1", "exposure": [{"class": "nir", "breaches": ["a"]}]}
    assert with_expanded_exposure(dict(old)) == old
    new = {"record_id": "P1", "exposure_groups": [{"c": ["nir"], "b": ["a"], "f": "x", "a": 1}]}
    assert with_expanded_exposure(new) == {
        "record_id": "P1",
        "exposure": [{"class": "nir", "breaches": ["a"], "first_exposed": "x", "added": 1}],
    }
