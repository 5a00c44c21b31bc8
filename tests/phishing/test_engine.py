"""The verdict rule, the authenticity codes, parsing, the configuration and the public API."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import breachwatch.phishing as phishing
from breachwatch.errors import ConfigError
from breachwatch.phishing import CheckResult, MessageInputError, check_message, load_config
from breachwatch.phishing.codes import normalise_code
from breachwatch.phishing.config import PhishingConfig

from .helpers import HmacCodeVerifier, issue_code

PHONE = "+33639980001"


def _codes(result: CheckResult) -> list[str]:
    return [r.code for r in result.reasons]


# --- verdict rule -----------------------------------------------------------------------------


def test_ordinary_message_is_genuine_with_no_reason() -> None:
    result = check_message("Salut, on se voit à 18h chez Paul ?")
    assert (result.verdict, result.score, result.reasons, result.verified) == (
        "genuine",
        0,
        (),
        False,
    )


def test_thresholds_come_from_the_configuration(config: PhishingConfig) -> None:
    text = "URGENT : des frais de 1,99 € sont à régler"  # urgency 15 + payment 25 = 40
    assert check_message(text, config=config).verdict == "suspicious"
    strict = dataclasses.replace(config, suspicious_at=20, phishing_at=40)
    assert check_message(text, config=strict).verdict == "phishing"
    lenient = dataclasses.replace(config, suspicious_at=60, phishing_at=90)
    assert check_message(text, config=lenient).verdict == "genuine"


def test_score_counts_each_code_once_and_stays_within_0_100() -> None:
    once = check_message("URGENT. urgent. Urgent !")
    assert once.score == 15 and [r.code for r in once.reasons] == ["lure_urgency"] * 3
    heavy = check_message(
        "France Travail URGENT : radiation sous 24h, réglez les frais, donnez votre RIB et votre "
        "mot de passe sur https://francetravail-aide.fr et http://10.0.0.1/x ou t.me/x"
    )
    assert heavy.score == 100 and heavy.verdict == "phishing"


def test_official_link_vouches_only_when_every_link_is_official() -> None:
    alone = check_message("Pensez à vous actualiser sur https://www.francetravail.fr")
    assert alone.verdict == "genuine" and "domain_official" in _codes(alone)
    mixed = check_message(
        "Actualisez-vous sur https://www.francetravail.fr ou https://promo.example/ft, urgent"
    )
    # the message names francetravail (in its own link) and also links elsewhere: no trust
    assert mixed.score == 30 + 15 and "link_not_official" in _codes(mixed)


def test_reasons_are_ordered_critical_first_and_trust_last() -> None:
    result = check_message("URGENT https://francetravail-aide.fr/x et https://www.francetravail.fr")
    severities = [r.severity for r in result.reasons]
    assert severities[0] == "critical" and severities[-1] == "trust"


# --- authenticity codes -----------------------------------------------------------------------


def test_valid_code_makes_a_message_genuine_and_verified(verifier: HmacCodeVerifier) -> None:
    code = issue_code(PHONE, 77)
    text = f"France Travail : URGENT, vos données ont fuité. Code {code}"
    result = check_message(text, verifier=verifier, recipient=PHONE)
    assert result.verdict == "genuine" and result.verified and result.score == 0
    assert "code_valid" in _codes(result)


def test_valid_code_with_a_look_alike_link_is_phishing(verifier: HmacCodeVerifier) -> None:
    code = issue_code(PHONE, 78)
    text = f"France Travail. Code {code}. Vérifiez vos droits : https://francetravail-aide.fr/x"
    result = check_message(text, verifier=verifier, recipient=PHONE)
    assert result.verdict == "phishing" and not result.verified
    assert {"code_valid", "domain_added_words"} <= set(_codes(result))


def test_code_of_someone_else_is_invalid(verifier: HmacCodeVerifier) -> None:
    code = issue_code("+33639980099", 79)
    result = check_message(f"France Travail. Code {code}", verifier=verifier, recipient=PHONE)
    assert result.verdict == "phishing" and "code_invalid" in _codes(result)


def test_code_without_recipient_checks_the_issuer_only(verifier: HmacCodeVerifier) -> None:
    code = issue_code("+33639980099", 80)
    assert check_message(f"Code {code}", verifier=verifier).verdict == "genuine"
    forged = code[:-4] + ("AAAA" if not code.endswith("AAAA") else "BBBB")
    assert verifier.verify(forged, None)  # the recipient tag is not checked without a recipient
    forged_issuer = code[:8] + "0000" + code[12:]
    assert check_message(f"Code {forged_issuer}", verifier=verifier).verdict == "phishing"


def test_email_recipient_comes_from_to_header(verifier: HmacCodeVerifier) -> None:
    code = issue_code("bob@example.org", 81)
    raw = (
        "From: France Travail <ne-pas-repondre@francetravail.fr>\nTo: Bob <bob@example.org>\n"
        f"Subject: Vos données\n\nCode d'authenticité {code}\n"
    )
    assert check_message(raw, verifier=verifier).verified
    assert check_message(raw.replace("bob@", "eve@"), verifier=verifier).verdict == "phishing"


def test_crockford_normalisation() -> None:
    assert normalise_code("bw-o1il-abcd-efgh") == "BW-0111-ABCD-EFGH"


def test_a_verifier_is_called_with_the_normalised_code() -> None:
    seen: list[tuple[str, str | None]] = []

    class Recording:
        def verify(self, code: str, recipient: str | None) -> bool:
            seen.append((code, recipient))
            return False

    check_message("code bw-abcd-efgh-jkmo", verifier=Recording(), recipient="x@example.org")
    assert seen == [("BW-ABCD-EFGH-JKM0", "x@example.org")]


# --- parsing ----------------------------------------------------------------------------------


def test_auto_detects_emails_and_sms() -> None:
    assert check_message("Info: votre colis arrive demain").kind == "sms"
    assert check_message("From: a@example.org\nSubject: hi\n\nbody").kind == "email"
    assert check_message(b"From: a@example.org\r\nSubject: hi\r\n\r\nbody").kind == "email"
    assert check_message("no headers at all", kind="email").kind == "email"


def test_base64_html_part_is_decoded_and_links_read() -> None:
    html = "<p>Votre dossier sera <b>suspendu</b> : <a href='https://francetravail-aide.fr/x'>ici</a></p>"
    raw = (
        "From: France Travail <x@francetravail-aide.fr>\nSubject: =?utf-8?q?R=C3=A9gularisation?=\n"
        "MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n"
        "Content-Transfer-Encoding: base64\n\n" + base64.b64encode(html.encode()).decode() + "\n"
    )
    result = check_message(raw.encode())
    assert result.fields["subject"] == "Régularisation"
    assert "suspendu" in result.fields["body"] and "<b>" not in result.fields["body"]
    assert {"lure_threat", "domain_added_words"} <= set(_codes(result))
    url = next(
        r for r in result.reasons if r.code == "domain_added_words" and r.pointer.field == "url"
    )
    assert url.pointer.excerpt == "https://francetravail-aide.fr/x"


def test_pasted_8bit_email_without_charset_is_read_as_utf8() -> None:
    raw = "Subject: Info\nFrom: Pôle emploi <x@pole-emploi-aide.example>\n\nRéglez les frais."
    result = check_message(raw.encode())
    assert result.fields["body"] == "Réglez les frais."
    assert {"display_name_spoof", "lure_payment"} <= set(_codes(result))
    cp1252 = "From: x@shop.example\nSubject: Promo\n\nR\xe9glez les frais.".encode("cp1252")
    assert check_message(cp1252).fields["body"] == "Réglez les frais."


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "empty"),
        (b"   \n", "empty"),
        (b"\x00\x01binary", "binary"),
        (b"caf\xe9 cr\xe8me", "not UTF-8"),
    ],
)
def test_unreadable_messages_raise_a_clear_error(data: str | bytes, message: str) -> None:
    with pytest.raises(MessageInputError, match=message) as raised:
        check_message(data)
    assert raised.value.exit_code == 2


def test_unknown_kind_is_an_error() -> None:
    with pytest.raises(MessageInputError, match="kind"):
        check_message("x", kind="fax")  # type: ignore[arg-type]


# --- result and configuration -----------------------------------------------------------------


def test_to_json_round_trips_through_json() -> None:
    result = check_message("URGENT : https://francetravail-aide.fr")
    data = json.loads(json.dumps(result.to_json()))
    assert set(data) == {"verdict", "score", "kind", "verified", "reasons"}
    reason = data["reasons"][0]
    assert set(reason) >= {
        "code",
        "severity",
        "weight",
        "field",
        "excerpt",
        "start",
        "end",
        "message",
    }
    assert set(reason["message"]) == {"fr", "en"}
    assert "fields" in result.to_json(with_fields=True)


def test_configuration_override(tmp_path: Path) -> None:
    override = tmp_path / "phishing.toml"
    override.write_text(
        '[organisation]\nname = "Agence Exemple"\naliases = ["agence exemple"]\n'
        'domains = ["agence.example"]\nphone_numbers = ["3000"]\n',
        encoding="utf-8",
    )
    config = load_config(override)
    assert config.organisation.domains == ("agence.example",)
    assert config.shorteners  # keys not overridden keep the shipped values
    ours = check_message("Agence Exemple : voir https://www.agence.example/x", config=config)
    assert "domain_official" in _codes(ours)
    fake = check_message("Agence Exemple : voir https://agence-example-aide.fr/x", config=config)
    assert fake.verdict == "phishing" and "domain_added_words" in _codes(fake)
    assert "domain_official" not in _codes(check_message("https://francetravail.fr", config=config))


def test_bad_configuration_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[scoring]\nsuspicious_at = 80\nphishing_at = 40\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="suspicious_at"):
        load_config(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("[organisation\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config(broken)


def test_exported_members_are_exactly_all() -> None:
    public = {name for name in dir(phishing) if not name.startswith("_")}
    assert set(phishing.__all__) <= public | set(phishing.__all__)
    for name in phishing.__all__:
        assert getattr(phishing, name).__module__.startswith("breachwatch.phishing")


# --- robustness -------------------------------------------------------------------------------

_PIECES = st.sampled_from(
    [
        "France Travail", "https://francetravail-aide.fr/x", "hxxp://evil[.]example",
        "06 39 98 01 58",
        "BW-044J-CTAT-VQHV", "From: a@example.org\n", "Subject: x\n\n", "<a href='x'>y</a>",
        "né le 01/02/1980", "URGENT", "frаncetravail.fr", "xn--", "@", "3949", "\r\n", "é", "\x00",
        "\ud800",
    ]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=20)), max_size=12))
def test_any_text_gives_a_result_or_a_clear_error(pieces: list[str]) -> None:
    text = "".join(pieces)
    for data in (text, text.encode("utf-8", "surrogatepass")):
        try:
            result = check_message(data)
        except MessageInputError:
            continue
        assert 0 <= result.score <= 100 and result.verdict in ("genuine", "suspicious", "phishing")
        for reason in result.reasons:
            pointer = reason.pointer
            if pointer.start is not None and pointer.end is not None:
                assert 0 <= pointer.start <= pointer.end <= len(result.fields[pointer.field])
