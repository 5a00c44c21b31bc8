"""Notification benchmark (C7): one command, figures for docs/notify.md and BENCHMARKS.md.

    .venv/bin/python benchmarks/notify.py [--people 1000000] [--emails 20000] [--pg-messages 20000]

1. e-mail throughput into a local aiosmtpd server (its own process, a sink) — ``notify run``
   (claim, open the sealed payload, render FR/EN text + HTML, compose MIME, send over pooled
   connections, record) against a bare aiosmtplib loop sending the same pre-rendered messages
   over as many connections, in the same run; the ratio is ours / bare;
2. planning time for ``--people`` affected people (fabricated workspace, SQLite outbox) and its
   projection to 43 M (planning is linear: one scan, one sealing pass, one bulk load);
3. outbox throughput on PostgreSQL with 1, 2 and 4 worker processes (``BREACHWATCH_PG_DSN``).

Every phase runs in a child process of its own, so that each peak memory is its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.notify.fabricate builds the workspaces

TARGET_PEOPLE = 43_000_000


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _sink(loop: str) -> tuple[subprocess.Popen[bytes], int]:
    """aiosmtpd's Sink handler in a process of its own: accepts and drops every message."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "smtp_sink.py"), str(port), loop],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the aiosmtpd sink did not start")


def _workspace(root: Path, people: int, **settings: Any) -> tuple[Path, dict[str, Any]]:
    os.environ["XDG_CONFIG_HOME"] = str(root / "config")
    os.environ.setdefault("BREACHWATCH_MEMORY_LIMIT", "4GB")
    from tests.notify.campaigns import make_home

    return make_home(root, people, **settings)


def _approved(home: Path, settings: dict[str, Any], name: str) -> None:
    from breachwatch.notify import campaign as campaigns
    from breachwatch.notify import review
    from tests.notify.campaigns import plan

    plan(home, name, channels=("email",))
    review.preview(settings, name, None, "bench-a")
    campaigns.record_test_send(settings, name, "bench-a", 1, 0)
    campaigns.approve(settings, name, "bench-b")


# -- 1. e-mail throughput -----------------------------------------------------------------------


def step_email(args: argparse.Namespace) -> dict[str, Any]:
    from breachwatch.notify.runner import run_campaign
    from breachwatch.notify.worker import event_loop_factory

    server, port = _sink(args.sink_loop)
    try:
        with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
            people = int(args.emails / 0.9) + 1  # 90 % have an e-mail
            smtp = {"smtp_host": "127.0.0.1", "smtp_port": port, "notify_batch": 200}
            home, settings = _workspace(Path(tmp), people, **smtp)
            names = ["bare", *[f"w{w}" for w in args.workers]]
            for name in names:
                _approved(home, settings, name)
            messages = _prerender(settings, "bare")
            connections = int(settings["notify_smtp_connections"])
            # The anchor runs on the event loop the workers run on.
            with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
                bare = runner.run(_bare_loop(port, messages, connections))
            ours = {}
            for workers, name in zip(args.workers, names[1:], strict=True):
                summary = run_campaign(settings, name, operator="bench-b", workers=workers)
                assert summary.final is not None
                ours[workers] = summary.final.counts[("email", "sent")] / summary.seconds
    finally:
        server.terminate()
        server.wait()
    bare_rate = len(messages) / bare
    return {
        "emails": len(messages),
        "bare_aiosmtplib_per_s": round(bare_rate),
        "notify_run_per_s": {str(w): round(r) for w, r in ours.items()},
        "ratio": {str(w): round(r / bare_rate, 2) for w, r in ours.items()},
        "connections": int(settings["notify_smtp_connections"]),
        "sink_loop": args.sink_loop,
        "client_loop": "uvloop" if event_loop_factory() else "asyncio",
        "peak_mb": round(_peak_mb()),
    }


def _prerender(settings: dict[str, Any], name: str) -> list[tuple[str, bytes]]:
    """The campaign's messages as ``notify run`` would send them, built before the clock."""
    from breachwatch.notify.campaign import get_campaign
    from breachwatch.notify.codes import issue_code
    from breachwatch.notify.keys import load_keys, row_aad
    from breachwatch.notify.mail import Email, pool_from_settings
    from breachwatch.notify.outbox import open_outbox
    from breachwatch.notify.review import composer_for
    from breachwatch.notify.worker import reference

    info = get_campaign(settings, name)
    keys = load_keys(settings)
    content = composer_for(settings, info)
    mail = pool_from_settings(settings)
    assert mail is not None
    outbox = open_outbox(settings)
    rows = outbox.query(
        "SELECT person, sealed FROM notify_outbox WHERE campaign_id = ? AND channel = 'email'",
        (info.id,),
    )
    outbox.close()
    out = []
    for person, sealed in rows:
        data = json.loads(keys.sealer().open(bytes(sealed), row_aad(info.id, int(person))))
        r = content.render("email", data, issue_code(keys, info.id, int(person)))
        ref = reference(info.id, int(person), "email")
        out.append((data["email"], mail[1].compose(Email(data["email"], r.subject, r.text,
                                                         r.html, ref, r.language))))  # fmt: skip
    return out


async def _bare_loop(port: int, messages: list[tuple[str, bytes]], connections: int) -> float:
    import aiosmtplib

    queue = list(reversed(messages))

    async def one() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        while queue:
            to, data = queue.pop()
            await client.sendmail("breachwatch@example.org", [to], data)
        await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(connections)))
    return time.perf_counter() - started


# -- 2. planning --------------------------------------------------------------------------------


def step_plan(args: argparse.Namespace) -> dict[str, Any]:
    from breachwatch.risk.rules import compute_risk
    from breachwatch.store.workspace import open_workspace
    from tests.notify.campaigns import plan

    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        started = time.perf_counter()
        home, settings = _workspace(Path(tmp), args.people)
        made = time.perf_counter() - started
        with open_workspace(home) as ws:  # C4's step, which `notify plan` reuses
            started = time.perf_counter()
            compute_risk(ws, "agency-test")
            risk = time.perf_counter() - started
        summary = plan(home, "plan")
        state_mb = (Path(settings["home"]) / "state.db").stat().st_size / 1e6
    per_person = summary.seconds / args.people
    return {
        "people": args.people,
        "fabricate_s": round(made, 1),
        "risk_s": round(risk, 1),
        "plan_s": round(summary.seconds, 1),
        "people_per_s": round(args.people / summary.seconds),
        "projected_43m_min": round(per_person * TARGET_PEOPLE / 60, 1),
        "projected_43m_with_risk_min": round(
            (per_person + risk / args.people) * TARGET_PEOPLE / 60, 1
        ),
        "outbox_mb": round(state_mb),
        "peak_mb": round(_peak_mb()),
    }


# -- 3. PostgreSQL outbox -----------------------------------------------------------------------


def step_pg(args: argparse.Namespace) -> dict[str, Any]:
    import psycopg

    from breachwatch.notify.runner import run_campaign

    dsn = os.environ.get("BREACHWATCH_PG_DSN", "")
    if not dsn:
        return {"skipped": "BREACHWATCH_PG_DSN is not set"}
    schema = f"bw_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    url = dsn.replace("postgresql://", "postgresql+psycopg://", 1)
    url += f"{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    server, port = _sink(args.sink_loop)
    rates: dict[str, float] = {}
    bare: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
            people = int(args.pg_messages / 0.9) + 1
            smtp = {"smtp_host": "127.0.0.1", "smtp_port": port, "notify_batch": 200}
            home, settings = _workspace(Path(tmp), people, state_url=url, **smtp)
            for workers in (1, 2, 4):
                _approved(home, settings, f"pg{workers}")
                summary = run_campaign(settings, f"pg{workers}", operator="bench-b",
                                       workers=workers)  # fmt: skip
                assert summary.final is not None
                sent = summary.final.counts[("email", "sent")]
                rates[str(workers)] = round(sent / summary.seconds)
            for workers in (1, 2, 4):
                _approved(home, settings, f"raw{workers}")
                bare[str(workers)] = round(_claim_and_record(settings, f"raw{workers}", workers))
    finally:
        server.terminate()
        server.wait()
        with psycopg.connect(dsn, autocommit=True) as con:
            con.execute(f"DROP SCHEMA {schema} CASCADE")
    return {
        "messages": args.pg_messages,
        "per_s_by_workers": rates,
        "outbox_only_per_s_by_claimers": bare,
        "peak_mb": round(_peak_mb()),
    }


def _claim_and_record(settings: dict[str, Any], name: str, claimers: int) -> float:
    """The outbox alone: claim batches and record them sent, ``claimers`` connections at once
    (threads: psycopg waits on the server without the GIL); messages per second."""
    import threading

    from breachwatch.notify.campaign import get_campaign
    from breachwatch.notify.outbox import Outcome, open_outbox

    campaign_id = get_campaign(settings, name).id
    done: list[int] = []

    def claimer(n: int) -> None:
        box = open_outbox(settings)
        while batch := box.claim(campaign_id, "email", 200, 60, f"bench{n}"):
            outcomes = [Outcome(c.person, c.channel, "sent", c.attempts, c.fallbacks, 0.0)
                        for c in batch]  # fmt: skip
            done.append(box.finish(campaign_id, f"bench{n}", outcomes))
        box.close()

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(claimers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


STEPS = {"email": step_email, "plan": step_plan, "pg": step_pg}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000, help="people to plan")
    parser.add_argument("--emails", type=int, default=20_000, help="e-mails to send")
    parser.add_argument("--pg-messages", type=int, default=20_000)
    parser.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")],
                        default=[1, 2], help="worker processes for the e-mail step")  # fmt: skip
    parser.add_argument("--step", choices=sorted(STEPS), help="run one step here (internal)")
    parser.add_argument("--tmp", default=None, help="folder for the temporary workspaces")
    parser.add_argument("--sink-loop", choices=("uvloop", "asyncio"), default="uvloop",
                        help="event loop of the aiosmtpd sink (the slower side)")  # fmt: skip
    args = parser.parse_args()
    if args.step:
        print(json.dumps(STEPS[args.step](args)))
        return
    results = {}
    for step in ("email", "plan", "pg"):
        command = [sys.executable, __file__, "--step", step, *sys.argv[1:]]
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        if done.returncode != 0:
            raise SystemExit(f"step {step} failed:\n{done.stderr}")
        results[step] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{step}: {json.dumps(results[step])}", flush=True)
    e = results["email"]
    print(
        f"\ne-mail: bare aiosmtplib {e['bare_aiosmtplib_per_s']:,}/s; notify run "
        + ", ".join(
            f"{w} worker(s) {r:,}/s (ratio {e['ratio'][w]})"
            for w, r in e["notify_run_per_s"].items()
        )  # fmt: skip
    )
    p = results["plan"]
    print(
        f"plan: {p['people']:,} people in {p['plan_s']} s → 43 M in ~{p['projected_43m_min']} min"
    )
    print(f"PostgreSQL outbox: {results['pg']}")


if __name__ == "__main__":
    main()
