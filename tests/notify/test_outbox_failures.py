"""An outbox that cannot be written (read-only, disk full): a clear error, and no corruption —
the campaign completes once the cause is fixed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from breachwatch.errors import BreachwatchError
from breachwatch.notify.runner import run_campaign, status_report
from breachwatch.state import engine_for

from .campaigns import APPROVER, approve, base_settings, make_home, plan
from .servers import SmtpServer

PEOPLE = 300
EMAILS = 270


def _check_complete(settings: dict[str, Any], server: SmtpServer) -> None:
    summary = run_campaign(settings, "c1", operator=APPROVER)
    assert summary.final is not None and summary.final.status == "done"
    report = status_report(settings, "c1")
    assert report.counts[("email", "sent")] == EMAILS
    ids = Counter(str(m.message["Message-ID"]) for m in server.received
                  if m.rcpt_tos != ["seed@example.org"])  # fmt: skip
    assert len(ids) == EMAILS
    assert sum(n - 1 for n in ids.values()) <= report.possible_duplicates


def test_read_only_outbox(tmp_path: Path, smtp_server: SmtpServer) -> None:
    home, settings = make_home(tmp_path, PEOPLE, **base_settings(smtp_server))
    plan(home, channels=("email",))
    approve(settings)
    before = status_report(settings, "c1").counts
    state_db = Path(settings["home"]).resolve() / "state.db"
    read_only = {**settings, "state_url": f"sqlite:///file:{state_db}?mode=ro&uri=true"}
    with pytest.raises(BreachwatchError, match="readonly|read-only") as failure:
        run_campaign(read_only, "c1", operator=APPROVER)
    assert "Traceback" not in str(failure.value)
    assert status_report(settings, "c1").counts == before
    _check_complete(settings, smtp_server)


def test_full_disk(tmp_path: Path, smtp_server: SmtpServer) -> None:
    home, settings = make_home(tmp_path, PEOPLE, **base_settings(smtp_server))
    plan(home, channels=("email",))
    approve(settings)
    engine = engine_for(settings)
    with engine.connect() as con:
        pages = con.exec_driver_sql("PRAGMA page_count").scalar()

    def full(dbapi_con: Any, _record: Any) -> None:
        # SQLite stops at this many pages with SQLITE_FULL, as on a full disk.
        dbapi_con.execute(f"PRAGMA max_page_count = {int(pages or 0) + 2}")

    event.listen(engine, "connect", full)
    engine.dispose()
    try:
        with pytest.raises(BreachwatchError, match="full") as failure:
            run_campaign(settings, "c1", operator=APPROVER)
        assert "resumes where it stopped" in str(failure.value)
    finally:
        event.remove(engine, "connect", full)
        engine.dispose()
    _check_complete(settings, smtp_server)
