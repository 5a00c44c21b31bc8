"""Affected-population benchmark: generate N people, ingest the registry and the main leak, link
them, and score the result against the generator's ground truth.

    .venv/bin/python benchmarks/affected.py --people 1000000 [--engine duckdb|spark|both]

Prints ingest and linkage times, peak memory, and precision / recall of the affected people.
With ``--engine both`` the same workspace is linked on DuckDB, then on Spark (``local[2]``, or
the ``spark_master`` setting), and the ratio spark/duckdb is printed. Spark's JVM is another
process: its peak resident memory is sampled from /proc every 0.5 s.
(The Splink "textbook configuration" anchor the issue asks for is not in this script yet.)
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Self


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--engine", choices=("duckdb", "spark", "both"), default="duckdb")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="bw-affected-"))
    os.environ["BREACHWATCH_KEY"] = "cd" * 32  # no key file left behind
    try:
        engines = ("duckdb", "spark") if args.engine == "both" else (args.engine,)
        run(args.people, work, engines)
    finally:
        shutil.rmtree(work, ignore_errors=True)


class JvmPeak:
    """Peak resident memory of this process's java children, sampled from /proc."""

    def __init__(self) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            for pid in _java_children(os.getpid()):
                self.peak_kb = max(self.peak_kb, _rss_kb(pid))


def _java_children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if int(stat[1]) == parent and comm == "java":
            found.append(int(entry.name))
    return found


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run(people: int, work: Path, engines: tuple[str, ...] = ("duckdb",)) -> None:
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
        print(f"{people:,} people: ingest registry + main leak {ingested:.1f} s", flush=True)
        with manifest.truth["main"].open(encoding="utf-8") as handle:
            expected = {row["person_id"] for row in csv.DictReader(handle) if row["person_id"]}
        seconds = {}
        for engine in engines:
            with JvmPeak() as jvm:
                started = time.perf_counter()
                report = compute_affected(ws, "main", engine=engine)
                seconds[engine] = time.perf_counter() - started
            found = {r[0] for r in ws.con.execute("SELECT record_id FROM affected").fetchall()}
            hits = len(found & expected)
            jvm_note = f", Spark JVM peak {jvm.peak_kb / 1024:,.0f} MB" if engine == "spark" else ""
            print(
                f"[{engine}] affected {seconds[engine]:.1f} s "
                f"({report.leaked_records / seconds[engine]:,.0f} leaked records/s); "
                f"python peak {_peak_mb():,.0f} MB{jvm_note}\n"
                f"affected people {report.affected_people:,} (truth {len(expected):,}), "
                f"precision {hits / max(len(found), 1):.5f}, recall {hits / len(expected):.5f}; "
                f"routes {report.by_route}; probabilistic {report.probabilistic}",
                flush=True,
            )
        if len(seconds) == 2:
            print(f"ratio spark/duckdb: {seconds['spark'] / seconds['duckdb']:.2f}")


if __name__ == "__main__":
    main()
