"""Affected-population benchmark: generate N people, ingest the registry and the main leak, link
them, and score the result against the generator's ground truth.

    .venv/bin/python benchmarks/affected.py --people 1000000 [--engine duckdb|spark|both]

Prints ingest and linkage times, peak memory, and precision / recall of the affected people.
With ``--engine both`` the same workspace is linked on DuckDB, then on Spark (``local[2]``, or
the ``spark_master`` setting), and the ratio spark/duckdb is printed. Spark's JVM is another
process: its peak resident memory is sampled from /proc every 0.5 s.
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
import threading
import time
from pathlib import Path
from typing import Any, Self


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--engine", choices=("duckdb", "spark", "both"), default="duckdb")
    parser.add_argument("--anchor", action="store_true", help="also run the textbook Splink")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep --dir; a kept one is reused (no generation, no ingest) on the next run",
    )
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="bw-affected-"))
    os.environ["BREACHWATCH_KEY"] = "cd" * 32  # no key file left behind
    try:
        engines = ("duckdb", "spark") if args.engine == "both" else (args.engine,)
        run(args.people, work, engines, args.anchor)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


class JvmPeak:
    """Peak resident memory and CPU seconds of this process's java children, sampled from
    /proc (CPU up to the last sample: at most 0.5 s short)."""

    def __init__(self) -> None:
        self.peak_kb = 0
        self.cpu_seconds = 0.0
        self._cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu_seconds = sum(self._cpu.values())

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            for pid in _java_children(os.getpid()):
                self.peak_kb = max(self.peak_kb, _rss_kb(pid))
                self._cpu[pid] = max(self._cpu.get(pid, 0.0), _cpu_seconds(pid))


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


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far (its threads included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime and stime are fields 14 and 15 of stat(5); fields[0] here is field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run(
    people: int, work: Path, engines: tuple[str, ...] = ("duckdb",), with_anchor: bool = False
) -> None:
    from breachwatch.ingest.pipeline import ingest
    from breachwatch.linkage.affected import compute_affected
    from breachwatch.store.workspace import init_workspace, open_workspace
    from breachwatch.synth import generate
    from breachwatch.types import Role

    truth = work / "data" / "truth" / "main.csv"
    reuse = (work / "ws" / ".ingested").is_file() and truth.is_file()
    if not reuse:
        manifest = generate(people, 42, work / "data")
        truth = manifest.truth["main"]
    with open_workspace(work / "ws" if reuse else init_workspace(work / "ws")) as ws:
        if reuse:
            print(f"reusing {work} (generated and ingested by an earlier --keep run)", flush=True)
        else:
            started = time.perf_counter()
            ingest(ws, [manifest.registry], None, Role.REGISTRY)
            ingest(ws, [manifest.main_leak], "main")
            ingested = time.perf_counter() - started
            (work / "ws" / ".ingested").touch()
            print(f"{people:,} people: ingest registry + main leak {ingested:.1f} s", flush=True)
        with truth.open(encoding="utf-8") as handle:
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
        anchor_found = anchor(ws.con) if with_anchor else None
    if anchor_found is not None:
        people_found, anchor_seconds, pairs = anchor_found
        hits = len(people_found & expected)
        print(
            f"textbook Splink (anchor): {anchor_seconds:.1f} s, {pairs:,} pairs scored, affected "
            f"{len(people_found):,}, precision {hits / max(len(people_found), 1):.5f}, "
            f"recall {hits / len(expected):.5f}; time ratio breachwatch / anchor "
            f"{seconds[engines[0]] / anchor_seconds:.2f}"
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
