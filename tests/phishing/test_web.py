"""The page "Is this message genuine?" and the check, report and waves APIs, in process."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from breachwatch.dashboard.auth import add_user, login
from breachwatch.dashboard.routes import COOKIE as SESSION_COOKIE
from breachwatch.phishing.engine import check_message
from breachwatch.phishing.i18n import STRINGS
from breachwatch.phishing.store import PhishingReport, engine
from breachwatch.phishing.web import MAX_REQUEST_BYTES
from breachwatch.state import audit_entries
from breachwatch.web.app import create_app
from tests.browser import chromium, new_page, record_dialogs, text_colours
from tests.notify.servers import free_port

pytest_plugins = ["tests.phishing.service"]  # fixtures: phishing_home, settings

CHECK, REPORT, PAGE = "/api/v1/messages/check", "/api/v1/messages/report", "/verifier-message"
PROBLEM = "application/problem+json"
TOKEN = "operator-token-for-the-tests-0123456789"
PHISHING_SMS = (
    "France Travail : votre dossier sera radié sous 48h. Mettez à jour votre dossier sur "
    "https://francetravail-aide.fr/connexion"
)
XSS_SMS = (
    "France Travail : dossier radié <script>alert(1)</script> <img src=x onerror=alert(2)> "
    "régularisez sur https://francetravail-aide.fr/<b>x</b>"
)
EML = (
    b"Authentication-Results: mx.example.org; spf=fail smtp.mailfrom=evil.example; "
    b"dkim=none; dmarc=fail header.from=francetravail.fr\r\n"
    b"From: France Travail <contact@francetravail.fr>\r\nTo: a@example.org\r\n"
    b"Subject: Versement en attente\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Confirmez vos coordonnees bancaires sous 24h.\r\n"
)


def make_app(settings: dict[str, Any]) -> FastAPI:
    """The service, which mounts the phishing routes itself."""
    return create_app(settings)


@pytest.fixture
def client(settings: dict[str, Any]) -> Iterator[TestClient]:
    with TestClient(make_app(settings | {"operator_api_token": TOKEN})) as c:
        yield c


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


# -- POST /api/v1/messages/check -----------------------------------------------------------


def test_check_api_answers_verdict_score_and_pointed_reasons(client: TestClient) -> None:
    response = client.post(CHECK, json={"text": PHISHING_SMS, "lang": "en"})
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    data = response.json()
    assert data["verdict"] == "phishing" and data["score"] == 100 and data["kind"] == "sms"
    assert data["summary"] == STRINGS["en"]["verdict_phishing"] and data["lang"] == "en"
    reason = next(r for r in data["reasons"] if r["code"] == "domain_added_words")
    assert reason["field"] == "body"
    assert PHISHING_SMS[reason["start"] : reason["end"]] == reason["excerpt"]
    assert set(reason["message"]) == {"fr", "en"}


def test_check_api_reads_a_base64_eml(client: TestClient) -> None:
    data = client.post(CHECK, json={"eml": base64.b64encode(EML).decode()}).json()
    assert data["kind"] == "email" and data["verdict"] == "phishing"
    assert "auth_official_spoof" in {r["code"] for r in data["reasons"]}


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"text": "a", "eml": "YQ=="}, "exactly one of text or eml"),
        ({}, "exactly one of text or eml"),
        ({"eml": "not base64!"}, "eml: not valid base64"),
        ({"text": "   "}, "text: empty message"),
        ({"eml": base64.b64encode(b"\x00\x01binary").decode()}, "eml: this is binary data"),
        ({"text": 42}, "text: Input should be a valid string"),
        ({"text": "x", "kind": "fax"}, "kind: Input should be"),
        ({"text": "x", "colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_check_api_errors_say_what_and_where(
    client: TestClient, body: dict[str, Any], where: str
) -> None:
    assert where in _problem(client.post(CHECK, json=body), 422)["detail"]


def test_check_api_refuses_broken_json_and_other_media(client: TestClient) -> None:
    broken = client.post(CHECK, content=b'{"text": ', headers={"content-type": "application/json"})
    assert "Invalid JSON" in _problem(broken, 422)["detail"]
    _problem(client.post(CHECK, content=b"text=x", headers={"content-type": "text/plain"}), 415)


def test_body_size_is_capped(client: TestClient) -> None:
    huge = "a" * (MAX_REQUEST_BYTES + 1)
    _problem(client.post(CHECK, json={"text": huge}), 413)
    _problem(client.post(REPORT, json={"text": huge}), 413)
    # Under the request cap but over the 2 MiB a message may have.
    too_long = "a" * (2 * 1024 * 1024 + 1)
    assert "too large" in _problem(client.post(CHECK, json={"text": too_long}), 422)["detail"]


def test_body_size_is_capped_without_content_length(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(MAX_REQUEST_BYTES // 65536 + 1):
            yield b"a" * 65536
        yield b'"}'

    response = client.post(CHECK, content=chunks(), headers={"content-type": "application/json"})
    _problem(response, 413)


def test_rate_limit_per_ip_answers_429_with_retry_after(settings: dict[str, Any]) -> None:
    with TestClient(make_app(settings | {"phishing_limit_ip": "3/minute"})) as c:
        for _ in range(3):
            assert c.post(CHECK, json={"text": PHISHING_SMS}).status_code == 200
        limited = c.post(CHECK, json={"text": PHISHING_SMS})
        _problem(limited, 429)
        assert 0 < int(limited.headers["retry-after"]) <= 60
        page = c.post(PAGE, data={"text": PHISHING_SMS})  # the page shares the budget
        assert page.status_code == 429 and int(page.headers["retry-after"]) > 0
        assert "text/html" in page.headers["content-type"]
        # Reports have a budget of their own.
        assert c.post(REPORT, json={"text": PHISHING_SMS}).status_code == 201


# -- the page ------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_form_page_is_accessible_and_has_no_script(client: TestClient, lang: str) -> None:
    response = client.get(f"{PAGE}?lang={lang}")
    html = response.text
    t = STRINGS[lang]
    assert response.status_code == 200 and f'<html lang="{lang}">' in html
    assert "script-src" not in response.headers["content-security-policy"]
    assert "<script" not in html.lower()
    assert f"<h1>{t['title']}</h1>".replace("'", "&#39;") in html
    assert 'enctype="multipart/form-data"' in html
    for field in ("text", "eml", "sender", "kind-auto", "kind-sms", "kind-email"):
        assert f'<label for="{field}">' in html and f'id="{field}"' in html
    assert '<textarea id="text" name="text"' in html and 'aria-describedby="text-hint' in html
    assert 'type="file" id="eml"' in html and 'accept=".eml,message/rfc822"' in html


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_page_shows_verdict_reasons_and_inert_excerpts(client: TestClient, lang: str) -> None:
    response = client.post(PAGE, data={"text": XSS_SMS, "lang": lang, "kind": "auto"})
    html = response.text
    t = STRINGS[lang]
    assert response.status_code == 200 and f'<html lang="{lang}">' in html
    assert t["verdict_phishing"].replace("'", "&#39;") in html
    assert t["score"].format(score=check_message(XSS_SMS).score) in html
    assert t["severity_critical"] in html and t["report"] in html
    # The attacker's markup is shown as text, never run or rendered.
    assert "<script" not in html.lower() and "<img" not in html.lower() and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "<mark>https://francetravail-aide.fr/</mark>&lt;b&gt;x&lt;/b&gt;" in html
    assert any("radi" in m for m in re.findall(r"<mark>(.*?)</mark>", html))
    # The report button carries the message, escaped inside the attribute.
    assert f'action="/api/v1/messages/report?lang={lang}"' in html
    assert 'name="text" value="France Travail : dossier radié &lt;script&gt;' in html


def test_page_reads_an_uploaded_eml(client: TestClient) -> None:
    response = client.post(
        PAGE,
        data={"lang": "en", "kind": "auto"},
        files={"eml": ("message.eml", EML, "message/rfc822")},
    )
    html = response.text
    assert response.status_code == 200 and STRINGS["en"]["verdict_phishing"] in html
    assert STRINGS["en"]["field_from"] in html
    hidden = re.search(r'name="eml" value="([^"]+)"', html)
    assert hidden and base64.b64decode(hidden.group(1)) == EML


@pytest.mark.parametrize(
    ("data", "files", "key"),
    [
        ({"text": "  "}, None, "err_empty"),
        ({"text": "hello"}, {"eml": ("m.eml", EML, "message/rfc822")}, "err_both"),
        ({"text": "x", "kind": "fax"}, None, "err_form"),
        ({}, {"eml": ("m.eml", b"\x00\x01", "message/rfc822")}, "err_unreadable"),
    ],
)
def test_page_errors_are_announced(
    client: TestClient, data: dict[str, str], files: Any, key: str
) -> None:
    response = client.post(PAGE, data={"lang": "en", **data}, files=files)
    assert response.status_code == 400
    message = STRINGS["en"][key].replace("'", "&#39;").replace('"', "&#34;")
    assert f'<p class="error" role="alert" id="form-error">{message}</p>' in response.text
    assert 'aria-invalid="true"' in response.text and "<title>Error:" in response.text


def test_page_too_large(client: TestClient) -> None:
    text = "a" * (MAX_REQUEST_BYTES + 1)
    response = client.post(f"{PAGE}?lang=en", data={"lang": "en", "text": text})
    assert response.status_code == 413
    assert STRINGS["en"]["err_too_large"] in response.text


# -- reports -------------------------------------------------------------------------------


def test_report_from_the_page_is_stored_and_thanked(
    client: TestClient, settings: dict[str, Any]
) -> None:
    form = {"lang": "fr", "kind": "sms", "text": PHISHING_SMS}
    first = client.post(REPORT, data=form)
    assert first.status_code == 200 and "text/html" in first.headers["content-type"]
    assert STRINGS["fr"]["reported"] in first.text.replace("&#39;", "'")
    again = client.post(REPORT, data=form)
    assert STRINGS["fr"]["reported_again"] in again.text
    with Session(engine(settings)) as s:
        [stored] = s.scalars(select(PhishingReport)).all()
    assert stored.channel == "web" and stored.verdict == "phishing" and stored.kind == "sms"
    assert stored.reporter is not None and "testclient" not in stored.reporter


def test_report_from_the_page_with_an_eml(client: TestClient, settings: dict[str, Any]) -> None:
    form = {"lang": "en", "kind": "email", "eml": base64.b64encode(EML).decode()}
    assert client.post(REPORT, data=form).status_code == 200
    with Session(engine(settings)) as s:
        assert s.scalars(select(PhishingReport.kind)).all() == ["email"]
    broken = client.post(REPORT, data={"lang": "en", "text": ""})
    assert broken.status_code == 400 and 'role="alert"' in broken.text


def test_report_api_assigns_a_wave(client: TestClient) -> None:
    first = client.post(REPORT, json={"text": PHISHING_SMS, "channel": "sms"})
    assert first.status_code == 201, first.text
    data = first.json()
    assert data["new_wave"] and not data["duplicate"] and data["verdict"] == "phishing"
    variant = PHISHING_SMS.replace("48h", "24h").replace("francetravail-aide.fr", "ft-aide.com")
    second = client.post(
        REPORT, json={"text": variant, "received_at": "2026-11-27T08:15:00+01:00"}
    ).json()
    assert second["wave_id"] == data["wave_id"] and not second["new_wave"]
    duplicate = client.post(REPORT, json={"text": PHISHING_SMS})
    assert duplicate.status_code == 200 and duplicate.json()["duplicate"]


def test_report_api_errors(client: TestClient) -> None:
    assert (
        "received_at"
        in _problem(
            client.post(REPORT, json={"text": PHISHING_SMS, "received_at": "2999-01-01T00:00:00Z"}),
            422,
        )["detail"]
    )
    assert (
        "channel"
        in _problem(client.post(REPORT, json={"text": PHISHING_SMS, "channel": "web"}), 422)[
            "detail"
        ]
    )
    _problem(client.post(REPORT, json={"eml": "%%%"}), 422)


# -- the operators' waves API --------------------------------------------------------------


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_waves_api_needs_the_operator_token(client: TestClient) -> None:
    for path in ("/api/v1/phishing/waves", "/api/v1/phishing/waves/1"):
        missing = client.get(path)
        _problem(missing, 401)
        assert missing.headers["www-authenticate"] == "Bearer"
        _problem(client.get(path, headers=_auth("wrong")), 401)


def test_waves_api_refuses_tokens_when_none_is_configured(settings: dict[str, Any]) -> None:
    with TestClient(make_app(settings)) as c:
        _problem(c.get("/api/v1/phishing/waves", headers=_auth()), 401)
        _problem(c.get("/api/v1/phishing/waves/1", headers=_auth()), 401)


def test_waves_api_lists_and_details_waves(client: TestClient, settings: dict[str, Any]) -> None:
    client.post(REPORT, json={"text": PHISHING_SMS})
    client.post(REPORT, json={"text": XSS_SMS, "channel": "email"})
    listed = client.get("/api/v1/phishing/waves", headers=_auth())
    assert listed.status_code == 200
    [wave] = listed.json()["waves"]
    assert wave["reports"] == 2 and wave["verdicts"] == {"phishing": 2}
    assert wave["top_indicators"][0]["value"] == "francetravail-aide.fr"
    detail = client.get(f"/api/v1/phishing/waves/{wave['id']}", headers=_auth()).json()
    assert detail["example"]["text"] == PHISHING_SMS
    assert sum(h["reports"] for h in detail["per_hour"]) == 2 and len(detail["per_day"]) == 1
    reads = [e for e in audit_entries(settings) if e.action == "phishing.wave.read"]
    assert len(reads) == 1 and reads[0].subject == f"wave:{wave['id']}"
    assert "radi" not in reads[0].detail  # no message text in the audit log
    _problem(client.get("/api/v1/phishing/waves/999", headers=_auth()), 404)
    _problem(client.get("/api/v1/phishing/waves?since=someday", headers=_auth()), 422)
    assert client.get("/api/v1/phishing/waves?since=2999-01-01", headers=_auth()).json() == {
        "waves": []
    }


def _signed_in(client: TestClient, settings: dict[str, Any], role: str) -> None:
    add_user(settings, f"{role}-user", "a long enough password", role)
    found = login(settings, f"{role}-user", "a long enough password")
    assert found is not None
    client.cookies.set(SESSION_COOKIE, found[0])


def test_a_signed_in_dashboard_operator_needs_no_token(settings: dict[str, Any]) -> None:
    with TestClient(make_app(settings)) as c:  # no operator_api_token at all
        c.post(REPORT, json={"text": PHISHING_SMS})
        _signed_in(c, settings, "viewer")
        assert c.get("/api/v1/phishing/waves").json()["waves"][0]["reports"] == 1
        _problem(c.get("/api/v1/phishing/waves/1"), 403)  # the example needs an analyst
        _signed_in(c, settings, "analyst")
        assert c.get("/api/v1/phishing/waves/1").json()["example"]["text"] == PHISHING_SMS
    [read] = [e for e in audit_entries(settings) if e.action == "phishing.wave.read"]
    assert read.actor == "operator:analyst-user"


def test_openapi_documents_the_routes(client: TestClient) -> None:
    spec = client.app.openapi()  # type: ignore[attr-defined]
    paths = spec["paths"]
    assert paths["/api/v1/phishing/waves"]["get"]["tags"] == ["operator"]
    assert paths["/api/v1/phishing/waves/{wave_id}"]["get"]["security"] == [{"operator": []}]
    body = paths[CHECK]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"text", "eml", "kind", "lang"} <= set(body["properties"])
    report = paths[REPORT]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"received_at", "channel"} <= set(report["properties"])
    json.dumps(spec)  # serialisable as served


# -- in a real browser ---------------------------------------------------------------------


@contextmanager
def _served(app: FastAPI) -> Iterator[str]:
    """The app on a loopback port, in a thread (Uvicorn, as ``breachwatch serve`` runs it)."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _tab_to(page: Any, selector: str, limit: int = 15) -> None:
    target = page.locator(selector)
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"{selector} not reached with {limit} presses of Tab")


def test_page_in_chromium_by_keyboard_with_inert_attacker_markup(
    settings: dict[str, Any],
) -> None:
    t = STRINGS["fr"]
    with chromium() as browser, _served(make_app(settings)) as url, new_page(browser) as page:
        dialogs = record_dialogs(page)
        page.goto(f"{url}{PAGE}?lang=fr")
        _tab_to(page, "#text")
        page.keyboard.type(XSS_SMS)
        _tab_to(page, "button[type=submit]")
        with page.expect_response(lambda r: r.url.endswith(f"{PAGE}?lang=fr")) as answer:
            page.keyboard.press("Enter")
        assert answer.value.status == 200
        assert page.locator("#verdict").inner_text() == t["verdict_phishing"]
        assert "https://francetravail-aide.fr/" in page.locator("mark").all_inner_texts()
        assert "<script>alert(1)</script>" in page.locator("main ol").inner_text()
        assert page.locator("main img, main script, main b").count() == 0 and not dialogs
        for text in text_colours(page):
            assert text.ratio >= text.required, text
        _tab_to(page, "form[action^='/api/v1/messages/report'] button")
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == t["reported_title"]
    assert not dialogs
