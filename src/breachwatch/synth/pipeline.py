"""The generator's one entry point: registry, main leak, earlier leaks, truth files, manifest.

Two passes. First, chunk by chunk: people are made, the registry is appended, and every leak's
rows for those people are drawn and spooled to random buckets. Then, leak by leak: buckets are
read back, shuffled and written in the leak's own format, with the truth file alongside.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from breachwatch.errors import UsageError
from breachwatch.synth import engine, leaks, text
from breachwatch.synth.config import (
    BUCKET_ROWS,
    EARLIER_LEAKS,
    MAIN_LEAK,
    MAX_PEOPLE,
    REFERENCE_DATE,
    LeakSpec,
    PopulationSpec,
)
from breachwatch.synth.formats import (
    LAYOUTS,
    REGISTRY_COLUMNS,
    REGISTRY_SQL,
    TRUTH_COLUMNS,
    Layout,
    Sink,
    open_sink,
    record_keys,
    truth_lines,
    write_text,
)
from breachwatch.synth.population import ChunkPlan, Population
from breachwatch.synth.spool import Spool

Progress = Callable[[str, int, int], None]

# Random stream families (population = 1, leak rows = 2): one per purpose, so that adding a draw
# to one purpose never shifts the numbers another purpose sees.
_STREAM_BUCKETS, _STREAM_SHUFFLE, _STREAM_KEYS = 3, 4, 5
REGISTRY_FILE = "registry.csv"
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class SynthManifest:
    """Where everything was written; ``out/manifest.json`` describes formats, counts and rates."""

    out: Path
    people: int
    seed: int
    registry: Path
    main_leak: Path
    earlier_leaks: dict[str, Path]
    truth: dict[str, Path]


def generate(people: int, seed: int, out: Path, progress: Progress | None = None) -> SynthManifest:
    """Write a synthetic registry of ``people`` people, the leaks and their truth under ``out``.

    The same (people, seed) always gives the same bytes. ``progress(step, done, total)`` is called
    as work advances: step ``"people"`` (registry people generated), then one step per leak named
    like the leak (``"main"``, ``"telecom"``, …) counting rows written.
    """
    _check(people, seed)
    out = Path(out)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    report = progress or _silent
    population = Population(people, seed, PopulationSpec())
    specs = (MAIN_LEAK, *EARLIER_LEAKS)
    spools = {s.name: Spool(out / ".spool" / s.name, _buckets(s, population)) for s in specs}
    counts: dict[str, Counter[str]] = {s.name: Counter() for s in specs}
    try:
        _first_pass(population, specs, spools, counts, out / REGISTRY_FILE, report)
        for index, spec in enumerate(specs):
            _write_leak(spec, LAYOUTS[spec.name], spools[spec.name], out, (seed, index), report)
    finally:
        for spool in spools.values():
            spool.remove()
        if (out / ".spool").exists():
            (out / ".spool").rmdir()
    manifest = SynthManifest(
        out=out,
        people=people,
        seed=seed,
        registry=out / REGISTRY_FILE,
        main_leak=out / LAYOUTS["main"].file_name,
        earlier_leaks={s.name: out / LAYOUTS[s.name].file_name for s in EARLIER_LEAKS},
        truth={s.name: out / "truth" / f"{s.name}.csv" for s in specs},
    )
    _write_manifest(manifest, population, specs, counts)
    return manifest


def _check(people: int, seed: int) -> None:
    if not 1 <= people <= MAX_PEOPLE:
        raise UsageError(f"people must be between 1 and {MAX_PEOPLE:,}, not {people:,}")
    if seed < 0:
        raise UsageError(f"seed must be a non-negative integer, not {seed}")


def _silent(step: str, done: int, total: int) -> None:
    return None


def _buckets(spec: LeakSpec, population: Population) -> int:
    expected = spec.registry_share * population.people + spec.outsider_share * population.pool
    return max(1, math.ceil(expected * (1 + spec.duplicate_share) / BUCKET_ROWS))


def _first_pass(
    population: Population,
    specs: tuple[LeakSpec, ...],
    spools: dict[str, Spool],
    counts: dict[str, Counter[str]],
    registry_path: Path,
    report: Progress,
) -> None:
    with registry_path.open("wb") as registry:
        registry.write((",".join(REGISTRY_COLUMNS) + "\n").encode())
        spooler = _Spooler(registry, specs, spools, counts, population, report)
        for plan in population.plans:
            spooler.spool(population.chunk(plan), plan)


@dataclass
class _Spooler:
    """Appends one chunk of people to the registry and spools every leak's rows for them."""

    registry: Sink
    specs: tuple[LeakSpec, ...]
    spools: dict[str, Spool]
    counts: dict[str, Counter[str]]
    population: Population
    report: Progress

    def __post_init__(self) -> None:
        self._con = engine.connect()
        leaks.install_macros(self._con)

    def spool(self, people: pa.Table, plan: ChunkPlan) -> None:
        seed = self.population.seed
        _append_registry(self._con, self.registry, people.slice(0, plan.registry))
        for index, spec in enumerate(self.specs):
            rows = leaks.leak_rows(
                self._con, spec, people, plan.registry, (seed, index, plan.index)
            )
            spool = self.spools[spec.name]
            buckets = np.random.default_rng([seed, _STREAM_BUCKETS, index, plan.index])
            spool.write(rows.table, buckets.integers(0, spool.buckets, rows.table.num_rows))
            self.counts[spec.name].update(rows.counts)
        self.report("people", plan.first_person + plan.registry, self.population.people)


def _append_registry(con: duckdb.DuckDBPyConnection, sink: Sink, people: pa.Table) -> None:
    people = people.append_column("mobile_text", text.phones(people["mobile"].to_numpy(), 1))
    people = people.append_column("landline_text", text.phone_column(people["landline"], 1))
    write_text(sink, engine.run(con, REGISTRY_SQL, people=people)["line"])


def _write_leak(
    spec: LeakSpec, layout: Layout, spool: Spool, out: Path, key: tuple[int, int], report: Progress
) -> None:
    seed, index = key
    ids = np.random.default_rng([seed, _STREAM_KEYS, index])
    next_key = layout.first_key
    written = 0
    with (
        open_sink(layout, out / layout.file_name) as sink,
        (out / "truth" / f"{spec.name}.csv").open("wb") as truth,
    ):
        sink.write(layout.header.encode())
        truth.write((",".join(TRUTH_COLUMNS) + "\n").encode())
        for bucket in range(spool.buckets):
            rows = spool.read(bucket)
            shuffle = np.random.default_rng([seed, _STREAM_SHUFFLE, index, bucket])
            rows = rows.take(pa.array(shuffle.permutation(rows.num_rows))).combine_chunks()
            keys = None
            if next_key is not None:
                numbers = record_keys(ids, next_key, rows.num_rows)
                next_key = int(numbers[-1]) + 1 if len(numbers) else next_key
                keys = pc.cast(pa.array(numbers), pa.string())
            body = rows["body"].chunk(0) if rows.num_rows else pa.array([], pa.string())
            write_text(sink, layout.lines(keys, body, written, spool.rows))
            write_text(
                truth, truth_lines(written, keys, rows["person_id"], rows["identity"].to_numpy())
            )
            written += rows.num_rows
            report(spec.name, written, spool.rows)
        sink.write(layout.trailer.encode())


def _write_manifest(
    manifest: SynthManifest,
    population: Population,
    specs: tuple[LeakSpec, ...],
    counts: dict[str, Counter[str]],
) -> None:
    out = manifest.out
    document = {
        "generator": "breachwatch.synth",
        "people": manifest.people,
        "seed": manifest.seed,
        "reference_date": REFERENCE_DATE.isoformat(),
        "population": {
            "registry_people": population.people,
            "outsider_pool": population.pool,
            "identities": population.identities,
            "settings": asdict(population.spec),
        },
        "registry": {
            "file": REGISTRY_FILE,
            "format": "csv",
            "encoding": "utf-8",
            "separator": ",",
            "header": True,
            "line_ending": "\n",
            "quoting": "RFC 4180, only when needed",
            "columns": list(REGISTRY_COLUMNS),
            "rows": population.people,
            "date_format": "YYYY-MM-DD",
            "phone_format": "06 12 34 56 78",
        },
        "leaks": {s.name: _leak_entry(s, LAYOUTS[s.name], counts[s.name]) for s in specs},
        "truth": {
            "columns": list(TRUTH_COLUMNS),
            "record_no": "1-based ordinal of the data record in file order, header excluded; "
            "one per line in JSONL, one per tuple in the SQL dump",
            "source_key": "the leak's own record id, empty when it has none",
            "person_id": "registry id_personne, empty when the person is not in the registry",
            "identity_id": "the synthetic person across all files (registry or not)",
        },
        "observed": "per leak: rows, who they are (registry or outsider, duplicates) and the "
        "number of rows each noise decision was drawn for (a decision may change nothing, "
        "e.g. stripping accents from a name that has none)",
        "phone_styles": {str(k): v for k, v in text.PHONE_STYLES.items()},
    }
    encoded = json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"
    (out / MANIFEST_FILE).write_text(encoded, encoding="utf-8")


def _leak_entry(spec: LeakSpec, layout: Layout, counts: Counter[str]) -> dict[str, object]:
    styles = {
        "phone_styles": leaks.PHONE_STYLES.get(spec.name),
        "date_styles": leaks.DATE_STYLES.get(spec.name),
    }
    return {
        "role": "main" if spec.name == "main" else "earlier",
        "file": layout.file_name,
        "format": layout.format,
        "encoding": layout.encoding,
        **layout.describe,
        "columns": list(layout.columns),
        "source_key": layout.columns[0] if layout.first_key is not None else None,
        "rows": counts["rows"],
        "truth": f"truth/{spec.name}.csv",
        "rates": {k: v for k, v in asdict(spec).items() if k != "name"},
        **{k: {str(style): p for style, p in v.items()} for k, v in styles.items() if v},
        "optional_fields": list(leaks.OPTIONAL[spec.name]),
        "observed": dict(sorted(counts.items())),
    }
