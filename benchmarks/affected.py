"""Affected-population benchmark: generate N people, ingest the registry and the main leak, link
them, and score the result against the generator's ground truth.

    .venv/bin/python benchmarks/affected.py --people 1000000

Prints ingest and linkage times, peak memory, and precision / recall of the affected people.
``--anchor`` also runs the textbook Splink model (``textbook.py``) on the same registry and
leak records, in the same run, and scores it the same way.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--anchor", action="store_true", help="also run the textbook Splink")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="bw-affected-"))
    os.environ["BREACHWATCH_KEY"] = "cd" * 32  # no key file left behind
    try:
        run(args.people, work, args.anchor)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(people: int, work: Path, with_anchor: bool = False) -> None:
    from breachwatch.ingest.pipeline import ingest
    from breachwatch.linkage.affected import compute_affected
    from breachwatch.store.workspace import init_workspace, open_workspace
    from breachwatch.synth import generate
    from breachwatch.types import Role

    manifest = generate(people, 42, work / "data")
    with open_workspace(init_workspace(work / "ws")) as ws:
        started = time.perf_counter()
        ingest(ws, [manifest.registry], None, Role.REGISTRY)
        ingest(ws, [manifest.main_leak], "main")
        ingested = time.perf_counter() - started
        started = time.perf_counter()
        report = compute_affected(ws, "main")
        linked = time.perf_counter() - started
        found = {r[0] for r in ws.con.execute("SELECT record_id FROM affected").fetchall()}
        with manifest.truth["main"].open(encoding="utf-8") as handle:
            expected = {row["person_id"] for row in csv.DictReader(handle) if row["person_id"]}
        hits = len(found & expected)
        print(
            f"{people:,} people: ingest registry + main leak {ingested:.1f} s; affected "
            f"{linked:.1f} s ({report.leaked_records / linked:,.0f} leaked records/s); "
            f"peak {_peak_mb():,.0f} MB\naffected people {report.affected_people:,} "
            f"(truth {len(expected):,}), precision {hits / max(len(found), 1):.5f}, "
            f"recall {hits / len(expected):.5f}; routes {report.by_route}; "
            f"probabilistic {report.probabilistic}",
            flush=True,
        )
        anchor_found = anchor(ws.con) if with_anchor else None
    if anchor_found is not None:
        people_found, seconds, pairs = anchor_found
        hits = len(people_found & expected)
        print(
            f"textbook Splink (anchor): {seconds:.1f} s, {pairs:,} pairs scored, affected "
            f"{len(people_found):,}, precision {hits / max(len(people_found), 1):.5f}, "
            f"recall {hits / len(expected):.5f}; time ratio breachwatch / anchor "
            f"{linked / seconds:.2f}"
        )


def anchor(con: Any) -> tuple[set[str], float, int]:
    """The textbook model on the registry and the main leak: the registry people it links
    (each leaked record's best candidate at 0.99), its seconds and the pairs it scored. Runs
    on an in-memory copy of the compared columns (nothing written outside the workspace)."""
    import duckdb
    import textbook  # benchmarks/textbook.py

    columns = (
        "record_uid, record_id, first_name_match AS first_name, last_name_match AS last_name, "
        "date_of_birth, email_match AS email, postal_code, city_match AS city, phone"
    )
    mem = duckdb.connect()
    for name, breach in (("leak", "main"), ("registry", "registry")):
        sql = f"SELECT {columns} FROM records WHERE breach = ?"
        mem.register(f"{name}_arrow", con.execute(sql, [breach]).fetch_arrow_table())
        mem.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")
        mem.unregister(f"{name}_arrow")
    started = time.perf_counter()
    links, pairs = textbook.best_links(mem, "leak", "registry", 0.99)
    seconds = time.perf_counter() - started
    rows = mem.execute(
        f"""SELECT DISTINCT r.record_id FROM {links} l
            JOIN registry r ON r.record_uid = l.registry_uid"""
    ).fetchall()
    return {r[0] for r in rows}, seconds, pairs


if __name__ == "__main__":
    main()
