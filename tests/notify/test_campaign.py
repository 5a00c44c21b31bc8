"""Campaigns end to end against a real SMTP server and a real SMS provider on 127.0.0.1."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from breachwatch.errors import UsageError
from breachwatch.notify import campaign as campaigns
from breachwatch.notify import review
from breachwatch.notify.models import OutboxEvent
from breachwatch.notify.outbox import open_outbox
from breachwatch.notify.runner import run_campaign, status_report
from breachwatch.state import audit_entries, engine_for
from breachwatch.store.workspace import open_workspace

from .campaigns import APPROVER, PLANNER, approve, base_settings, make_home, plan
from .fabricate import expected_channel
from .servers import SmsProvider, SmtpServer

PEOPLE = 200


def by_channel(settings: dict[str, Any], name: str = "c1") -> dict[str, dict[str, int]]:
    return status_report(settings, name).to_json()["by_channel"]  # type: ignore[no-any-return]


def message_ids(server: SmtpServer) -> Counter[str]:
    return Counter(str(m.message["Message-ID"]) for m in server.received if "[TEST]" not in
                   str(m.message["Subject"]))  # fmt: skip


def test_plan_reconciles_and_stores_nothing_in_clear(tmp_path: Path) -> None:
    home, settings = make_home(tmp_path, PEOPLE)
    summary = plan(home)
    expected = Counter(expected_channel(i) or "unreachable" for i in range(PEOPLE))
    assert summary.people == PEOPLE
    assert summary.by_channel == {
        "email": expected["email"],
        "sms": expected["sms"],
        "letter": 0,
        "unreachable": expected["unreachable"],
    }
    assert sum(summary.by_channel.values()) == PEOPLE  # nobody lost
    assert summary.by_language == {"en": PEOPLE // 4, "fr": PEOPLE - PEOPLE // 4}
    assert summary.reachable["letter"] == PEOPLE - PEOPLE // 20
    counts = by_channel(settings)
    assert counts["email"] == {"queued": expected["email"]}
    assert counts["-"] == {"unreachable": expected["unreachable"]}
    state_db = (Path(settings["home"]) / "state.db").read_bytes()
    for secret in (b"p1@example.net", b"+33600000000", "Dupré".encode(), b"rue des Lilas", b"P17"):
        assert secret not in state_db


def test_channel_order_and_campaign_names(tmp_path: Path) -> None:
    home, _ = make_home(tmp_path, PEOPLE)
    summary = plan(home, "letters-first", channels=("letter", "email"))
    assert summary.by_channel["letter"] == PEOPLE - PEOPLE // 20
    assert summary.by_channel["email"] == 0
    with pytest.raises(UsageError, match="exists already"):
        plan(home, "letters-first")
    with open_workspace(home) as ws, pytest.raises(UsageError, match="not an ingested leak"):
        from breachwatch.notify.plan import plan_campaign

        plan_campaign(ws, breach="nope", name="x", operator=PLANNER)


def test_four_eyes(tmp_path: Path, smtp_server: SmtpServer) -> None:
    home, settings = make_home(tmp_path, PEOPLE, **base_settings(smtp_server))
    plan(home)
    with pytest.raises(UsageError, match="second operator's approval"):
        run_campaign(settings, "c1", operator=APPROVER)
    with pytest.raises(UsageError, match="previewed"):
        campaigns.approve(settings, "c1", APPROVER)
    review.preview(settings, "c1", None, PLANNER)
    with pytest.raises(UsageError, match="test send"):
        campaigns.approve(settings, "c1", APPROVER)
    review.send_to_seeds(settings, "c1", ["seed@example.org"], PLANNER)
    with pytest.raises(UsageError, match="second operator"):
        campaigns.approve(settings, "c1", PLANNER)
    campaigns.approve(settings, "c1", APPROVER)
    with pytest.raises(UsageError, match="not a draft"):
        campaigns.approve(settings, "c1", "carol")
    actions = [(e.actor, e.action) for e in audit_entries(settings)]
    assert actions == [
        (PLANNER, "notify.plan"),
        (APPROVER, "notify.approve_refused"),
        (PLANNER, "notify.preview"),
        (APPROVER, "notify.approve_refused"),
        (PLANNER, "notify.test_send"),
        (PLANNER, "notify.approve_refused"),
        (APPROVER, "notify.approve"),
        ("carol", "notify.approve_refused"),
    ]
    # The seed got a specimen: real content, no real person's name, a code that is not issued.
    seeds = [m.message for m in smtp_server.received]
    assert {m["To"] for m in seeds} == {"seed@example.org"} and len(seeds) == 2
    assert all(str(m["Subject"]).startswith("[TEST]") for m in seeds)
    text = seeds[0].get_body(("plain",)).get_content()
    assert "Camille Exemple" in text and "Dupré" not in text


def test_run_sends_everyone_exactly_once(
    tmp_path: Path, smtp_server: SmtpServer, sms_provider: SmsProvider
) -> None:
    home, settings = make_home(tmp_path, PEOPLE, **base_settings(smtp_server, sms_provider))
    plan(home)
    approve(settings)
    summary = run_campaign(settings, "c1", operator=APPROVER)
    expected = Counter(expected_channel(i) or "unreachable" for i in range(PEOPLE))
    ids = message_ids(smtp_server)
    assert len(ids) == expected["email"] and set(ids.values()) == {1}
    assert "<bw-1-1000-email@example.org>" in ids
    sms = [r.body for r in sms_provider.requests]
    assert len(sms) == expected["sms"]
    assert {r["client_reference"] for r in sms} == {
        f"bw-1-{1000 + i}-sms" for i in range(PEOPLE) if expected_channel(i) == "sms"
    }
    # (a temporary failure on this loaded machine is retried: only the end state counts)
    assert summary.outcomes["sent"] == expected["email"] + expected["sms"]
    assert summary.final is not None and summary.final.status == "done"
    assert by_channel(settings)["email"] == {"sent": expected["email"]}
    english = next(m.message for m in smtp_server.received if m.message["To"] == "p1@example.net")
    assert (
        english["Content-Language"] == "en"
        and "What happened" in english.get_body(("plain",)).get_content()
    )


def test_permanent_failures_fall_back_to_the_next_channel(
    tmp_path: Path, smtp_server: SmtpServer, sms_provider: SmsProvider
) -> None:
    home, settings = make_home(tmp_path, 40, **base_settings(smtp_server, sms_provider))
    plan(home)
    approve(settings)
    smtp_server.fail_next("550 5.1.1 <x@example.net>: Recipient address rejected", count=40)
    run_campaign(settings, "c1", operator=APPROVER)
    counts = by_channel(settings)
    mobiles = [i for i in range(40) if i % 5 == 0 or i % 20 == 9]
    assert counts["sms"] == {"sent": len(mobiles)}
    assert counts["letter"] == {"queued": 40 - len(mobiles) - 2}  # two unreachable
    with Session(engine_for(settings)) as s:
        history = [
            (e.channel, e.status)
            for e in s.scalars(select(OutboxEvent).where(OutboxEvent.person == 1000))
        ]
    assert history == [
        ("email", "sending"),
        ("email", "permanent_failure"),
        ("sms", "queued"),
        ("sms", "sending"),
        ("sms", "sent"),
    ]


def test_smtp_server_down_for_a_while_loses_nothing(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    home, settings = make_home(tmp_path, 60, **base_settings(smtp_server))
    plan(home, channels=("email",))
    approve(settings)
    smtp_server.stop()
    threading.Timer(2.5, smtp_server.start).start()
    summary = run_campaign(settings, "c1", operator=APPROVER)
    assert summary.outcomes["temporary_failure"] > 0
    ids = message_ids(smtp_server)
    assert len(ids) == 54 and set(ids.values()) == {1}  # 60 minus 6 without an e-mail
    assert by_channel(settings)["email"] == {"sent": 54}


def test_pause_resume_cancel(tmp_path: Path, smtp_server: SmtpServer) -> None:
    home, settings = make_home(tmp_path, PEOPLE, **base_settings(smtp_server))
    plan(home, channels=("email",))
    approve(settings)
    result: dict[str, Any] = {}
    runner = threading.Thread(
        target=lambda: result.update(
            summary=run_campaign(settings, "c1", operator=APPROVER, rates={"email": 30.0})
        )
    )
    runner.start()
    time.sleep(1.0)
    campaigns.transition(settings, "c1", "pause", APPROVER)
    time.sleep(1.0)  # what was claimed before the pause finishes
    paused = len(smtp_server.received)
    time.sleep(1.0)
    assert len(smtp_server.received) == paused and runner.is_alive()
    campaigns.transition(settings, "c1", "resume", APPROVER)
    time.sleep(0.8)
    assert len(smtp_server.received) > paused
    campaigns.transition(settings, "c1", "cancel", APPROVER)
    with _outbox(settings) as box:
        box.cancel(1)  # what `notify cancel` does; what workers hold, they release cancelled
    runner.join(timeout=20)
    assert not runner.is_alive()
    counts = by_channel(settings)["email"]
    assert counts["cancelled"] > 0 and counts["cancelled"] + counts["sent"] == 180
    assert counts["sent"] == len(message_ids(smtp_server))
    with pytest.raises(UsageError, match="cancelled"):
        run_campaign(settings, "c1", operator=APPROVER)


def _outbox(settings: dict[str, Any]) -> Any:
    from contextlib import closing

    return closing(open_outbox(settings))


def test_preview_of_one_person_is_audited(tmp_path: Path, smtp_server: SmtpServer) -> None:
    home, settings = make_home(tmp_path, PEOPLE, **base_settings(smtp_server))
    plan(home)
    with open_workspace(home) as ws:
        person = review.find_person(ws, "agency-test", "P5")
        with pytest.raises(UsageError, match="not among"):
            review.find_person(ws, "agency-test", "P999999")
    shown = review.preview(settings, "c1", person, "carol")
    assert shown.record_id == "P5"
    assert [m.channel for m in shown.messages] == ["email", "sms", "letter"]
    last = list(audit_entries(settings))[-1]
    assert (last.actor, last.action, json.loads(last.detail)) == (
        "carol",
        "notify.preview",
        {"person": person},
    )
    assert "P5" not in last.detail and "@" not in last.detail


def test_demo_campaign_files_every_email(tmp_path: Path) -> None:
    from rich.console import Console

    from breachwatch.notify.demo import run_demo_campaign

    home, _ = make_home(tmp_path, 40)
    console = Console(file=open(os.devnull, "w"))  # noqa: SIM115 - closed with the test
    summary = run_demo_campaign(home, "agency-test", tmp_path / "mail", console)
    assert summary["outcomes"] == {"sent": 36}
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 36 + 2  # and the two seed e-mails
