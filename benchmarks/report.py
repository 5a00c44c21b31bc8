"""Regulator report benchmark: time `breachwatch report regulator` on a synthetic workspace.

    .venv/bin/python benchmarks/report.py --people 1000000
    .venv/bin/python benchmarks/report.py --workspace /tmp/bw-report-1m   # reuse (or keep) one

Preparation (synthetic data, ingest of the registry, the main leak and an earlier leak, the
affected population and the risk analysis) is timed apart: it is not part of the report. The
report is then generated in a fresh process (so its peak memory is its own), `--repeat` times:
workspace opening, each aggregate query, charts, PDF, peak RSS. The anchor is a bare DuckDB
`SELECT <key>, count(*) ... GROUP BY 1` over each table the report reads; the ratio says how far
the report's queries are from merely scanning those tables. The 43 M projection scales the
aggregate time linearly with affected people (every query is a scan, a join or a group-by over
tables whose size grows with people) and keeps opening the workspace, charts and PDF constant
(a catalogue read; a fixed number of bars and pages whatever the size).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BREACH = "main"
TARGET_PEOPLE = 43_000_000
TARGET_SECONDS = 120.0
ANCHOR_SQL = (
    "SELECT breach, count(*) FROM records GROUP BY 1",
    "SELECT breach, count(*) FROM affected GROUP BY 1",
    "SELECT data_class, count(*) FROM exposure GROUP BY 1",
    "SELECT risk, count(*) FROM risk GROUP BY 1",
)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare(people: int, work: Path, home: Path) -> dict[str, float]:
    """Synthetic data → ingest → affected → risk; returns the seconds of each step."""
    from breachwatch.ingest.pipeline import ingest
    from breachwatch.linkage.affected import compute_affected
    from breachwatch.risk.rules import compute_risk
    from breachwatch.store.workspace import init_workspace, open_workspace
    from breachwatch.synth import generate
    from breachwatch.types import Role

    steps: dict[str, float] = {}
    clock = time.perf_counter()
    manifest = generate(people, 42, work / "data")
    steps["synth"], clock = time.perf_counter() - clock, time.perf_counter()
    with open_workspace(init_workspace(home)) as ws:
        ingest(ws, [manifest.registry], None, Role.REGISTRY)
        ingest(ws, [manifest.main_leak], BREACH)
        ingest(ws, [manifest.earlier_leaks["telecom"]], "telecom")
        steps["ingest"], clock = time.perf_counter() - clock, time.perf_counter()
        compute_affected(ws, BREACH)
        steps["affected"], clock = time.perf_counter() - clock, time.perf_counter()
        compute_risk(ws, BREACH)  # links the telecom leak too, then exposure and risk
        steps["risk"] = time.perf_counter() - clock
    shutil.rmtree(work / "data", ignore_errors=True)
    return steps


def double(home: Path, breach: str, times: int) -> float:
    """Doubles, ``times`` times, every row the report reads: the registry's and the leak's
    records, affected, exposure, risk (record numbers shifted past the existing ones, so every
    id stays unique and dense). Same shapes and distributions at 2^times the size, in minutes
    instead of hours of synthesis, ingest and linkage; not a new population (a person's copies
    share names, so only the report's counts are meaningful)."""
    from breachwatch.store.workspace import open_workspace

    clock = time.perf_counter()
    with open_workspace(home) as ws:
        con = ws.con
        registry = con.execute("SELECT name FROM breaches WHERE role = 'registry'").fetchone()
        assert registry, "no registry"
        for _ in range(times):
            reg = _rows_read(con, registry[0])
            leak = _rows_read(con, breach)
            _double_records(con, registry[0], reg)
            _double_records(con, breach, leak)
            con.execute(
                f"""INSERT INTO affected SELECT * REPLACE (registry_uid + {reg} AS registry_uid,
                        list_transform(leak_uids, u -> u + {leak}) AS leak_uids)
                    FROM affected WHERE breach = ?""",
                [breach],
            )
            for table in ("exposure", "risk"):
                con.execute(
                    f"INSERT INTO {table} SELECT * REPLACE (registry_uid + {reg} AS registry_uid) "
                    f"FROM {table}"
                )
            con.execute(
                "UPDATE sources SET rows_read = 2 * rows_read, rows_accepted = 2 * rows_accepted "
                "WHERE breach IN (?, ?)",
                [registry[0], breach],
            )
            con.execute("CHECKPOINT")
    return time.perf_counter() - clock


def _rows_read(con: Any, breach: str) -> int:
    row = con.execute("SELECT max(rows_read) FROM sources WHERE breach = ?", [breach]).fetchone()
    return int(row[0])


def _double_records(con: Any, breach: str, offset: int) -> None:
    con.execute(
        f"""INSERT INTO records SELECT * REPLACE (record_uid + {offset} AS record_uid,
                record_no + {offset} AS record_no)
            FROM records WHERE breach = ?""",
        [breach],
    )


def measure(home: Path, breach: str, out: Path) -> dict[str, Any]:
    """One report in this process: every stage timed; what the CLI does, split up."""
    from breachwatch.report import aggregates as agg
    from breachwatch.report.output import generate_regulator_report
    from breachwatch.store.workspace import open_workspace

    clock = time.perf_counter()
    ws = open_workspace(home)
    opened = time.perf_counter() - clock
    with ws:
        files = generate_regulator_report(ws, breach, out)
        queries = _query_times(ws.con, breach, agg)
        anchor = _timed(lambda: [ws.con.execute(sql).fetchall() for sql in ANCHOR_SQL])
        sizes = {
            name: ws.con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]  # type: ignore[index]
            for name in ("records", "affected", "exposure", "risk")
        }
    return {
        "open": round(opened, 3),
        **files.seconds,
        "cpu": files.cpu_seconds,
        "load": round(os.getloadavg()[0], 1),
        "queries": queries,
        "anchor": round(anchor, 3),
        "rows": sizes,
        "affected_people": files.report["counts"]["affected_people"],
        "pdf_bytes": files.pdf_path.stat().st_size,
        "peak_mb": round(_peak_mb()),
    }


def _timed(fn: Any) -> float:
    clock = time.perf_counter()
    fn()
    return time.perf_counter() - clock


def _query_times(con: Any, breach: str, agg: Any) -> dict[str, float]:
    """The heavy aggregate queries once more, one by one (the buffer pool is warm now)."""
    from breachwatch.report.categories import category_sql

    registries = agg.registries(con)
    category, _ = category_sql([s for r in registries for s in agg.sources(con, r)], "")
    steps = {
        "record_classes": lambda: agg.record_classes(con, breach),
        "affected_totals": lambda: agg.affected_totals(con, breach),
        "people_breakdown": lambda: agg.people_breakdown(con, breach, category, registries),
        "exposure_by_class": lambda: agg.exposure_by_class(con),
        "risk_counts": lambda: agg.risk_counts(con, registries),
    }
    return {name: round(_timed(fn), 3) for name, fn in steps.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--workspace", type=Path, default=None, help="Reuse or keep this one.")
    parser.add_argument("--breach", default=BREACH)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--double", type=int, default=0, help="Double the report's tables this many times first."
    )
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("BREACHWATCH_KEY", "ef" * 32)  # no key file left behind
    if args.measure:
        with tempfile.TemporaryDirectory(prefix="bw-report-out-") as out:
            print(json.dumps(measure(args.workspace, args.breach, Path(out))))
        return
    work = args.workspace.parent if args.workspace else Path(tempfile.mkdtemp(prefix="bw-rep-"))
    home = args.workspace or work / "ws"
    try:
        run(args, work, home)
    finally:
        if args.workspace is None:
            shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path, home: Path) -> None:
    if (home / ".workspace-id").is_file():
        print(f"reusing {home}")
    else:
        steps = prepare(args.people, work, home)
        print(
            "preparation (not measured): " + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items())
        )
    if args.double:
        seconds = double(home, args.breach, args.double)
        print(f"tables doubled {args.double} times (×{2**args.double}) in {seconds:.1f} s")
    runs = [_child(home, args.breach) for _ in range(args.repeat)]
    for i, result in enumerate(runs, 1):
        print(f"run {i}: {json.dumps(result)}")
    _summary(runs)


def _child(home: Path, breach: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--measure", "--workspace", str(home), "--breach", breach]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _summary(runs: list[dict[str, Any]]) -> None:
    best = min(runs, key=lambda r: r["total"])
    people = best["affected_people"]
    scale = TARGET_PEOPLE / people
    fixed = best["open"] + best["charts"] + best["pdf"] + best["json"]
    projected = best["aggregates"] * scale + fixed
    # On an idle machine the queries would use every core: CPU seconds / cores is the wall time
    # they need when no one else runs (an estimate: it assumes perfect parallelism).
    cores = os.cpu_count() or 1
    idle = best["cpu"]["aggregates"] / cores * scale + fixed
    verdict = {True: "✔", False: "✘"}
    print(
        f"\n{people:,} affected people; best of {len(runs)} runs (1-minute load average "
        f"{best['load']} on {cores} cores): open {best['open']:.2f} s, aggregates "
        f"{best['aggregates']:.2f} s (CPU {best['cpu']['aggregates']:.2f} s), charts "
        f"{best['charts']:.2f} s, PDF {best['pdf']:.2f} s, report total {best['total']:.2f} s "
        f"(+ open); peak RSS {best['peak_mb']:,} MB\n"
        f"anchor (bare GROUP BY over records, affected, exposure, risk) {best['anchor']:.2f} s; "
        f"aggregates / anchor = {best['aggregates'] / best['anchor']:.1f}×\n"
        f"per query (warm): {best['queries']}\n"
        f"projection to {TARGET_PEOPLE / 1e6:.0f} M people (aggregates ×{scale:.1f}; open, "
        f"charts and PDF constant): {projected:.0f} s at this run's wall clock "
        f"{verdict[projected <= TARGET_SECONDS]}, {idle:.0f} s from CPU time on {cores} idle "
        f"cores {verdict[idle <= TARGET_SECONDS]} (target {TARGET_SECONDS:.0f} s)"
    )


if __name__ == "__main__":
    main()
