"""Authenticity codes: the phishing check's format, keyed, verifiable, bound to the recipient."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from breachwatch.notify.codes import (
    OutboxCodeVerifier,
    format_code,
    issue_code,
    parse_code,
)
from breachwatch.notify.keys import create_keys, load_keys
from breachwatch.phishing.codes import CodeVerifier, find_codes
from breachwatch.phishing.engine import check_message
from tests.conftest import _isolate

from .campaigns import make_home, plan

PEOPLE = 60
CODE_FORMAT = re.compile(r"BW-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}")


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as env:
        _isolate(env, tmp_path_factory.mktemp("config"))
        home, settings = make_home(tmp_path_factory.mktemp("codes"), PEOPLE)
        plan(home)
    yield settings


@pytest.fixture
def verifier(planned: dict[str, Any]) -> Iterator[OutboxCodeVerifier]:
    checker = OutboxCodeVerifier(planned)
    yield checker
    checker.close()


def test_codes_have_the_phishing_checks_format(planned: dict[str, Any]) -> None:
    keys = load_keys(planned)
    codes = {issue_code(keys, 1, 1000 + i) for i in range(PEOPLE)}
    assert len(codes) == PEOPLE
    for code in codes:
        assert CODE_FORMAT.fullmatch(code)
        (found,) = find_codes(f"Votre code : {code}.")
        assert found.well_formed and found.normalised == code
        assert format_code(parse_code(code) or 0) == code


def test_issued_codes_verify(planned: dict[str, Any], verifier: OutboxCodeVerifier) -> None:
    keys = load_keys(planned)
    for i in range(PEOPLE):
        assert verifier.verify(issue_code(keys, 1, 1000 + i), None)


def test_retyped_letters_are_read_as_crockford_says(
    planned: dict[str, Any], verifier: OutboxCodeVerifier
) -> None:
    code = next(
        c for i in range(PEOPLE) if "1" in (c := issue_code(load_keys(planned), 1, 1000 + i))
    )
    assert verifier.verify(code.lower().replace("1", "l"), None)


def test_forgeries_fail(planned: dict[str, Any], verifier: OutboxCodeVerifier) -> None:
    keys = load_keys(planned)
    genuine = issue_code(keys, 1, 1000)
    forged = [
        "BW-0000-0000-0000",
        genuine[:-1] + ("0" if genuine[-1] != "0" else "1"),  # one character changed
        issue_code(keys, 1, 999_999),  # a person who is not in the campaign
        issue_code(keys, 2, 1000),  # a campaign that does not exist
        "BW-ABCD-EFGH",  # wrong shape
        "BW-ABCD-EFGH-IJKU",  # U is not Crockford
    ]
    for code in forged:
        assert not verifier.verify(code, None), code
    # A key of the same shape made elsewhere issues nothing that verifies here.
    other = create_keys({**planned, "notify_key_file": str(Path(planned["home"]).parent / "k2")})
    assert not verifier.verify(issue_code(other, 1, 1000), None)


def test_a_code_is_bound_to_its_recipient(
    planned: dict[str, Any], verifier: OutboxCodeVerifier
) -> None:
    code = issue_code(load_keys(planned), 1, 1000)  # person P0: p0@example.net, +33600000000
    assert verifier.verify(code, "p0@example.net")
    assert verifier.verify(code, "Person <P0@Example.NET>")
    assert verifier.verify(code, "+33 6 00 00 00 00")
    # A scammer pasting P0's genuine code into a message to someone else:
    assert not verifier.verify(code, "p1@example.net")
    assert not verifier.verify(code, "06 00 00 00 01")
    assert verifier.check(code, "p1@example.net").campaign == "c1"


def test_the_phishing_check_uses_the_verifier(
    planned: dict[str, Any], verifier: OutboxCodeVerifier
) -> None:
    checker: CodeVerifier = verifier  # the protocol the phishing engine accepts
    code = issue_code(load_keys(planned), 1, 1000)
    text = f"France Travail : vos donnees ont fuite. Code d'authenticite : {code}"
    genuine = check_message(text, kind="sms", verifier=checker, recipient="p0@example.net")
    forged = check_message(text.replace(code, "BW-0000-0000-0000"), kind="sms", verifier=checker)
    assert "code_valid" in {r.code for r in genuine.reasons}
    assert forged.verdict == "phishing"
