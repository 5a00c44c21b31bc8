"""Accent- and case-folding that keeps every character in place, so spans stay valid."""

from __future__ import annotations

import unicodedata

# One character in, one character out: a match found in the folded text has the same span in
# the original, which is what a reason points at.
_SPACES = "\u00a0\u2007\u202f\u2009\u200a\u2002\u2003"
_APOSTROPHES = "\u2019\u2018\u02bc\u00b4\u2032`"
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2212"


def _fold_char(char: str) -> str:
    base = unicodedata.normalize("NFKD", char)[:1].lower()
    if base.isascii() and base.isalnum():
        return base
    lowered = char.lower()
    return lowered if len(lowered) == 1 else char


def _table() -> dict[int, str]:
    table = {code: _fold_char(chr(code)) for code in range(0x41, 0x250)}
    table.update({ord(c): " " for c in _SPACES})
    table.update({ord(c): "'" for c in _APOSTROPHES})
    table.update({ord(c): "-" for c in _DASHES})
    return {code: out for code, out in table.items() if out != chr(code)}


FOLD_TABLE = _table()


def fold(text: str) -> str:
    """Lower-case, accents stripped, typographic apostrophes, spaces and dashes made plain."""
    return text.translate(FOLD_TABLE)
