"""The Spark engine: the same affected set and the same identity clusters as DuckDB on the same
data, and its bad input.

Runs Spark for real (``local[2]``, one session for the module); skipped when pyspark or Java is
missing. The bad-input tests need no JVM: each check fails before Spark starts.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from breachwatch.errors import UsageError
from breachwatch.ingest.pipeline import ingest
from breachwatch.linkage.affected import compute_affected
from breachwatch.linkage.engine import open_engine
from breachwatch.linkage.identity import cluster_identities
from breachwatch.linkage.spark_session import SparkOptions, check_java, spark_session
from breachwatch.store.workspace import Workspace, init_workspace, open_workspace
from breachwatch.synth import SynthManifest, generate
from breachwatch.types import Role

pytest.importorskip("pyspark")

PEOPLE = 1000
# Stale contacts: keys link part of it, Splink some of the rest. (Spark runs Splink's hundreds of
# small queries slowly: one leak keeps the module to minutes.)
LEAKS = ("telecom",)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> SynthManifest:
    return generate(PEOPLE, 21, tmp_path_factory.mktemp("synth"))


@pytest.fixture(scope="module")
def linked(module_ws: Workspace, manifest: SynthManifest) -> Workspace:
    ingest(module_ws, [manifest.registry], None, Role.REGISTRY)
    ingest(module_ws, [manifest.earlier_leaks["telecom"]], "telecom")
    return module_ws


@pytest.fixture(scope="module")
def spark(linked: Workspace) -> Iterator[None]:
    """One session for the module: compute_affected uses the running one and leaves it."""
    try:
        check_java()
    except UsageError as exc:
        pytest.skip(str(exc))
    options = SparkOptions.from_settings(linked.settings)
    with spark_session(options, linked.home / "tmp"):
        yield


def _links(ws: Workspace, breach: str) -> dict[int, tuple[int, str, float]]:
    rows = ws.con.execute(
        "SELECT leak_uid, registry_uid, route, match_probability FROM affected_links "
        "WHERE breach = ?",
        [breach],
    ).fetchall()
    return {leak: (reg, route, prob) for leak, reg, route, prob in rows}


def _people(ws: Workspace, breach: str) -> dict[str, str]:
    rows = ws.con.execute(
        "SELECT record_id, match_route FROM affected WHERE breach = ?", [breach]
    ).fetchall()
    return dict(rows)


@pytest.mark.parametrize("breach", LEAKS)
def test_spark_gives_the_affected_set_duckdb_gives(
    linked: Workspace, spark: None, breach: str
) -> None:
    on_duckdb = compute_affected(linked, breach, engine="duckdb")
    duckdb_links, duckdb_people = _links(linked, breach), _people(linked, breach)
    on_spark = compute_affected(linked, breach, engine="spark")
    spark_links, spark_people = _links(linked, breach), _people(linked, breach)

    assert spark_people == duckdb_people  # the same people, each by the same strongest route
    assert spark_links.keys() == duckdb_links.keys()
    for leak_uid, (registry_uid, route, probability) in duckdb_links.items():
        other = spark_links[leak_uid]
        assert other[:2] == (registry_uid, route), leak_uid
        # Floating-point sums in another order: the same probability to 4 decimals.
        assert other[2] == pytest.approx(probability, abs=1e-4), leak_uid
    assert on_spark.by_route == on_duckdb.by_route
    assert on_spark.conflicting_keys == on_duckdb.conflicting_keys
    assert on_spark.probabilistic["pairs_scored"] == on_duckdb.probabilistic["pairs_scored"]
    assert on_spark.by_route.get("probabilistic", 0) > 0  # Splink ran on Spark
    assert on_spark.by_route.get("email", 0) > 0


@pytest.fixture(scope="module")
def every_dataset(linked: Workspace, manifest: SynthManifest) -> Workspace:
    """The registry, telecom and the forum (full names and birth years, no birth dates)."""
    ingest(linked, [manifest.earlier_leaks["forum"]], "forum")
    return linked


def _clusters(ws: Workspace) -> dict[int, int]:
    return dict(ws.con.execute("SELECT record_uid, cluster_id FROM clusters").fetchall())


def _edges(ws: Workspace) -> dict[tuple[int, int], tuple[str, float, str]]:
    rows = ws.con.execute(
        "SELECT left_uid, right_uid, route, match_probability, explanation FROM cluster_edges"
    ).fetchall()
    return {(left, right): (route, p, explanation) for left, right, route, p, explanation in rows}


def test_link_on_spark_gives_the_clusters_duckdb_gives(
    every_dataset: Workspace, spark: None
) -> None:
    ws = every_dataset
    on_duckdb = cluster_identities(ws.con)
    duckdb_clusters, duckdb_edges = _clusters(ws), _edges(ws)
    with open_engine(ws, "spark") as engine:
        on_spark = cluster_identities(ws.con, engine=engine)
    spark_clusters, spark_edges = _clusters(ws), _edges(ws)

    assert spark_clusters == duckdb_clusters  # every record in the same identity
    assert spark_edges.keys() == duckdb_edges.keys()
    for pair, (route, probability, explanation) in duckdb_edges.items():
        other = spark_edges[pair]
        assert other[0] == route, pair
        # Floating-point sums in another order: the same probability to 4 decimals.
        assert other[1] == pytest.approx(probability, abs=1e-4), pair
        if route != "probabilistic" and route != "attached":
            assert other[2] == explanation, pair  # the key and what corroborated it
    assert (on_spark.records, on_spark.clusters, on_spark.multi_record_clusters) == (
        on_duckdb.records,
        on_duckdb.clusters,
        on_duckdb.multi_record_clusters,
    )
    assert on_spark.pairs_scored == on_duckdb.pairs_scored
    routes = {route for route, _, _ in spark_edges.values()}
    assert {"email", "probabilistic"} <= routes  # keys and Splink both ran on Spark
    # Forum rows (a full name and a birth year) joined identities on Spark too.
    joined = ws.con.execute(
        """SELECT count(*) FROM clusters c WHERE c.breach = 'forum' AND EXISTS (
               SELECT 1 FROM clusters o WHERE o.cluster_id = c.cluster_id
               AND o.record_uid <> c.record_uid)"""
    ).fetchone()
    assert joined is not None and joined[0] > 0


def _cli(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "breachwatch.cli", "--workspace", str(home), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def test_cli_affected_on_spark_prints_one_json_object(
    manifest: SynthManifest, tmp_path: Path, spark: None
) -> None:
    # Its own JVM: a small leak whose records all link by key (the first registry rows), so the
    # run is the CLI path, shipping and the key rules on Spark, without another Splink run.
    lines = manifest.registry.read_text(encoding="utf-8").splitlines()[:201]
    people = tmp_path / "people.csv"
    people.write_text("\n".join(lines) + "\n", encoding="utf-8")
    home = init_workspace(tmp_path / "cli-ws")
    with open_workspace(home) as ws:
        ingest(ws, [people], "registry", Role.REGISTRY)
        ingest(ws, [people], "copy")
    done = _cli(home, "affected", "--breach", "copy", "--engine", "spark", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["affected_people"] == 200
    assert report["unmatched_records"] == 0
    assert set(report["by_route"]) <= {"nir", "agency_id"}


# --- bad input: each is refused before a JVM starts, so these need no Spark ---------------------

_HIDE_PYSPARK = """
import sys
class _NoPyspark:
    def find_spec(self, name, path=None, target=None):
        if name == "pyspark" or name.startswith("pyspark."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _NoPyspark())
"""


@pytest.fixture
def small_ws(ws: Workspace, manifest: SynthManifest) -> Workspace:
    ingest(ws, [manifest.registry], None, Role.REGISTRY)
    ingest(ws, [manifest.main_leak], "main")
    ws.con.execute("CHECKPOINT")
    return ws


def _cli_without_workspace_lock(
    ws: Workspace, *args: str, **kw: object
) -> subprocess.CompletedProcess[str]:
    ws.con.close()
    return _cli(ws.home, *args, **kw)  # type: ignore[arg-type]


def _said(done: subprocess.CompletedProcess[str]) -> str:
    """The CLI's stderr with the terminal's line wrapping undone."""
    return " ".join(done.stderr.split())


# Both linkage commands, each as the CLI runs it.
COMMANDS = pytest.mark.parametrize(
    "command", [("affected", "--breach", "main"), ("link",)], ids=["affected", "link"]
)


@COMMANDS
def test_without_pyspark_the_cli_names_the_extra(
    small_ws: Workspace, tmp_path: Path, command: tuple[str, ...]
) -> None:
    # A real interpreter where importing pyspark fails, as in an install without the extra.
    (tmp_path / "sitecustomize.py").write_text(_HIDE_PYSPARK, encoding="utf-8")
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    done = _cli_without_workspace_lock(
        small_ws, *command, "--engine", "spark", env={"PYTHONPATH": path}
    )
    assert done.returncode == 2, done.stderr
    assert "pip install 'breachwatch[spark]'" in _said(done)
    assert "Traceback" not in done.stderr


@COMMANDS
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"JAVA_HOME": "/nonexistent/jdk"}, "JAVA_HOME=/nonexistent/jdk holds no bin/java"),
        ({"JAVA_HOME": "", "PATH": "/nonexistent"}, "no java is on PATH"),
    ],
)
def test_without_java_a_clear_error(
    small_ws: Workspace, env: dict[str, str], message: str, command: tuple[str, ...]
) -> None:
    # PATH without java: the interpreter is called by its full path, so it still runs.
    done = _cli_without_workspace_lock(small_ws, *command, "--engine", "spark", env=env)
    assert done.returncode == 2, done.stderr
    assert message in _said(done)
    assert "Traceback" not in done.stderr


@COMMANDS
def test_an_unreachable_master_fails_fast(small_ws: Workspace, command: tuple[str, ...]) -> None:
    started = time.monotonic()
    done = _cli_without_workspace_lock(
        small_ws,
        *command,
        "--engine",
        "spark",
        "--spark-master",
        "spark://127.0.0.1:1",
    )
    assert done.returncode == 2, done.stderr
    assert "Spark master spark://127.0.0.1:1 cannot be reached" in _said(done)
    assert "Traceback" not in done.stderr
    assert time.monotonic() - started < 60


@pytest.mark.parametrize(
    ("master", "message"),
    [
        ("sc://127.0.0.1:15002", "Spark Connect"),
        ("mesos://x:5050", "expected local[N]"),
        ("spark://nohostport", "expected spark://HOST:PORT"),
    ],
)
def test_a_master_url_of_unknown_form(small_ws: Workspace, master: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        compute_affected(small_ws, "main", engine="spark", spark_master=master)


def test_link_on_spark_of_an_empty_workspace_fails_before_spark(ws: Workspace) -> None:
    # A bogus JAVA_HOME: Spark would fail to start, so the message proves it was never tried.
    done = _cli_without_workspace_lock(
        ws, "link", "--engine", "spark", env={"JAVA_HOME": "/nonexistent/jdk"}
    )
    assert done.returncode == 2, done.stderr
    assert "the workspace holds no records" in _said(done)
    assert "Traceback" not in done.stderr
