"""Every reason the check can give, fired and not fired, from checked-in vectors.

``tests/data/phishing/signals.jsonl`` holds, for each reason code, messages where it must fire
("present") and near-misses where it must not ("absent"); a code without both fails the suite.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from breachwatch.phishing import check_message
from breachwatch.phishing.config import PhishingConfig, load_reasons

from .conftest import DATA
from .helpers import HmacCodeVerifier

VECTORS: list[dict[str, Any]] = [
    json.loads(line)
    for line in (DATA / "signals.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]


def test_every_reason_has_a_positive_and_a_negative_vector() -> None:
    for code in load_reasons():
        expectations = {v["expect"] for v in VECTORS if v["code"] == code}
        assert expectations == {"present", "absent"}, f"{code}: vectors {expectations}"


def test_every_vector_names_a_known_reason() -> None:
    known = set(load_reasons())
    assert {v["code"] for v in VECTORS} <= known


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_signal(vector: dict[str, Any], config: PhishingConfig) -> None:
    if vector.get("trusted_authserv_ids"):
        config = dataclasses.replace(
            config, trusted_authserv_ids=tuple(vector["trusted_authserv_ids"])
        )
    result = check_message(
        vector["text"],
        kind=vector["kind"],
        config=config,
        verifier=HmacCodeVerifier() if vector.get("verifier") else None,
        recipient=vector.get("recipient"),
        sender=vector.get("sender"),
    )
    found = [r for r in result.reasons if r.code == vector["code"]]
    if vector["expect"] == "absent":
        assert not found, [r.to_json() for r in found]
        return
    assert found, [r.code for r in result.reasons]
    reason = found[0]
    assert reason.message("fr") and reason.message("en") and reason.message_fr != reason.message_en
    if "field" in vector:
        assert reason.pointer.field == vector["field"]
    if "excerpt" in vector:
        assert reason.pointer.excerpt == vector["excerpt"]
    if "verdict" in vector:
        assert result.verdict == vector["verdict"], [r.code for r in result.reasons]


@pytest.mark.parametrize("vector", VECTORS[:60], ids=[v["id"] for v in VECTORS[:60]])
def test_spans_point_at_the_excerpt(vector: dict[str, Any]) -> None:
    result = check_message(vector["text"], kind=vector["kind"], sender=vector.get("sender"))
    for reason in result.reasons:
        pointer = reason.pointer
        if pointer.start is not None and pointer.end is not None:
            text = result.fields[pointer.field]
            assert text[pointer.start : pointer.end].startswith(pointer.excerpt.rstrip("…"))
