"""Dashboard benchmark: latency of every operator page on a workspace of N synthetic people.

    .venv/bin/python benchmarks/dashboard.py --people 1000000 [--requests 200]

Builds the workspace (synth, ingest registry + main leak, affected, risk, dashboard snapshot;
timed separately), starts a real `breachwatch serve`, signs in as an analyst and an admin, and
requests each page sequentially: p50/p95/max per page, peak RSS of the server. The anchor is the
server's /healthz (no data read) in the same run. Target (issue 7): p95 ≤ 200 ms at 43 M.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="bw-dashboard-"))
    os.environ["BREACHWATCH_KEY"] = "ab" * 32  # no workspace key file left behind
    os.environ["BREACHWATCH_LOOKUP_KEY_FILE"] = str(work / "lookup.key")
    os.environ["BREACHWATCH_SESSION_COOKIE_SECURE"] = "false"
    os.environ["BREACHWATCH_SELFCHECK_LIMIT_IP"] = "100000/minute"
    try:
        run(args.people, args.requests, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def prepare(people: int, work: Path) -> tuple[Path, list[str]]:
    from breachwatch.dashboard.auth import add_user
    from breachwatch.dashboard.snapshot import refresh
    from breachwatch.ingest.pipeline import ingest
    from breachwatch.linkage.affected import compute_affected
    from breachwatch.risk.rules import compute_risk
    from breachwatch.settings import load_settings
    from breachwatch.store.workspace import init_workspace, open_workspace
    from breachwatch.synth import generate
    from breachwatch.types import Role

    manifest = generate(people, 42, work / "data")
    home = init_workspace(work / "ws")
    with open_workspace(home) as ws:
        ingest(ws, [manifest.registry], None, Role.REGISTRY)
        ingest(ws, [manifest.main_leak], "agency-2026")
        compute_affected(ws, "agency-2026")
        compute_risk(ws, "agency-2026")
        started = time.perf_counter()
        refresh(ws)
        print(f"snapshot refresh: {time.perf_counter() - started:.2f} s")
        ids = [
            r[0]
            for r in ws.con.execute(
                "SELECT record_id FROM affected USING SAMPLE 50 ROWS"
            ).fetchall()
        ]
    settings = load_settings(home)
    add_user(settings, "bench-analyst", PASSWORD, "analyst")
    add_user(settings, "bench-admin", PASSWORD, "admin")
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


def run(people: int, requests: int, work: Path) -> None:
    started = time.perf_counter()
    home, ids = prepare(people, work)
    print(f"prepared {people:,} people in {time.perf_counter() - started:.0f} s (not measured)")
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
            "/ops/breach/…": _time(lambda i: analyst.get("/ops/breach/agency-2026"), requests),
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
    print(f"\n{people:,} people; {requests} requests per page, sequential, loopback")
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
