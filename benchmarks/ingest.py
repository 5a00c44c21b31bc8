"""Ingest benchmark: generate N people, ingest the registry and the main leak, and compare with
DuckDB reading the same files bare into Parquet, in the same run.

    .venv/bin/python benchmarks/ingest.py --people 1000000

Each measured step runs in its own process so its peak memory (ru_maxrss) is its own.
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

STEP = "--step"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step_synth(people: int, out: Path) -> dict[str, object]:
    from breachwatch.synth import generate

    manifest = generate(people, 42, out)
    return {"registry": str(manifest.registry), "main_leak": str(manifest.main_leak)}


def step_bare(path: Path, out: Path) -> dict[str, object]:
    """The anchor: DuckDB's own CSV reader, all columns as text, straight to Parquet."""
    import duckdb

    con = duckdb.connect()
    delim = "\\t" if ".tsv" in path.name else ","
    con.execute(
        f"COPY (SELECT * FROM read_csv('{path}', delim='{delim}', header=true, all_varchar=true)) "
        f"TO '{out}' (FORMAT parquet)"
    )
    rows = con.execute(f"SELECT count(*) FROM '{out}'").fetchone()[0]  # type: ignore[index]
    return {"rows": int(rows)}


def step_ingest(path: Path, home: Path, role: str) -> dict[str, object]:
    from breachwatch.ingest.pipeline import ingest
    from breachwatch.store.workspace import init_workspace, open_workspace
    from breachwatch.types import Role

    os.environ["BREACHWATCH_KEY"] = "ab" * 32  # no key file left behind in ~/.config
    init_workspace(home)
    with open_workspace(home) as ws:
        report = ingest(ws, [path], None if role == "registry" else "bench", Role(role))
    totals = report.totals()
    return {"rows": totals["rows_read"], "quarantined": totals["rows_quarantined"]}


def run_step(args: list[str]) -> dict[str, object]:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, STEP, *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        sys.exit(f"step {args[0]} failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["seconds"] = time.perf_counter() - started
    return result


def child(argv: list[str]) -> None:
    name, *rest = argv
    if name == "synth":
        result = step_synth(int(rest[0]), Path(rest[1]))
    elif name == "bare":
        result = step_bare(Path(rest[0]), Path(rest[1]))
    else:
        result = step_ingest(Path(rest[0]), Path(rest[1]), rest[2])
    result["peak_mb"] = _peak_mb()
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=None, help="Work directory (default: temp).")
    parser.add_argument("--keep", action="store_true", help="Keep the generated files.")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="Reuse the files a --keep run left in --dir (same --people) instead of generating.",
    )
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="bw-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        _report(args.people, work, args.reuse)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def _report(people: int, work: Path, reuse: bool) -> None:
    kept = work / "data" / "manifest.json"
    if reuse and kept.exists() and json.loads(kept.read_text())["people"] == people:
        synth = {"registry": work / "data" / "registry.csv"}
        synth["main_leak"] = work / "data" / "leak_agency.tsv.gz"
        print(f"synth: reusing the {people:,} people of {work / 'data'}")
    else:
        synth = run_step(["synth", str(people), str(work / "data")])
        print(
            f"synth: {people:,} people in {synth['seconds']:.1f} s, peak {synth['peak_mb']:,.0f} MB"
        )
    for role, key in (("registry", "registry"), ("leak", "main_leak")):
        path = Path(str(synth[key]))
        bare = run_step(["bare", str(path), str(work / f"{role}.parquet")])
        shutil.rmtree(work / f"ws-{role}", ignore_errors=True)  # a kept earlier run's
        ours = run_step(["ingest", str(path), str(work / f"ws-{role}"), role])
        rows = int(ours["rows"])  # type: ignore[call-overload]
        print(
            f"{role:8s} {path.name}: {rows:,} rows, {path.stat().st_size / 1e6:,.0f} MB | "
            f"breachwatch {ours['seconds']:.1f} s ({rows / ours['seconds']:,.0f} rows/s, "
            f"peak {ours['peak_mb']:,.0f} MB) | DuckDB bare {bare['seconds']:.1f} s "
            f"(peak {bare['peak_mb']:,.0f} MB) | ratio {ours['seconds'] / bare['seconds']:.2f}x"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == STEP:
        child(sys.argv[2:])
    else:
        main()
