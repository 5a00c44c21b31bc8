"""HTTP side of phishing vigilance: the page "Is this message genuine?", the check and report
API, and the operators' waves API.

Mounted by ``breachwatch.web.app`` with ``app.include_router(router)``; it relies on what
``create_app`` provides: ``app.state.service`` (settings, rate limits, client IP),
``app.state.templates`` (Jinja with autoescape), the problem+json errors under ``/api/``, the
security headers (strict CSP: no JavaScript), the dashboard's sessions, and an optional
``app.state.code_verifier`` (the notification capability's authenticity codes).

Every string taken from a message reaches the page through Jinja's autoescape only.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.templating import Jinja2Templates
from limits import RateLimitItem, parse_many
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from breachwatch import state
from breachwatch.dashboard import auth
from breachwatch.dashboard.routes import COOKIE as SESSION_COOKIE
from breachwatch.errors import ConfigError, UsageError
from breachwatch.phishing.codes import CodeVerifier
from breachwatch.phishing.engine import check_message
from breachwatch.phishing.i18n import STRINGS
from breachwatch.phishing.message import KINDS, MAX_MESSAGE_BYTES, Kind, MessageInputError
from breachwatch.phishing.reports import config_for, file_report
from breachwatch.phishing.result import CheckResult, Reason
from breachwatch.phishing.waves import list_waves, wave_detail
from breachwatch.web.i18n import PAGE, lang_of

# A 2 MiB e-mail grows by a third in base64, plus the JSON or form around it.
MAX_REQUEST_BYTES = MAX_MESSAGE_BYTES * 4 // 3 + 64 * 1024
CONTEXT_CHARS = 60
PAGE_PATH = "/verifier-message"

router = APIRouter()
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="operator",
    description="The operator_api_token setting, for machine clients; a signed-in dashboard "
    "operator (session cookie) needs none.",
)


# -- request models ------------------------------------------------------------------------


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(None, description="The SMS text, or a whole e-mail as text.")
    eml: str | None = Field(None, description="An e-mail file (.eml), base64; instead of text.")
    kind: Literal["auto", "sms", "email"] = "auto"
    lang: Literal["fr", "en"] = Field("fr", description="Language of summary and advice.")
    sender: str | None = Field(None, max_length=64, description="The SMS sender, if known.")


class ReportRequest(CheckRequest):
    received_at: datetime | None = Field(
        None,
        description="When the person received it (ISO 8601); default: an e-mail's Date, else now.",
    )
    channel: Literal["api", "email", "sms"] = Field(
        "api", description="How the report reached us: this API, or forwarded by e-mail or SMS."
    )


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


# -- shared helpers ------------------------------------------------------------------------


def _settings(request: Request) -> dict[str, Any]:
    return request.app.state.service.settings  # type: ignore[no-any-return]


def _verifier(request: Request) -> CodeVerifier | None:
    return getattr(request.app.state, "code_verifier", None)


@cache
def _limit_items(text: str) -> list[RateLimitItem]:
    try:
        return list(parse_many(text))
    except ValueError as exc:
        raise ConfigError(f"setting phishing_limit_ip: {text!r} is not a rate limit") from exc


def _rate_limited(request: Request, scope: str) -> int:
    """Seconds to wait when this client has used its budget for ``scope``; 0 when allowed."""
    service = request.app.state.service
    items = _limit_items(str(_settings(request)["phishing_limit_ip"]))
    verdict = service.limits.hit_items(items, scope, service.client_ip(request))
    return 0 if verdict.allowed else int(verdict.retry_after)


class TooLarge(Exception):
    pass


async def _body(request: Request) -> bytes:
    """The request body, refused past ``MAX_REQUEST_BYTES`` without reading it all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        raise TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _is_json(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip().lower() in (
        "application/json",
        "",
    )


async def _form(request: Request, body: bytes) -> FormData:
    async def stream() -> AsyncGenerator[bytes, None]:
        yield body
        yield b""

    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        parser = MultiPartParser(
            request.headers, stream(), max_files=1, max_fields=10, max_part_size=MAX_REQUEST_BYTES
        )
        return await parser.parse()
    return await FormParser(
        request.headers, stream(), max_fields=10, max_part_size=MAX_REQUEST_BYTES
    ).parse()


def _problem_detail(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ())) or 'body'}: {e.get('msg', '')}"
        for e in exc.errors()[:5]
    )


def _message_of(body: CheckRequest) -> bytes:
    """The message bytes from ``text`` or ``eml`` (exactly one of them)."""
    if (body.text is None) == (body.eml is None):
        raise HTTPException(422, "body: give exactly one of text or eml")
    if body.text is not None:
        return body.text.encode("utf-8", "surrogateescape")
    try:
        return base64.b64decode(body.eml or "", validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(422, "eml: not valid base64") from None


async def _api_body(request: Request, model: type[CheckRequest]) -> CheckRequest:
    try:
        raw = await _body(request)
    except TooLarge:
        raise HTTPException(413, f"body: at most {MAX_REQUEST_BYTES:,} bytes") from None
    if not _is_json(request):
        raise HTTPException(415, "body: send application/json")
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise HTTPException(422, _problem_detail(exc)) from None


def _limit_api(request: Request, scope: str) -> None:
    wait = _rate_limited(request, scope)
    if wait:
        raise HTTPException(429, "too many messages from this address", {"Retry-After": str(wait)})


# -- the JSON API --------------------------------------------------------------------------


def summary(result: CheckResult, lang: str, org: str) -> tuple[str, str]:
    """The verdict as a sentence and the advice that goes with it, in ``lang``."""
    t = STRINGS[lang]
    key = "verified" if result.verified else result.verdict
    return t[f"verdict_{key}"], t[f"advice_{key}"].format(org=org)


@router.post(
    "/api/v1/messages/check",
    tags=["phishing"],
    summary="Is this SMS or e-mail genuine? Verdict, score and pointed reasons",
    responses={413: {}, 415: {}, 422: {}, 429: {}},
    openapi_extra=_schema(CheckRequest),
)
async def check_api(request: Request) -> JSONResponse:
    _limit_api(request, "phishing-check")
    body = await _api_body(request, CheckRequest)
    data = _message_of(body)
    settings = _settings(request)
    try:
        result = await run_in_threadpool(
            check_message,
            data,
            kind=body.kind,
            config=config_for(settings),
            verifier=_verifier(request),
            sender=body.sender,
        )
    except MessageInputError as exc:
        raise HTTPException(422, f"{'eml' if body.eml else 'text'}: {exc}") from None
    verdict, advice = summary(result, body.lang, str(settings["organisation"]))
    return JSONResponse(
        {**result.to_json(), "lang": body.lang, "summary": verdict, "advice": advice}
    )


@router.post(
    "/api/v1/messages/report",
    tags=["phishing"],
    summary="Report a suspicious message: stored, its indicators extracted, put in a wave",
    status_code=201,
    responses={200: {"description": "HTML page, for the form"}, 413: {}, 422: {}, 429: {}},
    openapi_extra=_schema(ReportRequest),
)
async def report_api(request: Request) -> Response:
    if not _is_json(request):
        return await _report_form(request)
    _limit_api(request, "phishing-report")
    body = await _api_body(request, ReportRequest)
    assert isinstance(body, ReportRequest)
    data = _message_of(body)
    try:
        filed = await run_in_threadpool(
            file_report,
            _settings(request),
            data,
            kind=body.kind,
            channel=body.channel,
            reporter_ip=request.app.state.service.client_ip(request),
            received_at=body.received_at,
            sender=body.sender,
            verifier=_verifier(request),
        )
    except MessageInputError as exc:
        raise HTTPException(422, f"{'eml' if body.eml else 'text'}: {exc}") from None
    except UsageError as exc:
        raise HTTPException(422, str(exc)) from None
    return JSONResponse(filed.to_json(), status_code=200 if filed.duplicate else 201)


# -- the page ------------------------------------------------------------------------------


def _page(request: Request, name: str, lang: str, status: int = 200, **extra: Any) -> HTMLResponse:
    t = {**PAGE[lang], **STRINGS[lang]}
    org = str(_settings(request)["organisation"])
    context = {
        "lang": lang,
        "t": t,
        "org": org,
        "title": t["title"],
        "lang_path": PAGE_PATH,
        "intro": t["intro"].format(org=org),
        "text": "",
        "sender": "",
        "kind": "auto",
    } | extra
    templates: Jinja2Templates = request.app.state.templates  # the app's, autoescaping
    return templates.TemplateResponse(request, name, context, status_code=status)


def _limited_page(request: Request, lang: str, seconds: int) -> HTMLResponse:
    t = PAGE[lang]
    response = _page(
        request,
        "phishing_reported.html",
        lang,
        429,
        title=t["limited_title"],
        heading=t["limited_title"],
        message=t["limited"].format(seconds=seconds),
        error=True,
    )
    response.headers["Retry-After"] = str(seconds)
    return response


@router.get(PAGE_PATH, response_class=HTMLResponse, tags=["phishing"], summary="The check page")
def check_page(request: Request, lang: str = "fr") -> HTMLResponse:
    return _page(request, "phishing_check.html", lang_of(lang))


@dataclass
class _Submitted:
    lang: str
    text: str
    eml: bytes | None
    kind: str
    sender: str


async def _submitted(request: Request) -> _Submitted | str:
    """The form's fields, or the key of the error to show."""
    try:
        form = await _form(request, await _body(request))
    except TooLarge:
        return "err_too_large"
    except MultiPartException:
        return "err_form"
    upload = form.get("eml")
    eml = None
    if isinstance(upload, UploadFile) and upload.filename:
        eml = await upload.read()
    elif isinstance(upload, str) and upload:  # the report form carries it in base64
        try:
            eml = base64.b64decode(upload, validate=True)
        except (binascii.Error, ValueError):
            return "err_form"
    return _Submitted(
        lang=lang_of(_field(form, "lang")),
        text=_field(form, "text"),
        eml=eml,
        kind=_field(form, "kind") or "auto",
        sender=_field(form, "sender")[:64],
    )


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _form_problem(sent: _Submitted) -> str | None:
    if sent.kind not in KINDS:
        return "err_form"
    if sent.eml is not None and sent.text.strip():
        return "err_both"
    if sent.eml is None and not sent.text.strip():
        return "err_empty"
    return None


@router.post(PAGE_PATH, response_class=HTMLResponse, tags=["phishing"], summary="Check, as a page")
async def check_form(request: Request) -> HTMLResponse:
    lang = lang_of(request.query_params.get("lang"))
    wait = _rate_limited(request, "phishing-check")
    if wait:
        return _limited_page(request, lang, wait)
    sent = await _submitted(request)
    if isinstance(sent, str):
        return _form_error(request, lang, sent, 413 if sent == "err_too_large" else 400)
    problem = _form_problem(sent)
    if problem:
        return _form_error(request, sent.lang, problem, 400, sent)
    kind: Kind = sent.kind  # type: ignore[assignment]  # checked against KINDS above
    settings = _settings(request)
    try:
        result = await run_in_threadpool(
            check_message,
            sent.eml if sent.eml is not None else sent.text,
            kind=kind,
            config=config_for(settings),
            verifier=_verifier(request),
            sender=sent.sender or None,
        )
    except MessageInputError as exc:
        key = "err_too_large" if "too large" in str(exc) else "err_unreadable"
        return _form_error(request, sent.lang, key, 400, sent)
    return _result_page(request, sent, result)


def _form_error(
    request: Request, lang: str, key: str, status: int, sent: _Submitted | None = None
) -> HTMLResponse:
    t = STRINGS[lang]
    return _page(
        request,
        "phishing_check.html",
        lang,
        status,
        title=f"{t['err_title']}{t['colon']} {t['title']}",
        error=t[key],
        error_field="text",
        text=sent.text if sent else "",
        sender=sent.sender if sent else "",
        kind=sent.kind if sent and sent.kind in KINDS else "auto",
    )


def _result_page(request: Request, sent: _Submitted, result: CheckResult) -> HTMLResponse:
    t = STRINGS[sent.lang]
    org = str(_settings(request)["organisation"])
    verdict, advice = summary(result, sent.lang, org)
    return _page(
        request,
        "phishing_check.html",
        sent.lang,
        title=f"{verdict} — {t['title']}",
        result=result,
        verdict_title=verdict,
        advice=advice,
        score_text=t["score"].format(score=result.score),
        reasons=[_shown(r, result.fields, sent.lang) for r in result.reasons],
        report_hint=t["report_hint"].format(org=org),
        text=sent.text,
        eml_b64=base64.b64encode(sent.eml).decode("ascii") if sent.eml is not None else "",
        sender=sent.sender,
    )


def _shown(reason: Reason, fields: dict[str, str], lang: str) -> dict[str, str]:
    """A reason for the page: its text, and the excerpt with some context on each side.

    The pieces stay plain strings: the template escapes them and puts ``<mark>`` around the hit.
    """
    t = STRINGS[lang]
    pointer = reason.pointer
    shown = {
        "severity": t.get(f"severity_{reason.severity}", reason.severity),
        "message": reason.message(lang),
        "field": t.get(f"field_{pointer.field}", pointer.field),
        "before": "",
        "hit": pointer.excerpt,
        "after": "",
    }
    text = fields.get(pointer.field)
    if text is None or pointer.start is None or pointer.end is None:
        return shown
    start, end = max(0, pointer.start - CONTEXT_CHARS), min(len(text), pointer.end + CONTEXT_CHARS)
    shown["before"] = ("…" if start else "") + text[start : pointer.start]
    shown["after"] = text[pointer.end : end] + ("…" if end < len(text) else "")
    return shown


async def _report_form(request: Request) -> HTMLResponse:
    """The page's "report this message" button."""
    lang = lang_of(request.query_params.get("lang"))
    wait = _rate_limited(request, "phishing-report")
    if wait:
        return _limited_page(request, lang, wait)
    sent = await _submitted(request)
    if isinstance(sent, str) or _form_problem(sent):
        key = sent if isinstance(sent, str) else "err_form"
        return _report_error(request, lang if isinstance(sent, str) else sent.lang, key)
    kind: Kind = sent.kind  # type: ignore[assignment]  # checked by _form_problem
    try:
        filed = await run_in_threadpool(
            file_report,
            _settings(request),
            sent.eml if sent.eml is not None else sent.text,
            kind=kind,
            channel="web",
            reporter_ip=request.app.state.service.client_ip(request),
            sender=sent.sender or None,
            verifier=_verifier(request),
        )
    except MessageInputError:
        return _report_error(request, sent.lang, "err_unreadable")
    t = STRINGS[sent.lang]
    return _page(
        request,
        "phishing_reported.html",
        sent.lang,
        title=t["reported_title"],
        heading=t["reported_title"],
        message=t["reported_again"] if filed.duplicate else t["reported"],
    )


def _report_error(request: Request, lang: str, key: str) -> HTMLResponse:
    t = STRINGS[lang]
    return _page(
        request,
        "phishing_reported.html",
        lang,
        413 if key == "err_too_large" else 400,
        title=f"{t['err_title']}{t['colon']} {t['report']}",
        heading=t["err_title"],
        message=t[key],
        error=True,
    )


# -- the operators' API (dashboard) ---------------------------------------------------------


def _operator(request: Request, given: HTTPAuthorizationCredentials | None, role: str) -> str:
    """Who reads: a dashboard operator signed in with at least ``role``, or a machine client
    with the ``operator_api_token``. Anonymous callers get 401 whether a token is configured
    or not (with no token set, only a dashboard session can read)."""
    settings = _settings(request)
    signed_in = auth.current(settings, request.cookies.get(SESSION_COOKIE))
    if signed_in is not None:
        if not signed_in.can(role):
            raise HTTPException(403, f"this needs the {role} role")
        return f"operator:{signed_in.username}"
    token = str(settings.get("operator_api_token") or "")
    presented = given.credentials if given is not None else ""
    if not token or not hmac.compare_digest(presented.encode(), token.encode()):
        raise HTTPException(
            401, "a valid operator token is required", {"WWW-Authenticate": "Bearer"}
        )
    return "operator-token"


def _viewer(
    request: Request, given: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> str:
    return _operator(request, given, "viewer")


def _analyst(
    request: Request, given: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> str:
    return _operator(request, given, "analyst")


Viewer = Annotated[str, Depends(_viewer)]
Analyst = Annotated[str, Depends(_analyst)]


@router.get(
    "/api/v1/phishing/waves",
    tags=["operator"],
    summary="Phishing waves, the most recently active first",
    responses={401: {}, 403: {}},
)
def waves_api(
    request: Request,
    who: Viewer,
    since: Annotated[date | None, Query(description="Only waves active since (UTC).")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    moment = datetime(since.year, since.month, since.day) if since else None
    found = list_waves(_settings(request), since=moment, limit=limit)
    return {"waves": [w.to_json() for w in found]}


@router.get(
    "/api/v1/phishing/waves/{wave_id}",
    tags=["operator"],
    summary="One wave: time series, indicators, verdicts and an example message",
    responses={401: {}, 403: {}, 404: {}},
)
def wave_api(request: Request, wave_id: int, who: Analyst) -> dict[str, Any]:
    settings = _settings(request)
    found = wave_detail(settings, wave_id)
    if found is None:
        raise HTTPException(404, f"no wave {wave_id}")
    # The example quotes a reported message, which may name the person it was sent to.
    state.audit(
        settings,
        actor=who,
        action="phishing.wave.read",
        subject=f"wave:{found['id']}",
        reason="dashboard",
        detail={"example_report": (found["example"] or {}).get("report_id")},
    )
    return found
