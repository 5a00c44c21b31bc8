"""Both languages hold the same texts; numbers are written the way each language writes them."""

from __future__ import annotations

from collections import Counter

from breachwatch.report.categories import find_column, group_categories
from breachwatch.report.texts import _all_texts, texts


def _keys(table: dict[str, object], prefix: str = "") -> set[str]:
    keys = set()
    for key, value in table.items():
        keys |= _keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key}
    return keys


def test_french_and_english_hold_the_same_keys() -> None:
    data = _all_texts()
    assert set(data) == {"fr", "en"}
    assert _keys(data["fr"]) == _keys(data["en"])


def test_numbers_per_language() -> None:
    fr, en = texts("fr"), texts("en")
    assert fr.number(43_000_000) == "43\u00a0000\u00a0000" and en.number(43_000_000) == "43,000,000"
    assert fr.decimal(1234.56) == "1\u00a0234,6" and en.decimal(-8.0) == "-8.0"
    assert en.approx(1753) == "1,800" and en.approx(38_412_345) == "38,000,000"
    assert en.approx(42) == "42" and fr.percent(1, 3) == "33,3 %"
    assert (
        en.enumerate(["a", "b", "c"]) == "a, b and c"
        and fr.enumerate(["a", "b"], "nor") == "a ni b"
    )


def test_category_column_found_by_folded_name() -> None:
    assert find_column(["id", "Catégorie", "x"], "") == 2
    assert find_column(["id", "statut"], "") is None
    assert find_column(["id", "Statut"], "statut") == 2


def test_small_groups_join_other_and_missing_values_go_last() -> None:
    grouped = group_categories(Counter({"a": 50, "b": 9, "c": 3, None: 4, "d": 12}))
    assert grouped == [
        {"id": "a", "people": 50},
        {"id": "d", "people": 12},
        {"id": "other", "people": 12},
        {"id": "not_given", "people": 4},
    ]


def test_exported_names_load() -> None:
    import breachwatch.report as report

    assert sorted(report.__all__) == sorted(report._EXPORTS)
    for name in report.__all__:
        assert getattr(report, name) is not None
