"""The operator dashboard: server-rendered pages under /ops (no JavaScript).

Every route but the login form requires a session; the role gates are declared per route
(``Viewer``, ``Analyst``, ``Admin``). A person look-up or export requires a reason and is written
to the audit log before anything is shown.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from breachwatch import state
from breachwatch.dashboard import auth, snapshot
from breachwatch.dashboard.person import PersonNotFound, person_view
from breachwatch.errors import WorkspaceError
from breachwatch.export import neutralise_cell

COOKIE = "bw_session"
LOGIN_COOKIE = "bw_login_csrf"
router = APIRouter(prefix="/ops", include_in_schema=False)


class NotLoggedIn(Exception):
    pass


class Forbidden(Exception):
    def __init__(self, needed: str) -> None:
        super().__init__(needed)
        self.needed = needed


def _settings(request: Request) -> dict[str, Any]:
    return request.app.state.service.settings  # type: ignore[no-any-return]


def _operator(request: Request) -> auth.Operator:
    found = auth.current(_settings(request), request.cookies.get(COOKIE))
    if found is None:
        raise NotLoggedIn()
    return found


def _role(role: str):  # type: ignore[no-untyped-def]
    def check(op: Annotated[auth.Operator, Depends(_operator)]) -> auth.Operator:
        if not op.can(role):
            raise Forbidden(role)
        return op

    return check


Viewer = Annotated[auth.Operator, Depends(_role("viewer"))]
Analyst = Annotated[auth.Operator, Depends(_role("analyst"))]
Admin = Annotated[auth.Operator, Depends(_role("admin"))]


def _render(request: Request, name: str, op: auth.Operator | None, status: int = 200, **ctx: Any):
    templates = request.app.state.templates
    context = {
        "op": op,
        "org": _settings(request)["organisation"],
        "lang": "en",
        **ctx,
    }
    return templates.TemplateResponse(request, name, context, status_code=status)


def _check_csrf(op: auth.Operator, token: str) -> None:
    if not auth.csrf_ok(op.csrf, token):
        raise Forbidden("a valid form token (reload the page)")


# -- login -----------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    token = auth.secrets.token_urlsafe(32)
    response = _render(request, "ops_login.html", None, csrf=token)
    _cookie(request, response, LOGIN_COOKIE, token, max_age=1800)
    return response


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    settings = _settings(request)
    service = request.app.state.service
    verdict = service.limits.hit("login", service.client_ip(request))
    if not verdict.allowed:
        response = _render(
            request,
            "ops_login.html",
            None,
            429,
            csrf=csrf,
            error=f"Too many attempts; try again in {verdict.retry_after} s.",
        )
        response.headers["Retry-After"] = str(verdict.retry_after)
        return response
    if not auth.csrf_ok(request.cookies.get(LOGIN_COOKIE, ""), csrf):
        return _render(
            request,
            "ops_login.html",
            None,
            403,
            csrf=csrf,
            error="The form expired; reload the page and try again.",
        )
    found = auth.login(settings, username[:100], password[:1000])
    if found is None:
        state.audit(
            settings,
            actor=username[:100] or "?",
            action="login.failed",
            subject="",
            reason="",
            detail={},
        )
        return _render(
            request, "ops_login.html", None, 401, csrf=csrf, error="Wrong user name or password."
        )
    session_id, op = found
    state.audit(settings, actor=op.username, action="login", subject="", reason="", detail={})
    response = RedirectResponse("/ops/", status_code=303)
    _cookie(request, response, COOKIE, session_id, max_age=int(auth.ABSOLUTE.total_seconds()))
    response.delete_cookie(LOGIN_COOKIE, path="/ops")
    return response


@router.post("/logout")
def logout(request: Request, op: Viewer, csrf: Annotated[str, Form()] = "") -> Response:
    _check_csrf(op, csrf)
    auth.logout(_settings(request), request.cookies.get(COOKIE))
    response = RedirectResponse("/ops/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ops")
    return response


def _cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/ops",
        httponly=True,
        samesite="strict",
        secure=bool(_settings(request).get("session_cookie_secure", True)),
    )


# -- pages -------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, op: Viewer) -> Response:
    snap = snapshot.latest(_settings(request))
    return _render(request, "ops_overview.html", op, snap=snap)


@router.get("/breach/{name}", response_class=HTMLResponse)
def breach_page(request: Request, name: str, op: Viewer) -> Response:
    snap = snapshot.latest(_settings(request)) or {}
    entry = next((b for b in snap.get("breaches", []) if b["name"] == name), None)
    if entry is None:
        return _render(
            request,
            "ops_message.html",
            op,
            404,
            title="Unknown breach",
            message=f"No breach named {name!r} in the latest snapshot.",
        )
    affected = snap.get("affected", {}).get(name, {})
    risk = snap.get("risk", {})
    return _render(
        request,
        "ops_breach.html",
        op,
        snap=snap,
        breach=entry,
        affected=affected,
        risk=risk if risk.get("relative_to") == name else None,
    )


@router.get("/person", response_class=HTMLResponse)
def person_form(request: Request, op: Analyst) -> Response:
    return _render(request, "ops_person.html", op, person=None)


def _audited_person(
    request: Request, op: auth.Operator, record_id: str, reason: str, csrf: str, action: str
) -> dict[str, Any] | Response:
    """A person's view for a look-up or an export, audited before anything is read (a look-up
    that fails is still on record); or the page saying why not."""
    _check_csrf(op, csrf)
    record_id, reason = record_id.strip()[:100], reason.strip()[:500]

    def refused(status: int, error: str) -> Response:
        return _render(
            request, "ops_person.html", op, status, person=None, record_id=record_id, error=error
        )

    if len(reason) < 10:
        what = "look-up" if action == "person.view" else "export"
        return refused(400, f"Give the reason for this {what} (at least 10 characters).")
    settings = _settings(request)
    state.audit(
        settings, actor=op.username, action=action, subject=record_id, reason=reason, detail={}
    )
    try:
        return person_view(settings, record_id)
    except PersonNotFound:
        return refused(404, "No registry person with this record id.")
    except WorkspaceError as exc:
        return refused(503, str(exc))


@router.post("/person", response_class=HTMLResponse)
def person_lookup(
    request: Request,
    op: Analyst,
    record_id: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    person = _audited_person(request, op, record_id, reason, csrf, "person.view")
    if isinstance(person, Response):
        return person
    return _render(
        request,
        "ops_person.html",
        op,
        person=person,
        record_id=record_id.strip()[:100],
        reason=reason.strip()[:500],
    )


@router.post("/person/export")
def person_export(
    request: Request,
    op: Analyst,
    record_id: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    person = _audited_person(request, op, record_id, reason, csrf, "person.export")
    if isinstance(person, Response):
        return person
    record_id = record_id.strip()[:100]
    rows = [["section", "field", "value"]]
    rows += [["registry", k, str(v)] for k, v in person["registry"].items()]
    for a in person["breaches"]:
        rows.append(["breach", a["breach"], ", ".join(a["data_classes"])])
    for r in person["risks"]:
        rows.append(["risk", r["id"], r["level"]])
    return _csv(rows, f"person-{record_id}.csv")


@router.get("/campaigns", response_class=HTMLResponse)
def campaigns_page(request: Request, op: Viewer) -> Response:
    """Progress of every notification campaign; the page reloads itself every 5 s (a meta
    refresh: no JavaScript) while one is running."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from breachwatch.notify.models import Campaign
    from breachwatch.notify.runner import status_report

    settings = _settings(request)
    with Session(state.engine_for(settings)) as s:
        names = list(s.scalars(select(Campaign.name).order_by(Campaign.id.desc())))
    reports = [status_report(settings, name).to_json() for name in names]
    running = any(r["status"] == "running" for r in reports)
    return _render(request, "ops_campaigns.html", op, reports=reports, refresh=running)


@router.get("/phishing", response_class=HTMLResponse)
def phishing_page(request: Request, op: Viewer) -> Response:
    from breachwatch.phishing.waves import list_waves

    waves = [w.to_json() for w in list_waves(_settings(request), limit=100)]
    return _render(request, "ops_phishing.html", op, waves=waves, wave=None)


@router.get("/phishing/{wave_id}", response_class=HTMLResponse)
def phishing_wave(request: Request, wave_id: int, op: Analyst) -> Response:
    from breachwatch.phishing.waves import wave_detail

    settings = _settings(request)
    # The example quotes a reported message, which may hold the reporter's data: audited.
    state.audit(
        settings,
        actor=op.username,
        action="phishing.wave.view",
        subject=str(wave_id),
        reason="",
        detail={},
    )
    wave = wave_detail(settings, wave_id)
    if wave is None:
        return _render(
            request,
            "ops_message.html",
            op,
            404,
            title="Unknown wave",
            message=f"No phishing wave {wave_id}.",
        )
    return _render(request, "ops_phishing.html", op, waves=None, wave=wave)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, op: Admin, verify: bool = False) -> Response:
    settings = _settings(request)
    # Verifying reads the whole chain: on request only, so the page stays fast on a long log.
    check = state.verify_audit(settings) if verify else None
    entries = state.recent_audit(settings, 200)
    return _render(request, "ops_audit.html", op, entries=entries, check=check)


@router.get("/audit.csv")
def audit_export(request: Request, op: Admin) -> Response:
    settings = _settings(request)
    state.audit(
        settings, actor=op.username, action="audit.export", subject="", reason="", detail={}
    )
    rows = [["seq", "at", "actor", "action", "subject", "reason", "detail", "hash"]]
    rows += [
        [str(e.seq), e.at.isoformat(), e.actor, e.action, e.subject, e.reason, e.detail, e.hash]
        for e in state.audit_entries(settings)
    ]
    return _csv(rows, "audit-log.csv")


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, op: Admin) -> Response:
    return _render(request, "ops_users.html", op, users=auth.list_users(_settings(request)))


def _csv(rows: list[list[str]], filename: str) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([neutralise_cell(cell) for cell in row])
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
