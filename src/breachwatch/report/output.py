"""Writes ``report.json`` and ``report.pdf`` into the output directory, timing each stage.

Files are written under a temporary name and renamed: a failed run never leaves a half PDF
that someone might send to the regulator.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from breachwatch.errors import UsageError
from breachwatch.report.regulator import build_report
from breachwatch.report.texts import texts
from breachwatch.store.workspace import Workspace

JSON_NAME, PDF_NAME = "report.json", "report.pdf"


@dataclass
class ReportFiles:
    json_path: Path
    pdf_path: Path
    report: dict[str, Any]
    # Per stage (aggregates, charts, pdf, json) and total: wall clock, and CPU of all threads.
    seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)


def prepare_out_dir(out_dir: Path) -> Path:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise UsageError(f"--out {out_dir}: cannot write the report there ({reason})") from None
    return out_dir


def _write_atomic(path: Path, write: Any) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def generate_regulator_report(
    ws: Workspace,
    breach: str,
    out_dir: Path,
    *,
    lang: str = "fr",
    aware_since: dt.datetime | None = None,
    nature: str | None = None,
    now: dt.datetime | None = None,
) -> ReportFiles:
    from breachwatch.report.charts import render_charts  # matplotlib: only when drawing
    from breachwatch.report.pdf import write_pdf

    t = texts(lang)
    prepare_out_dir(out_dir)
    timer = _Timer()
    report = build_report(ws, breach, lang=lang, aware_since=aware_since, now=now, nature=nature)
    timer.lap("aggregates")
    charts = render_charts(report, t)
    report["charts"] = sorted(charts)
    timer.lap("charts")
    pdf_path, json_path = out_dir / PDF_NAME, out_dir / JSON_NAME
    _write_atomic(pdf_path, lambda p: write_pdf(report, charts, t, p))
    timer.lap("pdf")
    text = json.dumps(report, ensure_ascii=False, indent=2) + "\n"
    _write_atomic(json_path, lambda p: p.write_text(text, encoding="utf-8"))
    timer.lap("json")
    return ReportFiles(json_path, pdf_path, report, timer.seconds, timer.cpu_seconds)


class _Timer:
    """Wall and CPU seconds per stage (CPU of every thread: DuckDB runs queries on several)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu_seconds: dict[str, float] = {}
        self._started = self._wall = time.perf_counter()
        self._cpu_started = self._cpu = time.process_time()

    def lap(self, stage: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.seconds[stage] = round(wall - self._wall, 3)
        self.cpu_seconds[stage] = round(cpu - self._cpu, 3)
        self.seconds["total"] = round(wall - self._started, 3)
        self.cpu_seconds["total"] = round(cpu - self._cpu_started, 3)
        self._wall, self._cpu = wall, cpu
