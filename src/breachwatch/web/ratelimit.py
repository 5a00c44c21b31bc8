"""Rate limits with the ``limits`` library: in memory by default, Redis when configured.

With Redis every server process draws from the same counters, so starting more processes does
not multiply what one client may do. Moving windows: no burst at a window edge.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse_many
from limits.errors import ConfigurationError
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from breachwatch.errors import ConfigError


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds until the tightest exhausted window frees a slot
    scope: str = ""


class Limits:
    def __init__(self, settings: dict[str, Any], namespace: str) -> None:
        # One namespace per deployment (the workspace id): its server processes share counters,
        # other deployments on the same Redis do not.
        self.namespace = namespace
        url = str(settings.get("redis_url") or "") or "memory://"
        try:
            storage = storage_from_string(url)
        except (ConfigurationError, ValueError) as exc:
            raise ConfigError(f"redis_url {url!r}: {exc}") from None
        if not isinstance(storage, Storage):
            raise ConfigError(f"redis_url {url!r}: an asynchronous storage cannot be used here")
        self.storage = storage
        self.url = url
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.rules: dict[str, list[RateLimitItem]] = {}
        for scope in ("ip", "identifier", "global"):
            self.rules[scope] = _parse(settings, f"selfcheck_limit_{scope}")
        self.rules["login"] = _parse(settings, "ops_login_limit_ip")

    @property
    def shared(self) -> bool:
        return not self.url.startswith("memory://")

    def hit(self, scope: str, key: str, *, cost: int = 1) -> Verdict:
        return self.hit_items(self.rules[scope], scope, key, cost=cost)

    def hit_items(
        self, items: list[RateLimitItem], scope: str, key: str, *, cost: int = 1
    ) -> Verdict:
        for item in items:
            if not self.limiter.hit(item, self.namespace, scope, key, cost=cost):
                stats = self.limiter.get_window_stats(item, self.namespace, scope, key)
                wait = max(1, math.ceil(stats.reset_time - time.time()))
                return Verdict(False, wait, scope)
        return Verdict(True)

    def remaining(self, item: RateLimitItem, scope: str, key: str) -> int:
        return int(self.limiter.get_window_stats(item, self.namespace, scope, key).remaining)

    def check_backend(self) -> None:
        if not self.storage.check():
            raise ConfigError(f"rate-limit storage {self.url} does not answer")


def _parse(settings: dict[str, Any], name: str) -> list[RateLimitItem]:
    text = str(settings[name])
    try:
        return list(parse_many(text))
    except ValueError as exc:
        raise ConfigError(f"setting {name}: {text!r} is not a rate limit ({exc})") from None
