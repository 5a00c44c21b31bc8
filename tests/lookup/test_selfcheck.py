"""The self-check page: same answer for members and non-members, the result by e-mail only,
rate limits, accessibility basics. In-process app, real SMTP server."""

from __future__ import annotations

import html
import statistics
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from breachwatch.web.app import create_app
from tests.lookup.conftest import Indexed
from tests.notify.servers import SmsProvider, SmtpServer


def _settings(indexed: Indexed, smtp: SmtpServer, **extra: Any) -> dict[str, Any]:
    """In-memory limits, fresh for each app: the tests here count requests exactly, so they
    must not share counters (in CI, BREACHWATCH_REDIS_URL would otherwise make them share
    one Redis namespace). Sharing through Redis is tested in test_partner.py."""
    settings = dict(indexed.settings())
    settings.update(smtp_host=smtp.host, smtp_port=smtp.port, redis_url="", **extra)
    return settings


@pytest.fixture
def client(indexed: Indexed, smtp_server: SmtpServer) -> Iterator[TestClient]:
    app = create_app(_settings(indexed, smtp_server, selfcheck_limit_ip="1000/minute"))
    with TestClient(app) as c:
        yield c


def _members(indexed: Indexed) -> list[dict[str, str]]:
    return [r for r in indexed.registry if r["id_personne"] in indexed.affected]


def _outsiders(indexed: Indexed) -> list[dict[str, str]]:
    return [r for r in indexed.registry if r["id_personne"] not in indexed.affected]


def _wait(client: TestClient) -> None:
    assert client.app.state.service.selfcheck.drain(30)  # type: ignore[attr-defined]


def test_member_and_non_member_get_the_same_page(
    client: TestClient, indexed: Indexed, smtp_server: SmtpServer
) -> None:
    member = _members(indexed)[0]["email"]
    stranger = "nobody.here@example.org"
    a = client.post("/check", data={"contact": member, "lang": "fr"})
    b = client.post("/check", data={"contact": stranger, "lang": "fr"})
    assert a.status_code == b.status_code == 200
    assert a.content == b.content
    assert {k: v for k, v in a.headers.items() if k != "date"} == {
        k: v for k, v in b.headers.items() if k != "date"
    }
    assert "un message est en route" in a.text
    assert member not in a.text
    _wait(client)
    mails = {m.rcpt_tos[0]: m.message for m in smtp_server.received}
    found = mails[member].get_body(("plain",)).get_content()
    missing = mails[stranger].get_body(("plain",)).get_content()
    assert "figurent dans la fuite" in found and "numéro de sécurité sociale" in found
    assert "aucune donnée" in missing
    for text in (found, missing):
        assert "http://" not in text and "https://" not in text  # no link asking for action


def test_nir_answer_goes_to_the_registry_contact(
    client: TestClient, indexed: Indexed, smtp_server: SmtpServer
) -> None:
    member = next(r for r in _members(indexed) if r["email"])
    outsider = _outsiders(indexed)[0]
    for row in (member, outsider):
        r = client.post(
            "/check",
            data={"nir": row["nir"], "birth_date": row["date_naissance"], "lang": "en"},
        )
        assert r.status_code == 200 and "a message is on its way" in r.text
    _wait(client)
    rcpts = [m.rcpt_tos[0] for m in smtp_server.received]
    assert rcpts == [member["email"].lower()]
    body = smtp_server.received[0].message.get_body(("plain",)).get_content()
    assert "social security number" in body  # English, as asked


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"contact": "not-an-address@"}, "adresse e-mail n'est pas valide"),
        ({"contact": "12"}, "numéro de téléphone n'est pas valide"),
        ({"nir": "123", "birth_date": "1990-01-01"}, "sécurité sociale ou cette date"),
        ({"nir": "171037572916606"}, "date de naissance"),
        ({}, "Indiquez une adresse"),
        ({"contact": "a@example.org", "nir": "1"}, "pas les deux"),
    ],
)
def test_bad_input_gets_a_clear_message(
    client: TestClient, data: dict[str, str], error: str
) -> None:
    r = client.post("/check", data={**data, "lang": "fr"})
    assert r.status_code == 400
    assert error in html.unescape(r.text)
    assert 'role="alert"' in r.text
    assert "<title>Erreur : " in r.text


def test_phone_check_goes_by_sms(
    indexed: Indexed, smtp_server: SmtpServer, sms_provider: SmsProvider
) -> None:
    settings = _settings(indexed, smtp_server, sms_url=sms_provider.url, sms_api_key="k")
    member = next(r for r in _members(indexed) if r["tel_portable"])
    with TestClient(create_app(settings)) as c:
        r = c.post("/check", data={"contact": member["tel_portable"], "lang": "fr"})
        assert r.status_code == 200
        _wait(c)
    (sms,) = sms_provider.requests
    assert sms.body["to"].startswith("+33")
    assert "agency-2026" in sms.body["text"]


def test_phone_check_refused_when_no_sms_provider(client: TestClient) -> None:
    r = client.post("/check", data={"contact": "06 12 34 56 78", "lang": "fr"})
    assert r.status_code == 400 and "pas disponible" in r.text


def test_enumeration_from_one_ip_is_cut_off(indexed: Indexed, smtp_server: SmtpServer) -> None:
    # The default is 10/minute per IP; a window of an hour keeps the count exact however long
    # 10,000 requests take on a busy machine.
    settings = _settings(indexed, smtp_server, selfcheck_limit_ip="10/hour")
    with TestClient(create_app(settings)) as c:
        codes = []
        for i in range(10_000):
            r = c.post("/check", data={"contact": f"guess{i}@example.org", "lang": "fr"})
            codes.append(r.status_code)
            if r.status_code == 429:
                assert int(r.headers["Retry-After"]) > 0
        _wait(c)
    assert codes.count(200) == 10
    assert codes.count(429) == 10_000 - 10
    assert len(smtp_server.received) == 10


def test_one_identifier_cannot_be_flooded(indexed: Indexed, smtp_server: SmtpServer) -> None:
    settings = _settings(indexed, smtp_server, selfcheck_limit_ip="1000/minute")
    with TestClient(create_app(settings)) as c:
        codes = [
            c.post("/check", data={"contact": "Victim@Example.org"}).status_code for _ in range(6)
        ]
        _wait(c)
    assert codes == [200, 200, 200, 429, 429, 429]  # 3/day per identifier, case-insensitive
    assert len(smtp_server.received) == 3


def test_response_time_does_not_depend_on_membership(client: TestClient, indexed: Indexed) -> None:
    members = [r["email"] for r in _members(indexed) if r["email"]][:150]
    strangers = [f"stranger{i}@example.org" for i in range(len(members))]
    timings: dict[str, list[float]] = {"member": [], "stranger": []}
    for m, s in zip(members, strangers, strict=True):
        for kind, contact in (("member", m), ("stranger", s)):
            t = time.perf_counter()
            r = client.post("/check", data={"contact": contact})
            timings[kind].append(time.perf_counter() - t)
            assert r.status_code == 200
    _wait(client)
    med_m = statistics.median(timings["member"])
    med_s = statistics.median(timings["stranger"])
    # The request path does the same work for both: the medians agree within noise.
    assert abs(med_m - med_s) < max(0.002, 0.25 * min(med_m, med_s)), (med_m, med_s)


def test_page_is_accessible_and_bilingual(client: TestClient) -> None:
    fr = client.get("/")
    en = client.get("/?lang=en")
    assert '<html lang="fr">' in fr.text and '<html lang="en">' in en.text
    for page in (fr, en):
        assert page.status_code == 200
        for field in ("contact", "nir", "birth_date"):
            assert f'<label for="{field}"' in page.text
            assert f'id="{field}"' in page.text
        assert "<script" not in page.text
        assert page.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "Vérifier" in fr.text and "Check whether" in en.text


def test_non_sensitive_breach_results_shown_on_screen(indexed: Indexed, tmp_path: Any) -> None:
    """Only a breach flagged non-sensitive shows results on the page; see test_index for the
    flag itself. Here: the sensitive main breach shows nothing."""
    settings = {**indexed.settings(), "redis_url": ""}
    with TestClient(create_app(settings)) as c:
        member = _members(indexed)[0]["email"]
        r = c.post("/check", data={"contact": member})
    assert r.status_code == 400  # no e-mail channel configured: refused before any lookup
