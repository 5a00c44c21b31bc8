"""The operator dashboard: every operator route refuses strangers, roles, CSRF, sessions,
audited person look-ups, escaped output, neutralised CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from breachwatch.settings import load_settings
from breachwatch.state import audit_entries
from breachwatch.store.workspace import open_workspace
from breachwatch.web.app import create_app
from tests.dashboard.conftest import HOSTILE_ID, PASSWORD, XSS_NAME, Ops

# Routes anyone may call: the public self-check and partner API (own key), the login form.
PUBLIC = {
    "/",
    "/check",
    "/healthz",
    "/static/{name}",
    "/openapi.json",
    "/ops/login",
    "/api/v1/oprf/config",  # partner API key (tested in tests/lookup)
    "/api/v1/oprf/evaluate",
    # The public "is this message genuine?" page and API (rate-limited per IP).
    "/verifier-message",
    "/api/v1/messages/check",
    "/api/v1/messages/report",
}


@pytest.fixture(scope="module")
def app(ops: Ops) -> Any:
    settings = {**ops.settings(), "redis_url": "", "ops_login_limit_ip": "1000/minute"}
    return create_app(settings)


def _client(app: Any) -> TestClient:
    return TestClient(app, base_url="https://testserver", follow_redirects=False)


def _login(app: Any, user: str, password: str = PASSWORD) -> TestClient:
    client = _client(app)
    form = client.get("/ops/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token
    r = client.post(
        "/ops/login", data={"username": user, "password": password, "csrf": token.group(1)}
    )
    assert r.status_code == 303, r.text
    return client


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found.group(1)


@pytest.fixture(scope="module")
def analyst(app: Any) -> Iterator[TestClient]:
    with _login(app, "analyst") as c:
        yield c


def _all_routes(routes: list[Any]) -> Iterator[Any]:
    """Every route, including those of included routers (FastAPI ≥ 0.16x keeps them nested;
    if that changes, the count assertion below fails rather than checking nothing)."""
    for route in routes:
        nested = getattr(route, "original_router", None)
        if nested is not None:
            yield from _all_routes(list(nested.routes))
        else:
            yield route


def test_every_operator_route_refuses_an_unauthenticated_request(app: Any) -> None:
    client = _client(app)
    checked = 0
    for route in _all_routes(list(app.routes)):
        methods = getattr(route, "methods", None)
        if not methods or route.path in PUBLIC:
            continue
        path = re.sub(r"\{[^}]+\}", "x", route.path)
        for method in methods:
            if method == "HEAD":
                continue
            r = client.request(method, path)
            refused = r.status_code in (401, 403) or (
                r.status_code == 303 and r.headers["location"] == "/ops/login"
            )
            assert refused, (method, route.path, r.status_code)
            checked += 1
    assert checked >= 8


def test_login_with_wrong_password_is_refused_and_audited(app: Any, ops: Ops) -> None:
    client = _client(app)
    token = _csrf(client.get("/ops/login").text)
    r = client.post("/ops/login", data={"username": "admin", "password": "nope", "csrf": token})
    assert r.status_code == 401 and "Wrong user name or password" in r.text
    r = client.post("/ops/login", data={"username": "ghost", "password": "nope", "csrf": token})
    assert r.status_code == 401
    assert "bw_session" not in client.cookies
    actions = [(e.action, e.actor) for e in audit_entries(dict(ops.settings()))]
    assert ("login.failed", "ghost") in actions


def test_login_form_needs_its_token(app: Any) -> None:
    client = _client(app)
    r = client.post("/ops/login", data={"username": "admin", "password": PASSWORD})
    assert r.status_code == 403


def test_viewer_cannot_reach_analyst_or_admin_pages(app: Any) -> None:
    with _login(app, "viewer") as viewer:
        assert viewer.get("/ops/").status_code == 200
        assert viewer.get("/ops/breach/agency-2026").status_code == 200
        for path in ("/ops/person", "/ops/audit", "/ops/audit.csv", "/ops/users"):
            assert viewer.get(path).status_code == 403, path
        assert "Person look-up" not in viewer.get("/ops/").text


def test_analyst_is_not_admin(analyst: TestClient) -> None:
    assert analyst.get("/ops/person").status_code == 200
    assert analyst.get("/ops/audit").status_code == 403


def test_overview_and_breach_pages_show_the_snapshot(analyst: TestClient) -> None:
    page = analyst.get("/ops/").text
    assert "agency-2026" in page and "registry" in page
    breach = analyst.get("/ops/breach/agency-2026").text
    assert "Affected population" in breach and "People per data class leaked" in breach
    assert "social security number" in breach
    assert analyst.get("/ops/breach/nope").status_code == 404


def test_person_lookup_needs_a_reason_and_is_audited(analyst: TestClient, ops: Ops) -> None:
    token = _csrf(analyst.get("/ops/person").text)
    record = ops.registry_ids[0]
    r = analyst.post("/ops/person", data={"record_id": record, "reason": "", "csrf": token})
    assert r.status_code == 400 and "reason" in r.text
    r = analyst.post(
        "/ops/person",
        data={"record_id": record, "reason": "call from the person, ticket 4711", "csrf": token},
    )
    assert r.status_code == 200 and f"Registry record {record}" in r.text
    entries = [e for e in audit_entries(dict(ops.settings())) if e.action == "person.view"]
    assert entries[-1].subject == record and entries[-1].actor == "analyst"
    assert entries[-1].reason == "call from the person, ticket 4711"


def test_person_post_without_csrf_token_is_refused(analyst: TestClient, ops: Ops) -> None:
    data = {"record_id": ops.registry_ids[0], "reason": "a reason long enough"}
    assert analyst.post("/ops/person", data=data).status_code == 403
    assert analyst.post("/ops/person", data={**data, "csrf": "forged"}).status_code == 403


def test_hostile_names_are_escaped(analyst: TestClient) -> None:
    token = _csrf(analyst.get("/ops/person").text)
    r = analyst.post(
        "/ops/person",
        data={"record_id": HOSTILE_ID, "reason": "escaping check of a record", "csrf": token},
    )
    assert r.status_code == 200
    assert XSS_NAME not in r.text and "&lt;script&gt;" in r.text
    assert "<script" not in r.text


def test_person_export_neutralises_formulas_and_is_audited(analyst: TestClient, ops: Ops) -> None:
    token = _csrf(analyst.get("/ops/person").text)
    r = analyst.post(
        "/ops/person/export",
        data={"record_id": HOSTILE_ID, "reason": "export for the DPO request", "csrf": token},
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    first_name = next(row[2] for row in rows if row[1] == "first_name")
    assert first_name.startswith("'=") and "hyperlink" in first_name.lower()  # normalised name
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert any(
        e.action == "person.export" and e.subject == HOSTILE_ID
        for e in audit_entries(dict(ops.settings()))
    )


def test_session_fixation_is_impossible(app: Any) -> None:
    client = _client(app)
    client.cookies.set("bw_session", "attacker-chosen-id", domain="testserver.local", path="/ops")
    token = _csrf(client.get("/ops/login").text)
    r = client.post("/ops/login", data={"username": "viewer", "password": PASSWORD, "csrf": token})
    assert r.status_code == 303
    issued = r.cookies.get("bw_session")
    assert issued and issued != "attacker-chosen-id"
    planted = _client(app)
    planted.cookies.set("bw_session", "attacker-chosen-id")
    assert planted.get("/ops/").status_code == 303


def test_logout_ends_the_session(app: Any) -> None:
    client = _login(app, "viewer")
    cookie = client.cookies.get("bw_session")
    token = _csrf(client.get("/ops/").text)
    assert client.post("/ops/logout", data={"csrf": token}).status_code == 303
    replay = _client(app)
    replay.cookies.set("bw_session", str(cookie))
    assert replay.get("/ops/").status_code == 303


def test_session_cookie_flags(app: Any) -> None:
    client = _client(app)
    token = _csrf(client.get("/ops/login").text)
    r = client.post("/ops/login", data={"username": "viewer", "password": PASSWORD, "csrf": token})
    header = r.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=strict" in header and "secure" in header


def test_admin_sees_the_audit_log_and_exports_it(app: Any) -> None:
    with _login(app, "admin") as admin:
        page = admin.get("/ops/audit?verify=true")
        assert page.status_code == 200 and "Hash chain intact" in page.text
        csv_text = admin.get("/ops/audit.csv").text
        assert csv_text.startswith("seq,at,actor,action")
        assert "person.view" in csv_text
        assert "analyst" in admin.get("/ops/users").text


def test_sign_in_attempts_are_throttled(ops: Ops) -> None:
    app = create_app({**ops.settings(), "redis_url": "", "ops_login_limit_ip": "3/minute"})
    client = _client(app)
    token = _csrf(client.get("/ops/login").text)
    codes = [
        client.post(
            "/ops/login", data={"username": "admin", "password": "guess", "csrf": token}
        ).status_code
        for _ in range(5)
    ]
    assert codes == [401, 401, 401, 429, 429]


def test_phishing_waves_pages(app: Any, ops: Ops) -> None:
    hostile = (
        "Votre colis <img src=x onerror=alert(1)> attend: https://colis-suivi.test/a frais 1,99"
    )
    public = _client(app)
    for n in range(2):
        r = public.post("/api/v1/messages/report", json={"text": hostile + f" ref {n}"})
        assert r.status_code in (200, 201), r.text
    with _login(app, "viewer") as viewer:
        page = viewer.get("/ops/phishing")
        assert page.status_code == 200 and "colis-suivi.test" in page.text
        wave = re.search(r"#(\d+)", page.text)
        assert wave
        assert viewer.get(f"/ops/phishing/{wave.group(1)}").status_code == 403
    with _login(app, "analyst") as analyst:
        detail = analyst.get(f"/ops/phishing/{wave.group(1)}")
        assert detail.status_code == 200
        assert "&lt;img src=x onerror=alert(1)&gt;" in detail.text and "<img" not in detail.text
    assert any(
        e.action == "phishing.wave.view" and e.subject == wave.group(1)
        for e in audit_entries(dict(ops.settings()))
    )


def test_people_file_serves_lookups_sealed(ops: Ops, analyst: TestClient) -> None:
    """Look-ups read the sealed people file; it holds no registry value in clear and gives the
    same view as the workspace."""
    from breachwatch.dashboard.person import _from_workspace, person_view

    settings = dict(ops.settings())
    path = ops.home / "dashboard" / "people.sqlite"
    blob = path.read_bytes()
    record = ops.registry_ids[1]
    view = person_view(settings, record)
    assert view == _from_workspace(settings, record)
    for value in (record, view["registry"]["email"], view["registry"]["last_name"]):
        assert value and value.encode() not in blob
    token = _csrf(analyst.get("/ops/person").text)
    r = analyst.post(
        "/ops/person", data={"record_id": record, "reason": "people file check", "csrf": token}
    )
    assert r.status_code == 200 and view["registry"]["email"] in r.text


def test_campaign_progress_page(app: Any, ops: Ops, tmp_path: Any) -> None:
    from rich.console import Console

    from breachwatch.notify.demo import run_demo_campaign

    with _login(app, "viewer") as viewer:
        assert "No campaign yet" in viewer.get("/ops/campaigns").text
        run_demo_campaign(ops.home, "agency-2026", tmp_path / "mail", Console(file=io.StringIO()))
        page = viewer.get("/ops/campaigns")
    assert page.status_code == 200
    assert "demo" in page.text and "approved by" in page.text
    sent = re.search(r"<td>sent</td><td class=\"num\">([\d,]+)</td>", page.text)
    assert sent and int(sent.group(1).replace(",", "")) > 300


def test_people_file_built_in_chunks_is_the_same(
    ops: Ops, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """People taken 7 at a time (dozens of chunks): the same people, the same views."""
    import shutil
    import sqlite3

    from breachwatch.dashboard import people

    home = tmp_path / "ws"
    shutil.copytree(ops.home, home)
    shutil.copy(ops.home / "breachwatch.toml", home / "breachwatch.toml")

    def views(root: Path) -> dict[str, object]:
        reader = people.PeopleFile(root, load_settings(root))
        db = sqlite3.connect(root / people.FILE)
        assert db.execute("SELECT count(*) FROM people").fetchone()[0] == len(every)
        return {record: reader.get(record) for record in every}

    with open_workspace(home) as ws:
        every = [r[0] for r in ws.con.execute("SELECT DISTINCT record_id FROM affected").fetchall()]
        monkeypatch.setattr(people, "CHUNK_PEOPLE", 7)
        assert people.build(ws) == len(every) > 10 * 7
    assert views(home) == views(ops.home)
