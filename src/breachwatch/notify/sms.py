"""SMS length: GSM-7 (with its extension table) or UCS-2, in segments, as a handset bills it.

A text whose every character is in the GSM 03.38 default alphabet travels in 7-bit septets:
160 in one segment, 153 per segment once split (the user data header takes 7). The characters
of the extension table (``^ { } [ ] ~ | \\ €`` and form feed) take two septets (escape + char)
and are never split across segments. One character outside both tables (``ê``, ``ç``, an emoji)
sends the whole text as UCS-2: 70 UTF-16 units in one segment, 67 per segment; a character
beyond the BMP (most emoji) is two units, never split.

French loses little by writing ``ê ç â ô î û œ`` and typographic quotes without their accent
(``transliterate``): the notice then stays GSM-7, so 2 segments hold 306 characters instead of
134.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("\x0c^{}\\[~]|€")
MAX_SEGMENTS = 2

_TRANSLITERATION = str.maketrans(
    {
        "ê": "e",
        "ë": "e",
        "â": "a",
        "î": "i",
        "ï": "i",
        "ô": "o",
        "û": "u",
        "ÿ": "y",
        "ç": "c",
        "À": "A",
        "Â": "A",
        "È": "E",
        "Ê": "E",
        "Ë": "E",
        "Î": "I",
        "Ï": "I",
        "Ô": "O",
        "Û": "U",
        "Ù": "U",
        "œ": "oe",
        "Œ": "OE",
        "’": "'",
        "‘": "'",
        "“": '"',
        "”": '"',
        "«": '"',
        "»": '"',
        "–": "-",
        "—": "-",
        "…": "...",
        "\u00a0": " ",
        "\u202f": " ",
    }
)


@dataclass(frozen=True)
class SmsLength:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def is_gsm7(text: str) -> bool:
    return all(c in GSM_BASIC or c in GSM_EXTENSION for c in text)


def measure(text: str) -> SmsLength:
    if is_gsm7(text):
        sizes = [2 if c in GSM_EXTENSION else 1 for c in text]
        return SmsLength("GSM-7", sum(sizes), _segments(sizes, single=160, part=153))
    sizes = [2 if ord(c) > 0xFFFF else 1 for c in text]
    return SmsLength("UCS-2", sum(sizes), _segments(sizes, single=70, part=67))


def _segments(sizes: list[int], *, single: int, part: int) -> int:
    total = sum(sizes)
    if total == 0:
        return 1
    if total <= single:
        return 1
    segments, used = 1, 0
    for size in sizes:  # an escape pair or a surrogate pair never straddles two segments
        if used + size > part:
            segments, used = segments + 1, 0
        used += size
    return segments


def transliterate(text: str) -> str:
    """The text with French accents outside GSM-7 dropped, when that makes it all GSM-7;
    otherwise (an emoji, a non-Latin script) the text unchanged."""
    plain = text.translate(_TRANSLITERATION)
    return plain if is_gsm7(plain) else text


def fits(text: str, max_segments: int = MAX_SEGMENTS) -> bool:
    return measure(text).segments <= max_segments


def shortest_fitting(candidates: list[str], max_segments: int = MAX_SEGMENTS) -> str:
    """The first candidate (most complete first) that fits once transliterated; the last one,
    cut, if none does."""
    for text in candidates:
        plain = transliterate(text)
        if fits(plain, max_segments):
            return plain
    return _cut(transliterate(candidates[-1]), max_segments)


def _cut(text: str, max_segments: int) -> str:
    suffix = "..." if is_gsm7(text) else "…"
    while text and not fits(text + suffix, max_segments):
        text = text[:-1]
    return text.rstrip() + suffix
