"""Regulator report (capability C9): the GDPR art. 33 notification as JSON and PDF.

``build_report`` computes the JSON-ready dict from the stored tables (set-based DuckDB
queries); ``generate_regulator_report`` adds the charts and writes ``report.json`` and
``report.pdf``. ``docs/report.md`` documents the JSON keys and the campaign adapter contract.
The names load on first use, so that every ``breachwatch`` command (which registers
``report.cli``) does not pay for DuckDB, SQLAlchemy and the linkage modules at start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from breachwatch.report.output import ReportFiles, generate_regulator_report
    from breachwatch.report.regulator import SCHEMA, SCHEMA_VERSION, build_report

_EXPORTS = {
    "SCHEMA": "regulator",
    "SCHEMA_VERSION": "regulator",
    "ReportFiles": "output",
    "build_report": "regulator",
    "generate_regulator_report": "output",
}

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "ReportFiles",
    "build_report",
    "generate_regulator_report",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'breachwatch.report' has no attribute {name!r}")
    return getattr(importlib.import_module(f"breachwatch.report.{_EXPORTS[name]}"), name)
