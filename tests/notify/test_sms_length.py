"""SMS length in GSM-7 septets or UCS-2 units and segments, from checked-in vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from breachwatch.notify.sms import measure, shortest_fitting, transliterate

VECTORS = json.loads((Path(__file__).parent / "data" / "sms_segments.json").read_text("utf-8"))


@pytest.mark.parametrize("case", VECTORS, ids=lambda c: c.get("note", str(c["parts"])[:40]))
def test_segments(case: dict[str, Any]) -> None:
    text = "".join(chunk * times for chunk, times in case["parts"])
    length = measure(text)
    assert (length.encoding, length.units, length.segments) == (
        case["encoding"],
        case["units"],
        case["segments"],
    )


def test_french_accents_outside_gsm7_are_transliterated() -> None:
    assert transliterate("Sécurité : ça coûte 5 € « rien » – être prêt…") == (
        'Sécurité : ca coute 5 € " rien " - etre pret...'
    )
    assert measure(transliterate("Prêt ? Oui.")).encoding == "GSM-7"
    # An emoji cannot be written in GSM-7: the text is left as it is.
    assert transliterate("Prêt 🚨") == "Prêt 🚨"


def test_the_most_complete_fitting_candidate_wins() -> None:
    long, short = "ê" * 200, "Code BW-0000-0000-0000"
    assert shortest_fitting([long, short]) == "e" * 200  # transliterated: 200 septets fit
    assert shortest_fitting(["🚨" * 200, short]) == short
    cut = shortest_fitting(["🚨" * 200])
    assert measure(cut).segments == 2 and cut.endswith("…")
