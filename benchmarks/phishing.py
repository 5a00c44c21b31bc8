"""Phishing check benchmark: accuracy on the held-out evaluation split, then throughput.

    .venv/bin/python benchmarks/phishing.py [--seconds 5]

Accuracy: the shipped rules on tests/data/phishing/eval_set.jsonl, "test" split (held out;
weights and thresholds were tuned on "tune"), with the test suite's HMAC code verifier.
Throughput: one process pinned to one core, every SMS (then every e-mail) of the set checked in
a loop, each call timed; the anchor is a bare loop of the precompiled URL regex over the same
texts, so the ratio says how much the whole check costs over just finding the links.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1]
EVAL_SET = ROOT / "tests" / "data" / "phishing" / "eval_set.jsonl"


def _verifier() -> Any:
    """The tests' HMAC verifier: the evaluation set's codes were issued with its key."""
    spec = importlib.util.spec_from_file_location(
        "phishing_test_helpers", ROOT / "tests" / "phishing" / "helpers.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.HmacCodeVerifier()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to core {core}"
    return "not pinned (no sched_setaffinity)"


def accuracy() -> dict[str, Any]:
    from breachwatch.phishing.evaluate import evaluate, format_table, load_samples

    verifier = _verifier()
    out: dict[str, Any] = {}
    for split in ("test", "tune"):
        samples = load_samples(EVAL_SET, split)
        evaluation = evaluate(samples, verifier=verifier)
        title = f"{split} split ({len(samples)} messages)" + (
            " - HELD OUT" if split == "test" else ""
        )
        print(format_table(evaluation, title))
        for sample, result in evaluation.errors:
            print(
                f"  error {sample.id} {sample.label}/{sample.category} -> {result.verdict} "
                f"{result.score}: {', '.join(r.code for r in result.reasons) or '-'}"
            )
        print()
        out[split] = evaluation.to_json()
    return out


def _timed_loop(
    call: Callable[[Any], object], items: Sequence[Any], seconds: float
) -> tuple[int, float, list[int]]:
    latencies: list[int] = []
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for item in items:
            t0 = time.perf_counter_ns()
            call(item)
            latencies.append(time.perf_counter_ns() - t0)
        count += len(items)
    return count, time.perf_counter() - start, latencies


def _percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


def throughput(seconds: float) -> dict[str, Any]:
    from breachwatch.phishing.config import load_config
    from breachwatch.phishing.engine import Checker
    from breachwatch.phishing.evaluate import load_samples
    from breachwatch.phishing.urls import LINK_RE

    samples = load_samples(EVAL_SET)
    sms = [s for s in samples if s.kind == "sms"]
    mails = [s for s in samples if s.kind == "email"]
    t0 = time.perf_counter()
    checker = Checker(load_config())  # a fresh one: what the first check of a process pays
    build = time.perf_counter() - t0
    verifier = _verifier()
    out: dict[str, Any] = {"checker_build_s": round(build, 3)}
    print(f"checker built once in {build:.2f} s (look-alike tables, regexes, reasons)")

    def check_sms(s: Any) -> object:
        return checker.check(
            s.text, kind="sms", verifier=verifier, sender=s.sender, recipient=s.recipient
        )

    def check_mail(s: Any) -> object:
        return checker.check(s.text, kind="email", verifier=verifier)

    def bare_urls(s: Any) -> object:
        return [m.group() for m in LINK_RE.finditer(s.text)]

    for name, items, call in (("sms", sms, check_sms), ("email", mails, check_mail)):
        count, elapsed, latencies = _timed_loop(call, items, seconds)
        anchor_count, anchor_elapsed, _ = _timed_loop(bare_urls, items, seconds / 2)
        rate, anchor_rate = count / elapsed, anchor_count / anchor_elapsed
        row = {
            "messages": len(items),
            "checks": count,
            "per_second": round(rate),
            "p50_us": round(_percentile(latencies, 0.50)),
            "p99_us": round(_percentile(latencies, 0.99)),
            "max_us": round(max(latencies) / 1000),
            "mean_us": round(statistics.fmean(latencies) / 1000),
            "bare_url_regex_per_second": round(anchor_rate),
            "ratio_vs_bare_regex": round(anchor_rate / rate, 1),
        }
        out[name] = row
        print(
            f"{name:<6} {rate:>9,.0f} checks/s  p50 {row['p50_us']} us  p99 {row['p99_us']} us  "
            f"max {row['max_us']} us | bare URL regex {anchor_rate:,.0f}/s -> "
            f"{row['ratio_vs_bare_regex']}x  ({count:,} checks of {len(items)} messages)"
        )
    out["peak_rss_mb"] = round(_peak_mb(), 1)
    print(f"peak RSS {out['peak_rss_mb']} MB")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="Seconds per throughput loop.")
    parser.add_argument("--json", action="store_true", help="Also print one JSON object.")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {_pin_one_core()}\n")
    report = {"accuracy": accuracy(), "throughput": throughput(args.seconds)}
    if args.json:
        print(json.dumps(report))


if __name__ == "__main__":
    main()
