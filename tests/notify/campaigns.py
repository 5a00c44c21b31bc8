"""Helpers of the campaign tests: a fabricated workspace, settings, and a campaign taken through
plan → preview → test send → approval."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from breachwatch.notify import campaign as campaigns
from breachwatch.notify import review
from breachwatch.notify.plan import PlanSummary, plan_campaign
from breachwatch.settings import load_settings
from breachwatch.store.workspace import (
    default_key_file,
    init_workspace,
    open_workspace,
    workspace_id,
)

from .fabricate import LEAK, fabricate

PLANNER, APPROVER = "alice", "bob"
SEED = "seed@example.org"


def write_settings(home: Path, **values: Any) -> dict[str, Any]:
    lines = ["[settings]"]
    for name, value in values.items():
        if isinstance(value, bool):
            lines.append(f"{name} = {'true' if value else 'false'}")
        elif isinstance(value, int):
            lines.append(f"{name} = {value}")
        else:
            lines.append(f'{name} = "{value}"')
    (home / "breachwatch.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_settings(home)


def base_settings(smtp: Any = None, sms: Any = None, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "notify_lease_seconds": 3,
        "notify_retry_seconds": 1,
        "notify_retry_max_seconds": 2,
        "smtp_timeout": 2,
        "sms_timeout": 1,
    }
    if smtp is not None:
        values |= {"smtp_host": smtp.host, "smtp_port": smtp.port}
    if sms is not None:
        values |= {"sms_url": sms.url, "sms_api_key": "test-key"}
    return values | extra


def make_home(root: Path, people: int, **settings: Any) -> tuple[Path, dict[str, Any]]:
    """A workspace of ``people`` fabricated affected people; both key files are pinned in its
    settings, so that a module-scoped workspace outlives the per-test XDG_CONFIG_HOME."""
    home = init_workspace(root / "ws")
    pinned = {
        "key_file": str(default_key_file(workspace_id(home))),
        "notify_key_file": str(root / "keys" / "notify.key"),
        "notify_language_column": "langue",
    }
    values = write_settings(home, **pinned, **settings)
    with open_workspace(home) as ws:
        fabricate(ws, people)
    return home, values


def plan(home: Path, name: str = "c1", **options: Any) -> PlanSummary:
    with open_workspace(home) as ws:
        return plan_campaign(ws, breach=LEAK, name=name, operator=PLANNER, **options)


def approve(settings: dict[str, Any], name: str = "c1", seeds: list[str] | None = None) -> None:
    """Preview, a test send to a seed address, and a second operator's approval."""
    review.preview(settings, name, None, PLANNER)
    result = review.send_to_seeds(settings, name, seeds or [SEED], PLANNER)
    assert result.sent and not result.failed
    campaigns.approve(settings, name, APPROVER)
