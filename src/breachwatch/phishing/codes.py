"""Authenticity codes printed in genuine notices: ``BW-XXXX-XXXX-XXXX``, Crockford base32.

The notification capability issues the codes and owns the secret that proves them; the check only
finds a code in a message and asks a ``CodeVerifier``. Crockford's alphabet has no I, L, O or U;
when a person retypes a code, I and L are read as 1 and O as 0, as Crockford specifies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RETYPED = str.maketrans({"I": "1", "L": "1", "O": "0"})
# Anything that starts like one of our codes is a candidate: a scammer imitating the format with
# a wrong length or a letter outside the alphabet is a false code, not "no code".
CANDIDATE_RE = re.compile(r"(?<![\w/.=-])BW-[0-9A-Z]{2,6}(?:-[0-9A-Z]{2,6}){1,4}(?![\w-])", re.I)
_WELL_FORMED_RE = re.compile(rf"BW-[{CROCKFORD}]{{4}}-[{CROCKFORD}]{{4}}-[{CROCKFORD}]{{4}}")


class CodeVerifier(Protocol):
    """Checks that a code was issued (for ``recipient``, when the caller knows who received it)."""

    def verify(self, code: str, recipient: str | None) -> bool: ...


@dataclass(frozen=True)
class FoundCode:
    text: str
    normalised: str
    start: int
    end: int

    @property
    def well_formed(self) -> bool:
        return _WELL_FORMED_RE.fullmatch(self.normalised) is not None


def normalise_code(code: str) -> str:
    """Upper-case, with the letters a person may type for 1 and 0 read as Crockford says."""
    head, _, rest = code.strip().upper().partition("-")
    return f"{head}-{rest.translate(_RETYPED)}"


def find_codes(text: str) -> list[FoundCode]:
    return [
        FoundCode(m.group(), normalise_code(m.group()), m.start(), m.end())
        for m in CANDIDATE_RE.finditer(text)
    ]
