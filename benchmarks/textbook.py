"""The anchor of the linkage benchmarks: Splink 5 with a straightforward textbook
configuration (its tutorials' recipe), run on the same records as breachwatch's own model.

Used by ``linkage.py`` (identities, dedupe) and ``affected.py --anchor`` (registry x main leak).
"""

from __future__ import annotations

import logging
import time
from typing import Any


def textbook_settings(link_type: Any, columns: set[str]) -> Any:
    """Splink's tutorial recipe: Jaro-Winkler names with term frequencies, the date-of-birth
    comparison, e-mail, postal code, city (term frequencies) and phone as they come; blocking
    on a few obvious equalities."""
    from splink import SettingsCreator, block_on
    from splink import comparison_library as cl

    comparisons: list[Any] = [
        cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison("date_of_birth", input_is_string=False),
    ]
    if "email" in columns:
        comparisons.append(cl.EmailComparison("email"))
    comparisons += [
        cl.ExactMatch("postal_code"),
        cl.ExactMatch("city").configure(term_frequency_adjustments=True),
    ]
    if "phone" in columns:
        comparisons.append(cl.ExactMatch("phone"))
    if "soc_sec_id" in columns:
        comparisons.append(cl.ExactMatch("soc_sec_id"))
    blocking: list[Any] = [
        block_on("first_name", "last_name"),
        block_on("last_name", "date_of_birth"),
        block_on("first_name", "date_of_birth"),
        block_on("postal_code", "last_name"),
    ]
    blocking += [block_on(c) for c in ("email", "phone", "soc_sec_id") if c in columns]
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="record_uid",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
    )


def linker(con: Any, tables: list[str], link_type: str) -> Any:
    """A trained textbook model: prior from deterministic rules (recall 0.7, the tutorials'
    value), u from 1e7 random pairs, m by EM blocked on names and on the date of birth."""
    from splink import DuckDBAPI, Linker, block_on

    columns = {d[0] for d in con.execute(f"SELECT * FROM {tables[0]} LIMIT 0").description}
    db_api = DuckDBAPI(con)
    data = [db_api.register(t, dataset_display_name=t) for t in tables]
    settings = textbook_settings(link_type, columns)
    model = Linker(data if len(data) > 1 else data[0], settings, log_level=None)
    rules: list[Any] = [block_on("first_name", "last_name", "date_of_birth")]
    rules += [block_on(c) for c in ("email", "soc_sec_id") if c in columns]
    model.training.estimate_probability_two_random_records_match(rules, recall=0.7)
    model.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=42)
    # Two EM runs; the same sampling budget breachwatch gives EM (2 M pairs).
    for rule in (block_on("first_name", "last_name"), block_on("date_of_birth")):
        model.training.estimate_parameters_using_expectation_maximisation(
            rule, max_pairs=2e6, record_sample_proportion=0.05
        )
    return model


def clusters(con: Any, table: str, threshold: float) -> tuple[str, int, dict[str, float]]:
    """Trains and runs the textbook model (dedupe); returns its clusters' table, the pairs
    scored and the seconds of each phase."""
    logging.getLogger("splink").setLevel(logging.ERROR)
    started = time.perf_counter()
    model = linker(con, [table], "dedupe_only")
    trained = time.perf_counter()
    pairs = _blocked(model)
    predictions = model.inference.predict(threshold_match_probability=threshold)
    predicted = time.perf_counter()
    found = model.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold)
    phases = {
        "train": trained - started,
        "predict": predicted - trained,
        "cluster": time.perf_counter() - predicted,
    }
    return found.physical_name, pairs, phases


def best_links(con: Any, left: str, right: str, threshold: float) -> tuple[str, int]:
    """Trains and runs the textbook model (link_only ``left`` x ``right``); returns a table of
    each ``left`` record's best ``right`` record at or above ``threshold`` (leak_uid,
    registry_uid) and the pairs scored."""
    logging.getLogger("splink").setLevel(logging.ERROR)
    model = linker(con, [left, right], "link_only")
    pairs = _blocked(model)
    predictions = model.inference.predict(threshold_match_probability=threshold)
    con.execute(
        f"""CREATE OR REPLACE TABLE textbook_links AS
            SELECT CASE WHEN source_dataset_l = '{left}' THEN record_uid_l ELSE record_uid_r END
                       AS leak_uid,
                   CASE WHEN source_dataset_l = '{left}' THEN record_uid_r ELSE record_uid_l END
                       AS registry_uid
            FROM {predictions.physical_name}
            QUALIFY row_number() OVER (PARTITION BY leak_uid
                                       ORDER BY match_weight DESC, registry_uid) = 1"""
    )
    return "textbook_links", pairs


def _blocked(model: Any) -> int:
    """Blocks once, as a table predict() then reuses, to count the pairs scored."""
    blocked = model.inference.compute_blocked_pairs_for_predict()
    row = blocked.as_duckdbpyrelation().count("*").fetchone()
    model.table_management.register_blocked_pairs_for_predict(blocked)
    return int(row[0]) if row else 0
