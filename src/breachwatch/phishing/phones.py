"""Phone numbers in a message: premium-rate, look-alikes of ours, call-backs to a mobile.

Numbers are read in the French plan (the agency's people): 06/07 are mobiles, 089x premium rate.
Short codes (``3949``) are only read as numbers after a word that asks to call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEP = r"[ .\-\u00a0]?"
PHONE_RE = re.compile(
    rf"(?<![\w+])(?:(?:\+|00){_SEP}33{_SEP}(?:\(0\){_SEP})?|0)[1-9](?:{_SEP}\d{{2}}){{4}}(?!\d)"
    rf"|(?<![\w+])\+(?!33)\d{{1,3}}{_SEP}\d(?:{_SEP}?\d){{6,12}}(?!\d)"
)
_CALL_WORDS = (
    r"appel\w*|rappel\w*|compos\w*|contact\w*|joign\w*|telephon\w*|ecri\w*|whatsapp|sms"
    r"|call\w*|phone|ring|text|dial|reach|numero|number|tel\.?|au|le|on"
)
# French short numbers for services start with 3 (3949, 3646); years and amounts do not.
SHORT_CODE_RE = re.compile(rf"\b(?:{_CALL_WORDS})\s*:?\s*(?P<code>3\d(?:\s?\d){{2}})(?![\d,.]\d)")
_CALLBACK_WORDS = (
    r"appel\w*|rappel\w*|compos\w*|contact\w*|joign\w*|telephon\w*|ecri\w*|whatsapp|sms"
    r"|repond\w*|call\w*|phone|ring|text\w*|dial|reach|reply|message"
)
CALLBACK_RE = re.compile(rf"\b(?:{_CALLBACK_WORDS})\b[^.!?\n]{{0,40}}$")


@dataclass(frozen=True)
class FoundPhone:
    text: str
    digits: str
    start: int
    end: int
    short: bool = False

    @property
    def national(self) -> str:
        """``0612345678`` for every way of writing it; short codes as written."""
        if self.short:
            return self.digits
        digits = self.digits.removeprefix("00")
        if digits.startswith("33") and len(digits) >= 11:
            return "0" + digits[2:].removeprefix("0")
        return digits

    @property
    def is_mobile(self) -> bool:
        return self.national.startswith(("06", "07")) and len(self.national) == 10

    @property
    def is_premium(self) -> bool:
        return self.national.startswith("089") and len(self.national) == 10


def find_phones(text: str, folded: str) -> list[FoundPhone]:
    found = [
        FoundPhone(m.group(), _digits(m.group()), m.start(), m.end())
        for m in PHONE_RE.finditer(text)
    ]
    taken = [(p.start, p.end) for p in found]
    for m in SHORT_CODE_RE.finditer(folded):
        start, end = m.span("code")
        if not any(a <= start < b for a, b in taken):
            found.append(FoundPhone(text[start:end], _digits(m.group("code")), start, end, True))
    return found


def asks_to_call(folded: str, phone: FoundPhone) -> bool:
    """A word that asks to call or write back, shortly before the number in the same sentence."""
    return CALLBACK_RE.search(folded, max(0, phone.start - 60), phone.start) is not None


def lookalike_of(phone: FoundPhone, official: tuple[str, ...]) -> str | None:
    """The official number this one imitates: one digit off, two neighbours swapped, or ours
    with a few digits around it."""
    number = phone.national
    if number in official:
        return None
    for ours in official:
        if len(number) == len(ours) and _one_typo(number, ours):
            return ours
        if len(ours) >= 4 and ours in number and len(number) <= len(ours) + 6:
            return ours
    return None


def _one_typo(number: str, ours: str) -> bool:
    diffs = [i for i, (a, b) in enumerate(zip(number, ours, strict=True)) if a != b]
    if len(diffs) == 1:
        return True
    return (
        len(diffs) == 2
        and diffs[1] == diffs[0] + 1
        and number[diffs[0]] == ours[diffs[1]]
        and number[diffs[1]] == ours[diffs[0]]
    )


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())
