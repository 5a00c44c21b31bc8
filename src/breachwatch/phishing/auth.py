"""SPF, DKIM and DMARC results as the receiving server wrote them in ``Authentication-Results``.

The check never queries DNS itself: it reads what the person's own mail server concluded when the
message arrived (RFC 8601). Anyone can add such a header before sending, so only the headers of
configured servers are read (``trusted_authserv_ids``), or else the topmost one, which the last
receiving server added.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RESULT_RE = re.compile(r"\b(spf|dkim|dmarc)\s*=\s*([a-z]+)([^;]*)", re.I)
_PROPERTY_RE = re.compile(
    r"\b(header\.from|header\.d|header\.i|smtp\.mailfrom)\s*=\s*([^\s;]+)", re.I
)


@dataclass(frozen=True)
class AuthResult:
    method: str
    result: str
    domain: str

    @property
    def passed(self) -> bool:
        return self.result == "pass"


def read_results(headers: list[str], trusted_ids: tuple[str, ...]) -> list[AuthResult]:
    chosen = [h for h in headers if _authserv_id(h) in trusted_ids] if trusted_ids else headers[:1]
    return [result for header in chosen for result in _results(header)]


def _authserv_id(header: str) -> str:
    return header.split(";", 1)[0].strip().split()[0].lower() if header.strip() else ""


def _results(header: str) -> list[AuthResult]:
    _, _, rest = header.partition(";")
    found = []
    for method, result, props in _RESULT_RE.findall(rest):
        domain = ""
        for name, value in _PROPERTY_RE.findall(props):
            if not domain or name.lower() == "header.from":
                domain = value.strip("<>\"'").rpartition("@")[2].lower()
        found.append(AuthResult(method.lower(), result.lower(), domain))
    return found
