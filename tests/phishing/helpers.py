"""A real authenticity-code scheme for the tests (the notification capability will own the real
one): ``BW-SSSS-TTTT-RRRR`` where SSSS is a serial, TTTT an HMAC tag of the serial (the code was
issued by us) and RRRR an HMAC tag of serial and recipient (it was issued to this person).

The evaluation set's genuine notices carry codes issued with ``EVAL_KEY``.
"""

from __future__ import annotations

import hashlib
import hmac

from breachwatch.phishing.codes import CROCKFORD

EVAL_KEY = b"breachwatch evaluation set - test key, not a secret"


def _base32(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 32)
        chars.append(CROCKFORD[digit])
    return "".join(reversed(chars))


def _tag(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()
    return _base32(int.from_bytes(digest[:4], "big"), 4)


def normalise_recipient(recipient: str) -> str:
    compact = "".join(recipient.split()).lower()
    if compact.startswith("+33"):
        compact = "0" + compact[3:]
    return compact


def issue_code(recipient: str, serial: int, key: bytes = EVAL_KEY) -> str:
    head = _base32(serial, 4)
    issued = _tag(key, f"code|{head}")
    bound = _tag(key, f"rcpt|{head}|{normalise_recipient(recipient)}")
    return f"BW-{head}-{issued}-{bound}"


class HmacCodeVerifier:
    """Checks the issuer's tag always, and the recipient's tag when the recipient is known."""

    def __init__(self, key: bytes = EVAL_KEY) -> None:
        self.key = key

    def verify(self, code: str, recipient: str | None) -> bool:
        parts = code.upper().split("-")
        if len(parts) != 4 or parts[0] != "BW":
            return False
        _, head, issued, bound = parts
        if not hmac.compare_digest(issued, _tag(self.key, f"code|{head}")):
            return False
        if recipient is None:
            return True
        expected = _tag(self.key, f"rcpt|{head}|{normalise_recipient(recipient)}")
        return hmac.compare_digest(bound, expected)
