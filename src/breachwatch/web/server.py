"""Running the app with Uvicorn (``breachwatch serve``)."""

from __future__ import annotations

import os
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from breachwatch.errors import UsageError
from breachwatch.settings import load_settings
from breachwatch.store.workspace import workspace_id


def app_from_env() -> FastAPI:
    """Factory for Uvicorn's worker processes: the workspace comes from BREACHWATCH_HOME."""
    from breachwatch.web.app import create_app

    return create_app(load_settings(None))


def run(workspace: Path | None, host: str, port: int, workers: int) -> None:
    settings = load_settings(workspace)
    home = Path(settings["home"])
    workspace_id(home)  # a clear error outside a workspace
    os.environ["BREACHWATCH_HOME"] = str(home)
    if workers > 1 and not settings["redis_url"]:
        raise UsageError(
            "--workers above 1 needs redis_url (BREACHWATCH_REDIS_URL): without it each process "
            "would keep its own rate-limit counters"
        )
    if workers > 1:
        uvicorn.run(
            "breachwatch.web.server:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            access_log=False,
        )
    else:
        from breachwatch.web.app import create_app

        uvicorn.run(
            create_app(settings), host=host, port=port, log_level="warning", access_log=False
        )
