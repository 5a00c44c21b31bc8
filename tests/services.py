"""Addresses of the real services tests need; skip without them, fail in CI (where
BREACHWATCH_REQUIRE_SERVICES=1) so that a missing service cannot pass silently."""

from __future__ import annotations

import os

import pytest


def _require(name: str, probe: str) -> str:
    url = os.environ.get(name, "")
    reason = f"{name} is not set" if not url else ""
    if url:
        try:
            _probe(probe, url)
        except Exception as exc:  # noqa: BLE001 - any failure to connect means "not available"
            reason = f"{name}={url} does not answer: {exc}"
    if reason:
        if os.environ.get("BREACHWATCH_REQUIRE_SERVICES") == "1":
            pytest.fail(f"required service missing: {reason}")
        pytest.skip(reason)
    return url


def _probe(kind: str, url: str) -> None:
    if kind == "redis":
        import redis

        redis.Redis.from_url(url, socket_timeout=2).ping()
    elif kind == "postgres":
        import psycopg

        psycopg.connect(url, connect_timeout=2).close()


def redis_url() -> str:
    return _require("BREACHWATCH_REDIS_URL", "redis")


def pg_dsn() -> str:
    return _require("BREACHWATCH_PG_DSN", "postgres")
