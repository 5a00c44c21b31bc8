"""Affected-population benchmark: generate N people, ingest the registry and the main leak, link
them, and score the result against the generator's ground truth.

    .venv/bin/python benchmarks/affected.py --people 1000000

Prints ingest and linkage times, peak memory, and precision / recall of the affected people.
(The Splink "textbook configuration" anchor the issue asks for is not in this script yet.)
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


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="bw-affected-"))
    os.environ["BREACHWATCH_KEY"] = "cd" * 32  # no key file left behind
    try:
        run(args.people, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(people: int, work: Path) -> None:
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
        f"{people:,} people: ingest registry + main leak {ingested:.1f} s; affected {linked:.1f} s "
        f"({report.leaked_records / linked:,.0f} leaked records/s); peak {_peak_mb():,.0f} MB\n"
        f"affected people {report.affected_people:,} (truth {len(expected):,}), "
        f"precision {hits / max(len(found), 1):.5f}, recall {hits / len(expected):.5f}; "
        f"routes {report.by_route}; probabilistic {report.probabilistic}"
    )


if __name__ == "__main__":
    main()
