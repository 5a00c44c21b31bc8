"""Private lookup benchmark (C5, C6): raw libsodium, the partner OPRF API, the index build, the
self-check page under load and a partner check, all in one run on this machine.

    .venv/bin/python benchmarks/lookup.py --people 200000 --partner 1000000 --json-out lookup.json
    .venv/bin/python benchmarks/lookup.py --quick --what-if
    .venv/bin/python benchmarks/lookup.py --report-only lookup.json

The anchor is libsodium itself (rbcl's ``crypto_scalarmult_ristretto255`` on one core), measured
in the same run as the API. The service is a real ``breachwatch serve`` on 127.0.0.1; the
self-check page is loaded by ``wrk`` (Debian package) and by a paced open-loop client that also
compares members with non-members. Each measured step runs in its own process so its peak
memory (ru_maxrss) is its own; the server's CPU time is read from /proc around each phase.
``--what-if`` serves copies of the app with suggested fixes applied in memory (src/ untouched)
and measures each against the service as it is. Needs wrk, redis-server (for ``--workers 2``:
``serve`` wants Redis then) and scipy (the member/non-member test).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

STEP = "--step"
BREACH = "main"
HOST = "127.0.0.1"
TARGET_EVALUATIONS = 130_000_000  # 43 M people x ~3 identifiers
TARGET_INDEX_MINUTES = 90
TARGET_API_RATIO = 0.5
TARGET_RPS = 500
TARGET_P99_MS = 50
PACED_GRACE_S = 10
# High enough never to refuse the benchmark, with windows that keep their lists short: the
# per-identifier limit keeps its realistic one-day window (every distinct identifier stays a key).
LIMITS = {
    "BREACHWATCH_SELFCHECK_LIMIT_IP": "10000000/second",
    "BREACHWATCH_SELFCHECK_LIMIT_GLOBAL": "10000000/second",
    "BREACHWATCH_SELFCHECK_LIMIT_IDENTIFIER": "10000000/day",
}
Result = dict[str, Any]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def _pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (milliseconds in, milliseconds out)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


# == steps run in child processes ============================================================


def step_anchor(n: int) -> Result:
    """libsodium on one core: scalar multiplications, BlindEvaluate and Evaluate batches; and
    two threads (rbcl calls libsodium through ctypes, which releases the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    import rbcl

    from breachwatch.lookup import oprf

    key = oprf.random_key()
    points = [rbcl.crypto_core_ristretto255_random() for _ in range(n)]
    inputs = [f"email:anchor{i}@example.org".encode() for i in range(n)]
    multiply = rbcl.crypto_scalarmult_ristretto255

    def raw(chunk: list[bytes]) -> None:
        for p in chunk:
            multiply(key, p)

    def two_threads(fn: Callable[[list[bytes]], Any], items: list[bytes]) -> None:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(fn, [items[0::2], items[1::2]]))

    runs = {
        "scalarmult": lambda: raw(points),
        "blind_evaluate_many": lambda: oprf.blind_evaluate_many(key, points),
        "evaluate_many": lambda: oprf.evaluate_many(key, inputs),
        "scalarmult_2_threads": lambda: two_threads(raw, points),
        "evaluate_many_2_threads": lambda: two_threads(
            lambda chunk: oprf.evaluate_many(key, chunk), inputs
        ),
    }
    out: Result = {}
    for name, run in runs.items():
        rates, cpu_rates = [], []
        for _ in range(3):
            started, cpu = time.perf_counter(), time.process_time()
            run()
            rates.append(_rate(n, time.perf_counter() - started))
            cpu_rates.append(_rate(n, time.process_time() - cpu))
        out[name] = statistics.median(rates)  # median of 3: the machine is shared
        # Per CPU second: what a core of its own would do, whatever the other processes do.
        out[f"{name}_per_cpu_s"] = statistics.median(cpu_rates)
    return out


def step_prepare(people: int, work: Path) -> Result:
    """Synthetic people, the registry and the main leak ingested, the affected people linked."""
    from breachwatch.ingest.pipeline import ingest
    from breachwatch.linkage.affected import compute_affected
    from breachwatch.risk.rules import compute_risk
    from breachwatch.store.workspace import init_workspace, open_workspace
    from breachwatch.synth import generate
    from breachwatch.types import Role

    times: Result = {}
    started = time.perf_counter()
    manifest = generate(people, 42, work / "data")
    times["synth_s"] = time.perf_counter() - started
    with open_workspace(init_workspace(work / "ws")) as ws:
        started = time.perf_counter()
        ingest(ws, [manifest.registry], None, Role.REGISTRY)
        ingest(ws, [manifest.main_leak], BREACH)
        times["ingest_s"] = time.perf_counter() - started
        started = time.perf_counter()
        report = compute_affected(ws, BREACH)
        times["affected_s"] = time.perf_counter() - started
        # The pipeline's order (affected, risk, index): the index reuses the risk tables.
        started = time.perf_counter()
        compute_risk(ws, BREACH)
        times["risk_s"] = time.perf_counter() - started
    return {**times, "registry": str(manifest.registry), "affected": report.affected_people}


def step_index(work: Path, workers: int) -> Result:
    """``build_index`` with its phases timed through the progress callback."""
    from breachwatch.lookup.index import build_index
    from breachwatch.store.workspace import open_workspace

    marks: dict[str, list[float]] = {}

    def progress(label: str, done: int, total: int) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        marks.setdefault(label, [now, now, cpu, cpu])[1:4:2] = [now, cpu]

    with open_workspace(work / "ws") as ws:
        started = time.perf_counter()
        summary = build_index(ws, BREACH, workers=workers, progress=progress)
        seconds = time.perf_counter() - started
    phases = {label: m[1] - m[0] for label, m in marks.items()}
    phases_cpu = {label: m[3] - m[2] for label, m in marks.items()}
    return {
        "seconds": seconds,
        "people": summary.people,
        "entries": summary.entries,
        "by_kind": summary.by_kind,
        "sensitive": summary.sensitive,
        "prefix_bits": summary.prefix_bits,
        "file_mb": summary.path.stat().st_size / 1e6,
        "phases": phases,
        "phases_cpu": phases_cpu,
        "workers": workers,
        # The OPRF runs in worker processes: their CPU, once they are joined.
        "workers_cpu_s": _children_cpu(),
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def step_inputs(work: Path, registry: Path, bodies: int, partner: int) -> Result:
    """Self-check form bodies (members and non-members, told apart through the index itself)
    and the partner's customer file."""
    import csv

    from breachwatch.lookup.identifiers import email_identifier, nir_identifier
    from breachwatch.lookup.index import LookupIndex, index_path
    from breachwatch.lookup.keys import load_keys
    from breachwatch.settings import load_settings

    settings = load_settings(work / "ws")
    index = LookupIndex(index_path(work / "ws", BREACH), load_keys(settings))
    with registry.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rng = random.Random(7)
    sample = rng.sample(rows, min(len(rows), bodies))
    forms: dict[str, list[str]] = {"member": [], "non_member": []}
    nir_forms: dict[str, list[str]] = {"member": [], "non_member": []}
    for row in sample:
        email = email_identifier(row["email"] or "")
        if email is not None:
            cls = "member" if index.find(email.data) else "non_member"
            forms[cls].append(_form(lang="fr", contact=row["email"]))
        nir = nir_identifier(row["nir"] or "", row["date_naissance"] or "")
        if nir is not None:
            cls = "member" if index.find(nir.data) else "non_member"
            nir_forms[cls].append(
                _form(lang="fr", nir=row["nir"], birth_date=row["date_naissance"])
            )
    # Registry people left out of the leak are few (~10 %): made-up addresses fill the rest.
    for i in range(max(0, len(forms["member"]) - len(forms["non_member"]))):
        forms["non_member"].append(_form(lang="fr", contact=f"nobody.{i}@example.net"))
    files = {}
    for name, content in (("email", forms), ("nir", nir_forms)):
        for cls, lines in content.items():
            files[f"{name}_{cls}"] = _write_lines(work / f"forms_{name}_{cls}.txt", lines)
    customers = _write_customers(work / "customers.csv", rows, partner, rng)
    counts = {f"email_{k}": len(v) for k, v in forms.items()}
    counts.update({f"nir_{k}": len(v) for k, v in nir_forms.items()})
    return {"forms": files, "counts": counts, **customers}


def _form(**fields: str) -> str:
    return urllib.parse.urlencode(fields)


def _write_lines(path: Path, lines: list[str]) -> str:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def _write_customers(
    path: Path, rows: list[dict[str, str]], identifiers: int, rng: random.Random
) -> Result:
    """A bank's file: e-mail and mobile per row; registry people first, strangers after."""
    import csv

    wanted_rows = -(-identifiers // 2)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_id", "email", "mobile"])
        for i in range(wanted_rows):
            if i < len(rows):
                writer.writerow([i, rows[i]["email"], rows[i]["tel_portable"]])
            else:
                mobile = f"+33 6 {rng.randrange(10**8):08d}"
                writer.writerow([i, f"client.{i}@bank.example", mobile])
    return {"customers": str(path), "customer_rows": wanted_rows, "registry_rows": len(rows)}


def step_api(server: str, api_key: str, batch: int, batches: int, e2e: int) -> Result:
    """Partner API: server-side evaluations per second (blinding done before the clock starts),
    one connection then two, and end to end through ``PartnerClient`` (blind + finalize)."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from breachwatch.lookup import oprf
    from breachwatch.lookup.client import PartnerClient
    from breachwatch.lookup.identifiers import Identifier, Kind, bucket

    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    with httpx.Client(base_url=server, headers=headers, timeout=300) as http:
        config = http.get("/api/v1/oprf/config").json()
    bits = int(config["breaches"][0]["prefix_bits"])
    bodies = [_evaluate_body(oprf, bucket, bits, b, batch) for b in range(batches + 1)]

    def post_all(chunk: list[bytes]) -> int:
        sent = 0
        with httpx.Client(base_url=server, headers=headers, timeout=300) as client:
            for body in chunk:
                answer = client.post("/api/v1/oprf/evaluate", content=body)
                if answer.status_code != 200:
                    raise SystemExit(f"API answered {answer.status_code}: {answer.text[:300]}")
                sent += len(body)
        return sent

    post_all(bodies[:1])  # warm-up: connection, first index and state queries
    near = [_raw_rate()]  # the anchor again, just before and after, under the same load
    started = time.perf_counter()
    request_bytes = post_all(bodies[1:])
    one = time.perf_counter() - started
    near.append(_raw_rate())
    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(post_all, [bodies[1::2], bodies[2::2]]))
    two = time.perf_counter() - started
    idents = [Identifier(Kind.EMAIL, f"email:e2e{i}@example.org") for i in range(e2e)]
    client = PartnerClient(server, api_key, batch=batch)
    started = time.perf_counter()
    client.check(idents)
    end_to_end = time.perf_counter() - started
    client.close()
    evaluated = batch * batches
    return {
        "batch": batch,
        "batches": batches,
        "evaluations": evaluated,
        "one_connection_s": one,
        "two_connections_s": two,
        "raw_near": statistics.fmean(near),
        "rate_one_connection": _rate(evaluated, one),
        "rate_two_connections": _rate(evaluated, two),
        "request_bytes_per_element": request_bytes / evaluated,
        "end_to_end_identifiers": e2e,
        "end_to_end_s": end_to_end,
        "rate_end_to_end": _rate(e2e, end_to_end),
    }


def _raw_rate(n: int = 4000) -> float:
    import rbcl

    key = rbcl.crypto_core_ristretto255_scalar_random()
    points = [rbcl.crypto_core_ristretto255_random() for _ in range(n)]
    started = time.perf_counter()
    for p in points:
        rbcl.crypto_scalarmult_ristretto255(key, p)
    return _rate(n, time.perf_counter() - started)


def _evaluate_body(oprf: Any, bucket: Any, bits: int, number: int, size: int) -> bytes:
    import base64

    data = [f"email:api{number}.{i}@example.org".encode() for i in range(size)]
    elements = [oprf.blind(d)[1] for d in data]
    body = {
        "breach": BREACH,
        "elements": [base64.b64encode(e).decode() for e in elements],
        "prefixes": [bucket(d, bits) for d in data],
    }
    return json.dumps(body).encode()


def step_partner(server: str, api_key: str, customers: Path, out: Path) -> Result:
    """``partner_check`` as a bank runs it, with the read and the check phases timed."""
    from breachwatch.lookup.client import partner_check

    marks: list[tuple[float, int]] = []

    def progress(label: str, done: int, total: int) -> None:
        marks.append((time.perf_counter(), done))

    started = time.perf_counter()
    report = partner_check(customers, out, server, api_key, progress=progress)
    total = time.perf_counter() - started
    result: Result = report.to_json()
    result["seconds"] = total
    if len(marks) > 1:
        # Progress is reported after each batch: the file read and the config call come before
        # the first report, together with one batch (counted as a median one).
        per_batch = [b[0] - a[0] for a, b in zip(marks, marks[1:], strict=False)]
        result["check_s"] = marks[-1][0] - marks[0][0] + statistics.median(per_batch)
        result["batch_s_first"] = statistics.median(per_batch[:5])
        result["batch_s_last"] = statistics.median(per_batch[-5:])
        result["batches"] = len(marks)
    return result


def step_smtp(port: int, count_file: Path) -> Result:
    """An aiosmtpd sink that only counts: parsing each message would load the shared cores."""
    from aiosmtpd.controller import Controller

    class Counter:
        received = 0

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            Counter.received += 1
            return "250 OK"

    controller = Controller(Counter(), hostname=HOST, port=port)
    controller.start()
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    while not stop["now"]:
        time.sleep(0.2)
        count_file.write_text(str(Counter.received), encoding="ascii")
    controller.stop()
    count_file.write_text(str(Counter.received), encoding="ascii")
    return {"received": Counter.received}


def step_paced(port: int, forms: str, rate: float, seconds: float, connections: int) -> Result:
    """Open-loop load: requests start on a fixed schedule whatever the server does, members and
    non-members interleaved at random; latency counts from the scheduled start (no coordinated
    omission)."""
    pools = {cls: _lines(Path(path)) for cls, path in json.loads(forms).items()}
    pools = {cls: lines for cls, lines in pools.items() if lines}
    rng = random.Random(11)
    names = sorted(pools)
    # Classes in equal shares, whatever the number of forms of each.
    plan = []
    for _ in range(int(rate * seconds)):
        cls = rng.choice(names)
        plan.append((cls, rng.choice(pools[cls])))
    return asyncio.run(_paced(port, plan, rate, connections))


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line]


async def _paced(port: int, plan: list[tuple[str, str]], rate: float, connections: int) -> Result:
    loop = asyncio.get_running_loop()
    idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await asyncio.open_connection(HOST, port))
    latencies: dict[str, list[float]] = {}
    statuses: dict[str, int] = {}
    begin = loop.time() + 0.2

    async def one(i: int, cls: str, form: str) -> None:
        due = begin + i / rate
        await asyncio.sleep(max(0.0, due - loop.time()))
        reader, writer = await idle.get()
        writer.write(_post_check(port, form))
        status = await _read_response(reader)
        latencies.setdefault(cls, []).append((loop.time() - due) * 1000)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        idle.put_nowait((reader, writer))

    tasks = [asyncio.ensure_future(one(i, c, form)) for i, (c, form) in enumerate(plan)]
    # A server that falls behind would keep the run going for minutes: stop at GRACE seconds
    # past the schedule and count what is left as answered at that moment (a lower bound).
    _, late = await asyncio.wait(tasks, timeout=len(plan) / rate + PACED_GRACE_S)
    elapsed = loop.time() - begin
    for task in late:
        task.cancel()
    unanswered = len(late)
    if unanswered:
        latencies.setdefault("unanswered", []).extend([PACED_GRACE_S * 1000.0] * unanswered)
    while not idle.empty():
        idle.get_nowait()[1].close()
    every = [v for values in latencies.values() for v in values]
    summary = {cls: _latency(values) for cls, values in sorted(latencies.items())}
    return {
        "target_rate": rate,
        "achieved_rate": _rate(len(plan) - unanswered, elapsed),
        "requests": len(plan),
        "unanswered": unanswered,
        "statuses": statuses,
        "all": _latency(every),
        "by_class": summary,
        "member_vs_non_member": _leak_tests(latencies),
    }


def _leak_tests(latencies: dict[str, list[float]]) -> Result:
    """Per kind of identifier, whether members' response times differ from non-members':
    Mann-Whitney U (two-sided) and the difference of the medians."""
    from scipy.stats import mannwhitneyu

    out = {}
    for kind in sorted({cls.split("_", 1)[0] for cls in latencies}):
        members = latencies.get(f"{kind}_member", [])
        strangers = latencies.get(f"{kind}_non_member", [])
        if len(members) < 20 or len(strangers) < 20:
            continue
        test = mannwhitneyu(members, strangers, alternative="two-sided")
        out[kind] = {
            "p_value": float(test.pvalue),
            "median_diff_ms": statistics.median(members) - statistics.median(strangers),
        }
    return out


def _latency(values: list[float]) -> Result:
    return {
        "n": len(values),
        "p50_ms": _pct(values, 50),
        "p90_ms": _pct(values, 90),
        "p99_ms": _pct(values, 99),
        "mean_ms": statistics.fmean(values) if values else float("nan"),
    }


def _post_check(port: int, form: str) -> bytes:
    body = form.encode()
    head = (
        f"POST /check HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(lines[0].split()[1])


def step_sweep(keys: str) -> Result:
    """The ``limits`` in-memory storage sweeps every key it ever saw every 10 ms: time one
    sweep for a number of distinct identifiers checked in the current window."""
    from limits import parse
    from limits.storage import MemoryStorage
    from limits.strategies import MovingWindowRateLimiter

    storage = MemoryStorage()
    limiter = MovingWindowRateLimiter(storage)
    item = parse("3/day")  # the default per-identifier limit
    out = {}
    for n in (int(k) for k in keys.split(",")):
        while len(storage.events) < n:
            limiter.hit(item, "ns", "identifier", str(len(storage.events)))
        sweep = storage._MemoryStorage__expire_events  # type: ignore[attr-defined]
        started = time.perf_counter()
        sweep()
        out[str(n)] = (time.perf_counter() - started) * 1000
    return {"sweep_ms": out}


def step_whatif_serve(port: int, variant: str) -> Result:
    """The service with changes applied in memory (src/ untouched), to price each fix:
    ``noqueue`` drops the answers (the page alone), ``asgi_headers`` sets the security headers
    in a pure ASGI middleware instead of ``@app.middleware("http")``, ``async_check`` serves
    POST /check on the event loop instead of the thread pool, ``httptools`` is Uvicorn's C
    HTTP parser instead of h11, ``tick`` answers in ticks of 100 ms instead of at once."""
    import uvicorn

    from breachwatch.settings import load_settings
    from breachwatch.web import app as web

    changes = set(filter(None, variant.split("+")))
    if "noqueue" in changes:
        from breachwatch.lookup.selfcheck import SelfCheck

        SelfCheck.submit = lambda self, identifier, lang: True  # type: ignore[method-assign]
    if "tick" in changes:
        _answer_in_ticks()
    app = web.create_app(load_settings(None))
    if "asgi_headers" in changes:
        _pure_asgi_headers(app, web.SECURITY_HEADERS)
    if "async_check" in changes:
        _async_route(app, "/check")
    http = "httptools" if "httptools" in changes else "h11"
    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False, http=http)
    return {"variant": variant}


def _answer_in_ticks() -> None:
    import queue

    from breachwatch.lookup.selfcheck import SelfCheck

    def run(self: Any) -> None:
        while True:
            time.sleep(0.1)
            while True:
                try:
                    job = self.jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    return
                try:
                    self._answer(job)
                finally:
                    with self._idle:
                        self._pending -= 1
                        self._idle.notify_all()

    SelfCheck._run = run  # type: ignore[method-assign]


def _pure_asgi_headers(app: Any, headers: dict[str, str]) -> None:
    from starlette.middleware.base import BaseHTTPMiddleware

    app.user_middleware = [m for m in app.user_middleware if m.cls is not BaseHTTPMiddleware]
    extra = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    class SecurityHeaders:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            async def send_with_headers(message: Any) -> None:
                if message["type"] == "http.response.start":
                    present = {k for k, _ in message.get("headers", [])}
                    added = [(k, v) for k, v in extra if k not in present]
                    message["headers"] = [*message.get("headers", []), *added]
                await send(message)

            if scope["type"] != "http":
                await self.inner(scope, receive, send)
            else:
                await self.inner(scope, receive, send_with_headers)

    app.add_middleware(SecurityHeaders)


def _async_route(app: Any, path: str) -> None:
    import functools
    import inspect

    from fastapi.responses import HTMLResponse

    route = next(r for r in app.router.routes if getattr(r, "path", "") == path)
    sync = route.endpoint

    @functools.wraps(sync)
    async def endpoint(*args: Any, **kwargs: Any) -> Any:
        return sync(*args, **kwargs)

    endpoint.__signature__ = inspect.signature(sync)  # type: ignore[attr-defined]
    app.router.routes.remove(route)
    app.add_api_route(path, endpoint, methods=["POST"], response_class=HTMLResponse)


STEPS: dict[str, Callable[..., Result]] = {
    "anchor": lambda n: step_anchor(int(n)),
    "prepare": lambda people, work: step_prepare(int(people), Path(work)),
    "index": lambda work, workers: step_index(Path(work), int(workers)),
    "inputs": lambda work, reg, bodies, partner: step_inputs(
        Path(work), Path(reg), int(bodies), int(partner)
    ),
    "api": lambda server, key, batch, batches, e2e: step_api(
        server, key, int(batch), int(batches), int(e2e)
    ),
    "partner": lambda server, key, csv, out: step_partner(server, key, Path(csv), Path(out)),
    "smtp": lambda port, count: step_smtp(int(port), Path(count)),
    "paced": lambda port, forms, rate, seconds, conns: step_paced(
        int(port), forms, float(rate), float(seconds), int(conns)
    ),
    "sweep": step_sweep,
    "whatif_serve": lambda port, variant: step_whatif_serve(int(port), variant),
}


def child(argv: list[str]) -> None:
    name, *rest = argv
    result = STEPS[name](*rest)
    result["peak_mb"] = _peak_mb()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    print(json.dumps(result))


# == the orchestrating process ===============================================================


def run_step(*args: object, env: dict[str, str] | None = None) -> Result:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, STEP, *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if proc.returncode != 0:
        sys.exit(f"step {args[0]} failed:\n{proc.stderr[-4000:]}")
    result: Result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - started
    return result


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its live children (Uvicorn's workers)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _tree_peak_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of the biggest process of a tree."""
    import psutil

    peaks = []
    for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return max(peaks, default=0.0)


class Server:
    """``breachwatch serve`` as a subprocess, up once /healthz answers."""

    def __init__(
        self, env: dict[str, str], workers: int, storage: str, variant: str | None = None
    ) -> None:
        self.port = _free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.workers = workers
        self.storage = storage
        exe = Path(sys.executable).with_name("breachwatch")
        command = [str(exe), "serve", "--port", str(self.port), "--workers", str(workers)]
        if variant is not None:
            command = [sys.executable, __file__, STEP, "whatif_serve", str(self.port), variant]
        self.proc = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"server exited: {self.proc.stderr.read().decode()[-3000:]}")  # type: ignore[union-attr]
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as answer:
                    if answer.status == 200 and BREACH in json.loads(answer.read())["indexes"]:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        sys.exit("server did not answer /healthz within 60 s")

    def cpu(self) -> float:
        return _tree_cpu(self.proc.pid)

    def peak_mb(self) -> float:
        return _tree_peak_mb(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # Uvicorn shuts its workers down on SIGINT
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def serving(
    env: dict[str, str], workers: int, storage: str = "memory", variant: str | None = None
) -> Iterator[Server]:
    server = Server(env, workers, storage, variant)
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def measured(server: Server, into: Result) -> Iterator[None]:
    """Adds the wall time and the server's CPU seconds of the block to ``into``."""
    cpu, started = server.cpu(), time.perf_counter()
    try:
        yield
    finally:
        into["server_cpu_s"] = server.cpu() - cpu
        into["block_wall_s"] = time.perf_counter() - started


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


# -- wrk -------------------------------------------------------------------------------------

WRK_SCRIPT = """
local bodies = {}
for line in io.lines("%(bodies)s") do bodies[#bodies + 1] = line end
local threads = {}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {}; position = tonumber(args[1]) or 0 end
function request()
  position = position %% #bodies + 1
  return wrk.format(nil, "/check", nil, bodies[position])
end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local counts = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do counts[code] = (counts[code] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(counts) do parts[#parts + 1] = string.format('"%%d": %%d', code, n) end
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests": %%d, "duration_s": %%f, "p50_ms": %%f, ' ..
    '"p90_ms": %%f, "p99_ms": %%f, "max_ms": %%f, "mean_ms": %%f, "socket_errors": %%d, ' ..
    '"statuses": {%%s}}\\n', summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, latency.mean / 1e3, e.connect + e.read + e.write + e.timeout,
    table.concat(parts, ", ")))
end
"""


def run_wrk(
    server: Server, bodies: Path, connections: int, seconds: int, work: Path, start: int = 0
) -> Result:
    """wrk posting the forms of ``bodies`` in turn, from line ``start`` on."""
    script = work / f"wrk_{bodies.stem}.lua"
    script.write_text(WRK_SCRIPT % {"bodies": bodies}, encoding="utf-8")
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    command += ["-s", str(script), f"{server.url}/check", "--", str(start)]
    into: Result = {"load1_before": os.getloadavg()[0]}
    with measured(server, into):
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
    line = next((s for s in proc.stdout.splitlines() if s.startswith("WRKJSON ")), None)
    if line is None:
        sys.exit(f"wrk failed:\n{proc.stdout}\n{proc.stderr}")
    result: Result = json.loads(line[len("WRKJSON ") :])
    result.update(into, connections=connections, distinct_forms=len(_lines(bodies)))
    result["rps"] = _rate(result["requests"], result["duration_s"])
    result["server_cpu_per_request_ms"] = 1000 * into["server_cpu_s"] / max(1, result["requests"])
    return result


# -- the run ---------------------------------------------------------------------------------


def sizes(args: argparse.Namespace) -> Result:
    if args.quick:
        return {
            "people": min(args.people, 3000),
            "partner": min(args.partner, 20_000),
            "anchor": 2000,
            "batch": 1000,
            "batches": 4,
            "e2e": 2000,
            "wrk_s": 4,
            "paced_s": 4,
            "forms": 1500,
            "sweep": "1000,10000",
        }
    return {
        "people": args.people,
        "partner": args.partner,
        "anchor": 10_000,
        "batch": args.batch,
        "batches": 24,
        "e2e": 20_000,
        "wrk_s": args.seconds,
        "paced_s": args.seconds,
        "forms": 30_000,
        "sweep": "10000,100000,300000",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--partner", type=int, default=1_000_000, help="Partner identifiers.")
    parser.add_argument("--batch", type=int, default=5000, help="Elements per API request.")
    parser.add_argument("--seconds", type=int, default=15, help="Length of each load run.")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections.")
    parser.add_argument(
        "--selfcheck",
        default="1:redis,2:redis,1:memory",
        help="Self-check servers to load, WORKERS:STORAGE (memory or redis), comma-separated.",
    )
    parser.add_argument("--quick", action="store_true", help="Small sizes: a smoke run.")
    parser.add_argument(
        "--index-only",
        action="store_true",
        help="Stop after the index build (anchor, prepare, index): the large-N run.",
    )
    parser.add_argument(
        "--what-if",
        action="store_true",
        help="Also price the suggested fixes, applied in memory (adds ~5 minutes).",
    )
    parser.add_argument("--json-out", type=Path, default=None)
    parser.add_argument("--dir", type=Path, default=None, help="Work directory (default: temp).")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="Keep the work directory (reused by the next --keep run).",
    )
    parser.add_argument(
        "--report-only", type=Path, default=None, help="Print the table of a saved --json-out."
    )
    args = parser.parse_args()
    if args.report_only:
        report(json.loads(args.report_only.read_text(encoding="utf-8")))
        return
    if not args.index_only and shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")
    if not args.index_only and "redis" in args.selfcheck and shutil.which("redis-server") is None:
        sys.exit(
            "redis-server not found (apt-get install -y redis-server), or --selfcheck 1:memory"
        )
    work = (args.dir or Path(tempfile.mkdtemp(prefix="bw-lookup-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    try:
        results = run(sizes(args), args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report(results)
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2), encoding="utf-8")


def _env(work: Path) -> dict[str, str]:
    """Every key under the work directory (none left in ~/.config), limits out of the way."""
    env = dict(os.environ)
    env.update(
        XDG_CONFIG_HOME=str(work / "config"),
        BREACHWATCH_HOME=str(work / "ws"),
        BREACHWATCH_KEY="ef" * 32,
        BREACHWATCH_LOOKUP_KEY_FILE=str(work / "keys" / "lookup.key"),
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(Path(__file__).resolve().parents[1] / "src"), env.get("PYTHONPATH")])
        ),
    )
    return env


def run(size: Result, args: argparse.Namespace, work: Path) -> Result:
    env = _env(work)
    results: Result = {"sizes": size, "load_before": _uptime(), "cpus": os.cpu_count()}
    started = time.perf_counter()
    _say(f"anchor: libsodium, {size['anchor']:,} operations x 3 ...")
    results["anchor"] = run_step("anchor", size["anchor"], env=env)
    # A kept work directory is prepared once: the next --keep run with the same --dir reuses it.
    prepared = work / "prepared.json"
    if prepared.is_file():
        _say(f"prepare: reusing {work} (prepared by an earlier --keep run)")
        results["prepare"] = json.loads(prepared.read_text(encoding="utf-8"))
    else:
        _say(f"prepare: {size['people']:,} people (synth, ingest, affected) ...")
        results["prepare"] = run_step("prepare", size["people"], work, env=env)
        if args.keep:
            prepared.write_text(json.dumps(results["prepare"]), encoding="utf-8")
    _say("index build ...")
    results["index"] = run_step("index", work, os.cpu_count() or 2, env=env)
    if args.index_only:
        results["load_after"] = _uptime()
        results["total_s"] = time.perf_counter() - started
        return results
    results["inputs"] = run_step(
        "inputs", work, results["prepare"]["registry"], size["forms"], size["partner"], env=env
    )
    results["limits_sweep"] = run_step("sweep", size["sweep"], env=env)
    results["api"], results["partner"] = _partner_phase(size, env, work)
    results["selfcheck"] = _selfcheck_phase(size, args, env, work)
    if args.what_if:
        results["what_if"] = _whatif_phase(size, env, work)
    results["load_after"] = _uptime()
    results["total_s"] = time.perf_counter() - started
    return results


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _partner_phase(size: Result, env: dict[str, str], work: Path) -> tuple[Result, Result]:
    sys.path[:0] = env["PYTHONPATH"].split(os.pathsep)
    os.environ.update({k: env[k] for k in ("XDG_CONFIG_HOME", "BREACHWATCH_KEY")})
    from breachwatch.settings import load_settings
    from breachwatch.state import add_partner

    settings = load_settings(work / "ws")
    api_key = add_partner(settings, "bench-api", 10**9)
    bank_key = add_partner(settings, "bench-bank", 10**9)
    with serving({**env, **LIMITS}, 1) as server:
        _say(f"partner API: {size['batches']} x {size['batch']:,} blinded elements ...")
        api: Result = {}
        with measured(server, api):
            api.update(
                run_step("api", server.url, api_key, size["batch"], size["batches"], size["e2e"])
            )
        _say(f"partner check: {size['partner']:,} identifiers ...")
        partner: Result = {}
        with measured(server, partner):
            partner.update(
                run_step("partner", server.url, bank_key, work / "customers.csv", work / "m.csv")
            )
        partner["server_peak_mb"] = server.peak_mb()
    return api, partner


class SmtpSink:
    """The counting aiosmtpd sink in its own process; ``sent()`` reads its running count."""

    def __init__(self, env: dict[str, str], work: Path) -> None:
        self.port = _free_port()
        self.count_file = work / "smtp.count"
        self.proc = subprocess.Popen(
            [sys.executable, __file__, STEP, "smtp", str(self.port), str(self.count_file)],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not self.count_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.cpu_start = _tree_cpu(self.proc.pid)

    def sent(self) -> int:
        try:
            return int(self.count_file.read_text(encoding="ascii") or 0)
        except (OSError, ValueError):
            return 0

    def wait_drained(self, timeout: float = 300) -> float:
        """Seconds until the service's queue of answers is empty (the count stops moving)."""
        started, last, still = time.perf_counter(), -1, 0
        while time.perf_counter() - started < timeout and still < 3:
            count = self.sent()
            still = still + 1 if count == last else 0
            last = count
            time.sleep(0.5)
        return max(0.0, time.perf_counter() - started - 1.5)

    def stop(self) -> float:
        cpu = _tree_cpu(self.proc.pid) - self.cpu_start
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=20)
        return cpu


def _selfcheck_phase(
    size: Result, args: argparse.Namespace, env: dict[str, str], work: Path
) -> Result:
    forms = results_forms(work)
    members, strangers = _lines(forms["email_member"]), _lines(forms["email_non_member"])
    mixed_lines = [x for pair in zip(members, strangers, strict=False) for x in pair]
    loads = {
        "wrk_few": _write_lines(work / "forms_email_few.txt", mixed_lines[:1000]),
        "wrk_distinct": _write_lines(work / "forms_email_mixed.txt", mixed_lines),
    }
    sink = SmtpSink(env, work)
    server_env = {**env, **LIMITS, "BREACHWATCH_SMTP_HOST": HOST}
    server_env["BREACHWATCH_SMTP_PORT"] = str(sink.port)
    out: Result = {"runs": []}
    try:
        for config in args.selfcheck.split(","):
            workers, storage = config.split(":")
            with _limits_storage(storage) as redis_url:
                env_run = {**server_env, "BREACHWATCH_REDIS_URL": redis_url}
                with serving(env_run, int(workers), storage) as server:
                    run = _selfcheck_runs(server, sink, size, args, forms, loads, work)
            out["runs"].append({**run, "storage": storage})
    finally:
        out["smtp_cpu_s"] = sink.stop()
    out["emails_received"] = sink.sent()
    return out


@contextmanager
def _limits_storage(kind: str) -> Iterator[str]:
    """The rate-limit storage's URL: "" keeps it in memory; "redis" starts a private Redis."""
    if kind == "memory":
        yield ""
        return
    port = _free_port()
    command = ["redis-server", "--port", str(port), "--bind", HOST, "--save", ""]
    command += ["--appendonly", "no"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"redis://{HOST}:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


WHATIF_PAGE = ("noqueue", "noqueue+asgi_headers", "noqueue+asgi_headers+async_check")
WHATIF_LEAK = ("", "tick")


def _whatif_phase(size: Result, env: dict[str, str], work: Path) -> Result:
    """Each suggested fix applied alone, in memory, A/B/B/A against the service as it is: the
    page's CPU per request under wrk (answers dropped), and the member/non-member timing
    difference with the answers sent at once or in 100 ms ticks."""
    import importlib.util

    page = list(WHATIF_PAGE)
    if importlib.util.find_spec("httptools") is not None:
        page.append(page[-1] + "+httptools")
    sink = SmtpSink(env, work)
    run_env = {**env, **LIMITS, "BREACHWATCH_SMTP_HOST": HOST}
    run_env["BREACHWATCH_SMTP_PORT"] = str(sink.port)
    out: Result = {"page": [], "leak": [], "limits": []}
    classes = json.dumps({k: str(v) for k, v in results_forms(work).items()})
    few = work / "forms_email_few.txt"
    try:
        with _limits_storage("redis" if shutil.which("redis-server") else "memory") as url:
            run_env["BREACHWATCH_REDIS_URL"] = url
            for variant in [*page, *reversed(page)]:
                _say(f"what if: {variant} ...")
                with serving(run_env, 1, "redis" if url else "memory", variant) as server:
                    result = run_wrk(server, few, 8, size["wrk_s"], work)
                out["page"].append({"variant": variant, **result})
            out["limits"] = _whatif_limits(run_env, url, size, work)
            # "tick" reschedules the answering thread of the web process; a service that answers
            # from elsewhere has none, and only the service as it is gets measured.
            from breachwatch.lookup.selfcheck import SelfCheck

            leak = WHATIF_LEAK if hasattr(SelfCheck, "_run") else WHATIF_LEAK[:1]
            for variant in [*leak, *reversed(leak)]:
                _say(f"what if: answers {variant or 'at once'}, paced 50/s ...")
                with serving(run_env, 1, "redis" if url else "memory", variant) as server:
                    port = server.url.rsplit(":", 1)[1]
                    paced = run_step("paced", port, classes, 50, 2 * size["paced_s"], 64)
                out["leak"].append({"variant": variant or "at once", **paced})
    finally:
        sink.stop()
    return out


def _whatif_limits(env: dict[str, str], redis_url: str, size: Result, work: Path) -> list[Result]:
    """The fixed page (answers dropped) loaded with ever new identifiers, in windows: the
    in-memory limits slow down as distinct identifiers pile up, Redis does not."""
    windows, seconds = 4, max(10, size["wrk_s"])
    fresh = [
        _form(lang="fr", contact=f"new.{i}@example.net") for i in range(windows * 2000 * seconds)
    ]
    forms = Path(_write_lines(work / "forms_whatif_new.txt", fresh))
    out = []
    for storage in ("memory", "redis") if redis_url else ("memory",):
        env_run = {**env, "BREACHWATCH_REDIS_URL": redis_url if storage == "redis" else ""}
        _say(f"what if: {storage} limits, ever new identifiers ...")
        with serving(env_run, 1, storage, WHATIF_PAGE[-1]) as server:
            seen = 0
            for window in range(windows):
                result = run_wrk(server, forms, 8, seconds, work, start=seen)
                seen += result["requests"]
                out.append({"storage": storage, "window": window, "distinct": seen, **result})
    return out


def results_forms(work: Path) -> dict[str, Path]:
    names = ("email_member", "email_non_member", "nir_member", "nir_non_member")
    return {name: work / f"forms_{name}.txt" for name in names}


def _selfcheck_runs(
    server: Server,
    sink: SmtpSink,
    size: Result,
    args: argparse.Namespace,
    forms: dict[str, Path],
    loads: dict[str, str],
    work: Path,
) -> Result:
    run: Result = {"workers": server.workers}
    classes = json.dumps({k: str(v) for k, v in forms.items()})
    port = server.url.rsplit(":", 1)[1]

    def paced(rate: int) -> Result:
        return run_step("paced", port, classes, rate, size["paced_s"], 256)

    def wrk(name: str) -> Result:
        return run_wrk(server, Path(loads[name]), args.connections, size["wrk_s"], work)

    # The timing comparison first, on a fresh server at a gentle rate; then the load. With the
    # in-memory limits every distinct identifier slows the server down (limits_sweep), so there
    # only the two wrk runs, to show it.
    plan: list[tuple[str, Callable[[], Result]]] = [
        ("paced_100", partial(paced, 100)),
        ("wrk_few", partial(wrk, "wrk_few")),
        ("wrk_distinct", partial(wrk, "wrk_distinct")),
        (f"paced_{TARGET_RPS}", partial(paced, TARGET_RPS)),
    ]
    if server.storage == "memory":
        plan = plan[1:3]
    for i, (name, measure) in enumerate(plan):
        _say(f"self-check, {server.workers} worker(s), {server.storage}: {name} ...")
        load1, sent, cpu = os.getloadavg()[0], sink.sent(), server.cpu()
        result: Result = {"load1_before": load1}
        with measured(server, result):
            result.update(measure())
        if i < len(plan) - 1:  # the queue of answers empties before the next run starts
            result["drain_s"] = sink.wait_drained()
            result["emails"] = sink.sent() - sent
            seconds = result["block_wall_s"] + result["drain_s"]
            result["answer_rate"] = _rate(result["emails"], seconds)
            # Request path and background answers together, per check.
            result["cpu_ms_per_check"] = 1000 * (server.cpu() - cpu) / max(1, result["requests"])
        run[name] = result
    run["server_peak_mb"] = server.peak_mb()
    return run


# -- the report ------------------------------------------------------------------------------
#
# Wall-clock rates depend on what else the shared machine runs; CPU seconds much less so. Each
# row gives the measured rate and, where it matters, what the CPU time implies for two cores
# of our own ("2 idle cores").

Row = tuple[str, str, str, str]


def report(r: Result) -> None:
    print(f"\nload before: {r['load_before']}\nload after:  {r['load_after']}")
    print(f"total {r['total_s'] / 60:.1f} min on {r['cpus']} cores\n")
    rows = _anchor_rows(r["anchor"])
    if "api" not in r:  # --index-only
        _print_rows(rows + _index_rows(r["index"], r["prepare"]))
        return
    rows += _api_rows(r["api"], r["anchor"])
    rows += _index_rows(r["index"], r["prepare"])
    rows += _partner_rows(r["partner"], r["index"])
    for run in r["selfcheck"]["runs"]:
        rows += _selfcheck_rows(run)
    _print_rows(rows)
    sweep = r["limits_sweep"]["sweep_ms"]
    print(
        "\nlimits MemoryStorage: one sweep of the keys (every 10 ms, holding the GIL): "
        + ", ".join(f"{int(k):,} keys {v:,.1f} ms" for k, v in sweep.items())
    )
    sc = r["selfcheck"]
    print(f"SMTP sink: {sc['emails_received']:,} e-mails received, {sc['smtp_cpu_s']:.1f} CPU s")
    if "what_if" in r:
        _report_whatif(r["what_if"])


def _print_rows(rows: list[Row]) -> None:
    width = max(len(row[0]) for row in rows)
    print(f"{'measure':{width}}  {'value':>24}  {'vs target':28}  note")
    for name, value, verdict, note in rows:
        print(f"{name:{width}}  {value:>24}  {verdict:28}  {note}")


def _report_whatif(w: Result) -> None:
    print("\nwhat if (changes applied in memory; page only, answers dropped; wrk c=8):")
    for x in w["page"]:
        print(
            f"  {x['variant']:45s} {x['rps']:6,.0f} req/s  p50 {x['p50_ms']:5.1f}  p99 "
            f"{x['p99_ms']:6.1f} ms  {x['server_cpu_per_request_ms']:.2f} CPU ms/request  "
            f"load {x['load1_before']:.1f}"
        )
    print("what if (in-memory vs Redis limits, fixed page, every request a new identifier):")
    for x in w["limits"]:
        print(
            f"  {x['storage']:6s} up to {x['distinct']:7,} identifiers  {x['rps']:6,.0f} req/s  "
            f"p99 {x['p99_ms']:6.1f} ms  {x['server_cpu_per_request_ms']:.2f} CPU ms/request"
        )
    print("what if (members vs non-members, paced 50/s, answers sent):")
    for x in w["leak"]:
        tests = "; ".join(
            f"{kind} {t['median_diff_ms']:+.2f} ms (p={t['p_value']:.1g})"
            for kind, t in x["member_vs_non_member"].items()
        )
        print(f"  answers {x['variant']:8s} p50 {x['all']['p50_ms']:.1f} ms; {tests}")


def _ok(good: bool) -> str:
    return "met" if good else "MISSED"


def _anchor_rows(a: Result) -> list[Row]:
    names = (
        ("scalarmult", "libsodium scalarmult, 1 core (ANCHOR)"),
        ("blind_evaluate_many", "blind_evaluate_many, 1 core"),
        ("evaluate_many", "evaluate_many (index), 1 core"),
        ("scalarmult_2_threads", "scalarmult, 2 threads"),
        ("evaluate_many_2_threads", "evaluate_many, 2 threads"),
    )
    return [
        (label, f"{a[key]:,.0f} /s", "", f"{a[key + '_per_cpu_s']:,.0f} per CPU second")
        for key, label in names
    ]


def _api_rows(api: Result, anchor: Result) -> list[Row]:
    raw, near = anchor["scalarmult"], api["raw_near"]
    one, two = api["rate_one_connection"], api["rate_two_connections"]
    elements = 2 * api["evaluations"] + api["end_to_end_identifiers"]
    cpu_us = 1e6 * api["server_cpu_s"] / elements
    raw_cpu_us = 1e6 / anchor["scalarmult_per_cpu_s"]
    # The verdict uses the anchor measured right before and after the API run, under the same
    # load as the API; the start-of-run anchor may have met another load.
    return [
        (
            f"API evaluations, 1 connection (batch {api['batch']:,})",
            f"{one:,.0f} /s",
            f"ratio {one / near:.2f} ({_ok(one / near >= TARGET_API_RATIO)} >= 0.5)",
            f"anchor alongside {near:,.0f}/s; vs the start-of-run anchor {one / raw:.2f}",
        ),
        (
            "API evaluations, 2 connections",
            f"{two:,.0f} /s",
            f"ratio {two / near:.2f} ({_ok(two / near >= TARGET_API_RATIO)} >= 0.5)",
            f"vs the start-of-run anchor {two / raw:.2f}",
        ),
        (
            "API server CPU per element",
            f"{cpu_us:.0f} us",
            f"CPU ratio {raw_cpu_us / cpu_us:.2f}",
            f"scalarmult alone {raw_cpu_us:.0f} us: {1e6 / cpu_us:,.0f}/s per idle core",
        ),
        (
            "API end to end (PartnerClient)",
            f"{api['rate_end_to_end']:,.0f} /s",
            "",
            "blind + request + finalize, one batch at a time",
        ),
    ]


def _index_rows(index: Result, prepare: Result) -> list[Row]:
    entries = index["entries"]
    oprf_s, oprf_cpu = index["phases"].get("OPRF", 0.0), index["phases_cpu"].get("OPRF", 0.0)
    overall, oprf_rate = _rate(entries, index["seconds"]), _rate(entries, oprf_s)
    minutes = TARGET_EVALUATIONS / overall / 60 if overall else float("inf")
    oprf_minutes = TARGET_EVALUATIONS / oprf_rate / 60 if oprf_rate else float("inf")
    # CPU floor on two cores of our own: the build's CPU time (its process and the OPRF worker
    # processes) split over both, every phase assumed parallel (the SQLite writes are not: a
    # floor, not a promise).
    workers_cpu = index.get("workers_cpu_s", 0.0)
    floor = TARGET_EVALUATIONS * (index["cpu_s"] + workers_cpu) / entries / 2 / 60
    oprf_floor = TARGET_EVALUATIONS * (oprf_cpu + workers_cpu) / entries / 2 / 60
    phases = ", ".join(
        f"{k} {v:.1f}s ({index['phases_cpu'][k]:.0f} CPU s)" for k, v in index["phases"].items()
    )
    return [
        (
            f"index build, {index['people']:,} people",
            f"{index['seconds']:.1f} s",
            "",
            f"{entries:,} identifiers {index['by_kind']}; {phases}",
        ),
        (
            "index: identifiers/s overall",
            f"{overall:,.0f} /s",
            "",
            f"{index['workers']} worker processes, {workers_cpu:.0f} CPU s",
        ),
        ("index: identifiers/s in the OPRF step", f"{oprf_rate:,.0f} /s", "", ""),
        ("index: peak RSS", f"{index['peak_mb']:,.0f} MB", "", f"file {index['file_mb']:,.0f} MB"),
        (
            "index: 130 M identifiers (43 M people)",
            f"{minutes:,.0f} min",
            f"{_ok(minutes <= TARGET_INDEX_MINUTES)} <= 90 min",
            f"OPRF step alone {oprf_minutes:,.0f} min; CPU floor on 2 idle cores {floor:,.0f} "
            f"min (OPRF {oprf_floor:,.0f})",
        ),
        (
            "(before: synth / ingest / affected / risk)",
            f"{prepare['synth_s']:.0f} / {prepare['ingest_s']:.0f} / {prepare['affected_s']:.0f}"
            f" / {prepare.get('risk_s', 0.0):.1f} s",
            "",
            "not part of the index build (it reuses the current risk tables)",
        ),
    ]


def _partner_rows(p: Result, index: Result) -> list[Row]:
    n = max(1, p["identifiers"])
    # A bucket holds entries / 2**bits tags; each comes back as 8 bytes in base64 in a JSON
    # list (~16 bytes). At 43 M people the buckets are ~200x fuller than here.
    buckets = 2 ** index["prefix_bits"]
    tags_now, tags_43m = index["entries"] / buckets, TARGET_EVALUATIONS / buckets
    received_43m = p["bytes_received"] / n + (tags_43m - tags_now) * 16
    client_us, server_us = 1e6 * p["cpu_s"] / n, 1e6 * p["server_cpu_s"] / n
    return [
        (
            f"partner check, {p['identifiers']:,} identifiers",
            f"{p['seconds']:.1f} s",
            "",
            f"{p['matched_identifiers']:,} matched; {p['rows']:,} rows; check phase "
            f"{p.get('check_s', 0):.0f} s",
        ),
        (
            "partner check: identifiers/s",
            f"{_rate(n, p['seconds']):,.0f} /s",
            "",
            f"CPU per identifier: client {client_us:.0f} us, server {server_us:.0f} us "
            f"(idle machine, one batch at a time: ~{1e6 / (client_us + server_us):,.0f}/s)",
        ),
        (
            "partner check: bytes sent / received",
            f"{p['bytes_sent'] / 1e6:,.1f} / {p['bytes_received'] / 1e6:,.1f} MB",
            "",
            f"{p['bytes_sent'] / n:.0f} / {p['bytes_received'] / n:.0f} B per identifier; "
            f"server peak {p['server_peak_mb']:,.0f} MB",
        ),
        (
            f"partner check at 43 M people ({index['prefix_bits']}-bit prefixes)",
            f"~{received_43m:,.0f} B received/id",
            "",
            f"{tags_43m:,.0f} tags per bucket instead of {tags_now:.2f}: "
            f"~{received_43m * 1e6 / 1e9:,.1f} GB per million identifiers",
        ),
    ]


def _selfcheck_rows(run: Result) -> list[Row]:
    w = f"{run['workers']}w {run['storage']}"
    rows = []
    for key, label in (("wrk_few", "1k forms"), ("wrk_distinct", "all distinct")):
        if key in run:
            rows.append(
                _wrk_row(run[key], f"self-check wrk c={run[key]['connections']}, {w}, {label}")
            )
    for rate in (100, TARGET_RPS):
        x = run.get(f"paced_{rate}")
        if x is None:
            continue
        good = x["all"]["p99_ms"] <= TARGET_P99_MS and x["achieved_rate"] >= 0.98 * rate
        leak = "; ".join(
            f"{kind}: members {t['median_diff_ms']:+.2f} ms at the median, p={t['p_value']:.1g}"
            for kind, t in x["member_vs_non_member"].items()
        )
        rows.append(
            (
                f"self-check paced {rate}/s, {w}",
                f"p50 {x['all']['p50_ms']:,.1f} p99 {x['all']['p99_ms']:,.1f} ms",
                f"{_ok(good)} (p99<=50 at {rate}/s)" if rate == TARGET_RPS else "timing leak test",
                f"{x['achieved_rate']:,.0f} req/s, {x['unanswered']} unanswered, {x['statuses']}; "
                f"load {x['load1_before']:.1f}; {leak}",
            )
        )
    return rows


def _wrk_row(x: Result, label: str) -> Row:
    good = x["rps"] >= TARGET_RPS and x["p99_ms"] <= TARGET_P99_MS
    answers = (
        f"{x['cpu_ms_per_check']:.1f} with its answer, answers sent at {x['answer_rate']:,.0f}/s"
        if "cpu_ms_per_check" in x
        else "answers not waited for"
    )
    return (
        label,
        f"{x['rps']:,.0f} req/s",
        f"{_ok(good)} (>=500 req/s, p99<=50)",
        f"p50 {x['p50_ms']:.0f} p99 {x['p99_ms']:.0f} ms; {x['statuses']}; server "
        f"{x['server_cpu_per_request_ms']:.1f} CPU ms/request, {answers}; load "
        f"{x['load1_before']:.1f}",
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == STEP:
        child(sys.argv[2:])
    else:
        main()
