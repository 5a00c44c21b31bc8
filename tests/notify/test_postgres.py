"""The outbox on PostgreSQL: COPY-loaded plans, and workers that never take the same message.

Each test gets a schema of its own (``search_path`` in the URL), dropped afterwards, so parallel
runs on one server do not meet.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from breachwatch import state
from breachwatch.notify.outbox import PostgresOutbox, open_outbox
from breachwatch.notify.runner import status_report
from tests.services import pg_dsn

from .campaigns import APPROVER, approve, base_settings, make_home, plan
from .fabricate import expected_channel
from .servers import SmtpServer

BREACHWATCH = str(Path(sys.executable).parent / "breachwatch")


@pytest.fixture
def pg_url() -> Iterator[str]:
    import psycopg

    dsn = pg_dsn()
    schema = f"bw_notify_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    base = dsn.replace("postgresql://", "postgresql+psycopg://", 1)
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        engine = state._ENGINES.pop(url, None)
        if engine is not None:
            engine.dispose()
        with psycopg.connect(dsn, autocommit=True) as con:
            con.execute(f"DROP SCHEMA {schema} CASCADE")


def test_claims_are_disjoint_under_concurrency(tmp_path: Path, pg_url: str) -> None:
    home, settings = make_home(tmp_path, 600, state_url=pg_url)
    plan(home, channels=("email",))
    boxes = [open_outbox(settings) for _ in range(4)]
    assert all(isinstance(box, PostgresOutbox) for box in boxes)
    claimed: list[list[int]] = [[] for _ in boxes]
    start = threading.Barrier(len(boxes))

    def claim(n: int) -> None:
        start.wait()
        while batch := boxes[n].claim(1, "email", 25, 60, f"w{n}"):
            claimed[n] += [c.person for c in batch]

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(len(boxes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for box in boxes:
        box.close()
    everyone = [p for one in claimed for p in one]
    assert len(everyone) == len(set(everyone)) == 540  # 600 minus 60 without an e-mail
    assert sum(1 for one in claimed if one) >= 2  # they really ran side by side


def test_two_worker_processes_never_send_the_same_message(
    tmp_path: Path, pg_url: str, smtp_server: SmtpServer
) -> None:
    people = 1500
    home, settings = make_home(tmp_path, people, **base_settings(smtp_server), state_url=pg_url)
    plan(home, channels=("email",))
    approve(settings)
    seeds = len(smtp_server.received)
    command = [BREACHWATCH, "-w", str(home), "notify", "run", "--campaign", "c1",
               "--operator", APPROVER, "--json"]  # fmt: skip
    workers = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)
    ]
    sent = []
    for worker in workers:
        stdout, stderr = worker.communicate(timeout=300)
        assert worker.returncode == 0, stderr.decode()
        sent.append(json.loads(stdout)["outcomes"].get("sent", 0))
    ids = Counter(str(m.message["Message-ID"]) for m in smtp_server.received[seeds:])
    expected = sum(1 for i in range(people) if expected_channel(i) == "email")
    assert len(ids) == expected and set(ids.values()) == {1}
    report = status_report(settings, "c1")
    assert report.counts[("email", "sent")] == expected and report.possible_duplicates == 0
    assert sum(sent) == expected and min(sent) > 0  # both workers took part
