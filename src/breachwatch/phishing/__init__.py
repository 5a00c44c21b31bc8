"""Phishing vigilance (capability C8): is this SMS or e-mail genuine?

``check_message`` is the whole public engine: offline, pure, a verdict with pointed reasons.
The names below load on first use, so that ``breachwatch`` commands that never check a message
do not pay for the look-alike tables' imports (dnstwist, the Public Suffix List).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from breachwatch.phishing.codes import CodeVerifier, normalise_code
    from breachwatch.phishing.config import Brand, PhishingConfig, load_config
    from breachwatch.phishing.engine import Checker, check_message
    from breachwatch.phishing.message import MessageInputError
    from breachwatch.phishing.result import CheckResult, Pointer, Reason

_EXPORTS = {
    "Brand": "config",
    "CheckResult": "result",
    "Checker": "engine",
    "CodeVerifier": "codes",
    "MessageInputError": "message",
    "PhishingConfig": "config",
    "Pointer": "result",
    "Reason": "result",
    "check_message": "engine",
    "load_config": "config",
    "normalise_code": "codes",
}
__all__ = [
    "Brand",
    "CheckResult",
    "Checker",
    "CodeVerifier",
    "MessageInputError",
    "PhishingConfig",
    "Pointer",
    "Reason",
    "check_message",
    "load_config",
    "normalise_code",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'breachwatch.phishing' has no attribute {name!r}")
    return getattr(importlib.import_module(f"breachwatch.phishing.{_EXPORTS[name]}"), name)
