"""The campaign part of ``breachwatch demo``: plan, review, approve and send a campaign to a local
SMTP server (the demo mailbox), showing progress.

``breachwatch demo`` calls ``run_demo_campaign(workspace, breach, mail_dir, console)`` after the
risk step; the messages land as ``.eml`` files in ``mail_dir``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from breachwatch.notify import campaign as campaigns
from breachwatch.notify import review
from breachwatch.notify.mailbox import Mailbox
from breachwatch.notify.plan import plan_campaign
from breachwatch.notify.runner import StatusReport, run_campaign
from breachwatch.settings import load_settings
from breachwatch.store.workspace import open_workspace

PLANNER, APPROVER = "demo-dpo", "demo-security"


def run_demo_campaign(
    workspace: Path, breach: str, mail_dir: Path, console: Console, name: str = "demo"
) -> dict[str, Any]:
    with Mailbox(mail_dir) as mailbox:
        settings = {
            **load_settings(workspace),
            "smtp_host": "127.0.0.1",
            "smtp_port": mailbox.port,
            "sms_url": "",  # no SMS provider in the demo: SMS recipients wait in the outbox
        }
        with open_workspace(workspace) as ws:
            ws.settings = settings
            plan = plan_campaign(ws, breach=breach, name=name, operator=PLANNER)
        console.print(
            f"campaign {name}: {plan.people:,} people — "
            + ", ".join(f"{n:,} {c}" for c, n in plan.by_channel.items())
        )
        shown = review.preview(settings, name, None, PLANNER)
        console.print(f"preview of one person's e-mail:\n[dim]{shown.messages[0].text[:600]}…")
        review.send_to_seeds(settings, name, ["seed@example.org"], PLANNER)
        campaigns.approve(settings, name, APPROVER)
        console.print(f"approved by {APPROVER} (planned by {PLANNER}); sending…")

        def progress(report: StatusReport) -> None:
            sent = report.counts.get(("email", "sent"), 0)
            console.print(f"  {sent:,} e-mails sent, {report.rate:,.0f}/s", highlight=False)

        summary = run_campaign(settings, name, operator=APPROVER, progress=progress)
        console.print(
            f"{summary.outcomes.get('sent', 0):,} messages sent in {summary.seconds:.1f} s → "
            f"{mail_dir} ({mailbox.received:,} .eml files)"
        )
    return summary.to_json()
