"""Dashboard benchmark: latency of every operator page on a workspace of N synthetic people.

    .venv/bin/python benchmarks/dashboard.py --people 1000000 [--requests 200]
    .venv/bin/python benchmarks/dashboard.py --workspace DIR --breach main   # an existing one

An existing workspace (``--workspace``, e.g. the one ``benchmarks/report.py --copies K`` made
larger) is used as it is: only the snapshot is refreshed (timed) and the two benchmark users
added; it is kept afterwards. Its workspace key comes from the environment, as for any command.

Builds the workspace (synth, ingest registry + main leak, affected, risk, dashboard snapshot;
timed separately), starts a real `breachwatch serve`, signs in as an analyst and an admin, and
requests each page sequentially: p50/p95/max per page, peak RSS of the server. The anchor is the
server's /healthz (no data read) in the same run. Target (issue 7): p95 ≤ 200 ms at 43 M.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

PASSWORD = "benchmark password 1"
BREACH = "agency-2026"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--workspace", type=Path, default=None, help="Use this workspace.")
    parser.add_argument("--breach", default=BREACH, help="The breach page to load.")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="bw-dashboard-"))
    if args.workspace is None:
        os.environ["BREACHWATCH_KEY"] = "ab" * 32  # no workspace key file left behind
    os.environ.setdefault("BREACHWATCH_LOOKUP_KEY_FILE", str(work / "lookup.key"))
    os.environ["BREACHWATCH_SESSION_COOKIE_SECURE"] = "false"
    os.environ["BREACHWATCH_SELFCHECK_LIMIT_IP"] = "100000/minute"
    try:
        if args.workspace is None:
            started = time.perf_counter()
            home, ids = prepare(args.people, work)
            print(f"prepared {args.people:,} people in {time.perf_counter() - started:.0f} s")
        else:
            home, ids = reuse(args.workspace.resolve(), args.breach)
        run(home, ids, args.breach, args.requests)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def prepare(people: int, work: Path) -> tuple[Path, list[str]]:
    from breachwatch.ingest.pipeline import ingest
    from breachwatch.linkage.affected import compute_affected
    from breachwatch.risk.rules import compute_risk
    from breachwatch.store.workspace import init_workspace, open_workspace
    from breachwatch.synth import generate
    from breachwatch.types import Role

    manifest = generate(people, 42, work / "data")
    home = init_workspace(work / "ws")
    with open_workspace(home) as ws:
        ingest(ws, [manifest.registry], None, Role.REGISTRY)
        ingest(ws, [manifest.main_leak], BREACH)
        compute_affected(ws, BREACH)
        compute_risk(ws, BREACH)
    return reuse(home, BREACH)


def reuse(home: Path, breach: str) -> tuple[Path, list[str]]:
    """Refreshes the snapshot (timed), adds the benchmark users, samples people to look up."""
    from breachwatch.dashboard.auth import add_user
    from breachwatch.dashboard.snapshot import refresh
    from breachwatch.errors import UsageError
    from breachwatch.settings import load_settings
    from breachwatch.store.workspace import open_workspace

    with open_workspace(home) as ws:
        people = ws.con.execute(
            "SELECT count(DISTINCT registry_uid) FROM affected WHERE breach = ?", [breach]
        ).fetchone()
        started = time.perf_counter()
        refresh(ws)
        print(
            f"snapshot refresh: {time.perf_counter() - started:.2f} s "
            f"({people[0] if people else 0:,} affected people)"
        )
        ids = [
            r[0]
            for r in ws.con.execute(
                "SELECT record_id FROM affected USING SAMPLE 50 ROWS"
            ).fetchall()
        ]
    settings = load_settings(home)
    for user, role in (("bench-analyst", "analyst"), ("bench-admin", "admin")):
        with contextlib.suppress(UsageError):  # a kept workspace: there from an earlier run
            add_user(settings, user, PASSWORD, role)
    return home, ids


def _login(url: str, user: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/ops/login").text)
    assert token
    r = client.post(
        "/ops/login", data={"username": user, "password": PASSWORD, "csrf": token.group(1)}
    )
    assert r.status_code == 303, r.text
    return client


def _time(fn, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t) * 1000)
    return out


def _row(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    return f"{name:<22} {statistics.median(ms):8.1f} {p95:8.1f} {ms[-1]:8.1f}"


def run(home: Path, ids: list[str], breach: str, requests: int) -> None:
    port = 18700
    exe = Path(sys.executable).with_name("breachwatch")
    server = subprocess.Popen(
        [str(exe), "-w", str(home), "serve", "--port", str(port)], env=os.environ.copy()
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        analyst, admin = _login(url, "bench-analyst"), _login(url, "bench-admin")
        token = re.search(r'name="csrf" value="([^"]+)"', analyst.get("/ops/person").text)
        assert token
        csrf = token.group(1)
        results = {
            "/healthz (anchor)": _time(lambda i: analyst.get("/healthz"), requests),
            "/ops/ (breaches)": _time(lambda i: analyst.get("/ops/"), requests),
            "/ops/breach/…": _time(lambda i: analyst.get(f"/ops/breach/{breach}"), requests),
            "/ops/person (look-up)": _time(
                lambda i: analyst.post(
                    "/ops/person",
                    data={
                        "record_id": ids[i % len(ids)],
                        "reason": "benchmark of the look-up",
                        "csrf": csrf,
                    },
                ),
                max(20, requests // 5),
            ),
            "/ops/audit": _time(lambda i: admin.get("/ops/audit"), max(20, requests // 5)),
        }
        rss = psutil.Process(server.pid).memory_info().rss / 1e6
    finally:
        server.terminate()
        server.wait()
    print(f"\n{home}: {requests} requests per page, sequential, loopback")
    print(f"{'page':<22} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, ms in results.items():
        print(_row(name, ms))
    anchor = statistics.median(results["/healthz (anchor)"])
    worst = max(statistics.median(v) for k, v in results.items() if "anchor" not in k)
    print(
        f"server RSS after the run: {rss:.0f} MB; slowest page p50 / anchor p50 = "
        f"{worst / anchor:.1f}×"
    )


if __name__ == "__main__":
    main()
