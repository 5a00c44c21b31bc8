"""The FastAPI application: the self-check pages and the partner OPRF API.

``create_app(settings)`` builds everything from the settings; ``breachwatch serve`` runs it with
Uvicorn. Errors of the JSON API are ``application/problem+json`` (RFC 9457); the pages render
a page. Every response is ``Cache-Control: no-store`` and carries a strict CSP: the pages use no
JavaScript at all.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from limits import parse as parse_limit
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from breachwatch import state
from breachwatch.dashboard.routes import Forbidden, NotLoggedIn
from breachwatch.dashboard.routes import router as dashboard_router
from breachwatch.lookup import oprf
from breachwatch.lookup.answer import class_label
from breachwatch.lookup.index import Indexes
from breachwatch.lookup.keys import create_keys
from breachwatch.lookup.selfcheck import FormError, SelfCheck, parse_form
from breachwatch.notify.senders import Sender, sender_from_settings
from breachwatch.notify.web import receipts_router
from breachwatch.phishing.web import router as phishing_router
from breachwatch.store.workspace import workspace_id
from breachwatch.web.i18n import PAGE, lang_of
from breachwatch.web.ratelimit import Limits, Verdict

PARTNER_TAG_BYTES = 8
STYLESHEETS = ("site.css", "ops.css")
PROBLEM = "application/problem+json"
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class SecurityHeaders:
    """Adds the security headers to every response: a pure ASGI middleware (Starlette's
    ``BaseHTTPMiddleware`` costs a task group and two memory streams per request)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.extra = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in self.extra if k not in present
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


class Service:
    def __init__(self, settings: dict[str, Any], senders: dict[str, Sender] | None = None) -> None:
        self.settings = settings
        self.home = Path(settings["home"])
        self.keys = create_keys(settings)
        self.indexes = Indexes(self.home, self.keys)
        self.limits = Limits(settings, workspace_id(self.home))
        self.senders = senders if senders is not None else sender_from_settings(settings)
        self.selfcheck = SelfCheck(settings, self.keys, self.indexes, self.senders)
        self.max_batch = int(settings["partner_max_batch"])
        self.trusted = {
            p.strip() for p in str(settings.get("trusted_proxies", "")).split(",") if p.strip()
        }
        state.engine_for(settings)  # fail at start, not at the first partner call

    def client_ip(self, request: Request) -> str:
        peer = request.client.host if request.client else "unknown"
        if peer in self.trusted:
            hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",")]
            for hop in reversed([h for h in hops if h]):
                if hop not in self.trusted and _is_ip(hop):
                    return hop
        return peer

    def close(self) -> None:
        self.selfcheck.close()
        for sender in self.senders.values():
            sender.close()


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _templates() -> Jinja2Templates:
    folder = resources.files("breachwatch.web") / "templates"
    env = Environment(
        loader=FileSystemLoader(str(folder)),
        autoescape=select_autoescape(["html"], default=True),
    )
    env.filters["label"] = lambda name: class_label(str(name), "en")
    return Jinja2Templates(env=env)


# -- partner API models --------------------------------------------------------------------


class EvaluateRequest(BaseModel):
    breach: str | None = Field(None, description="Breach to check against; optional if only one.")
    elements: list[str] = Field(description="Blinded ristretto255 elements, base64 (32 bytes).")
    prefixes: list[int] = Field(description="Bucket prefix of each element's identifier.")


class EvaluateResponse(BaseModel):
    key_id: str
    breach: str
    tag_bytes: int
    evaluated: list[str] = Field(description="Evaluated elements, base64, in request order.")
    buckets: dict[str, list[str]] = Field(
        description="Per requested prefix (decimal), the truncated index tags in it, base64."
    )


class BreachInfo(BaseModel):
    name: str
    prefix_bits: int
    sensitive: bool


class ConfigResponse(BaseModel):
    suite: str = "OPRFV1-ristretto255-SHA512 (RFC 9497, mode 0x00)"
    key_id: str
    tag_bytes: int
    max_batch: int
    breaches: list[BreachInfo]


def _partner(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> state.PartnerInfo:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise HTTPException(401, "an API key is required", {"WWW-Authenticate": "Bearer"})
    found = state.partner_for_key(request.app.state.service.settings, authorization[7:].strip())
    if found is None:
        raise HTTPException(401, "unknown or revoked API key", {"WWW-Authenticate": "Bearer"})
    return found


Partner = Annotated[state.PartnerInfo, Depends(_partner)]


def create_app(settings: dict[str, Any], senders: dict[str, Sender] | None = None) -> FastAPI:
    service = Service(settings, senders)
    templates = _templates()
    org = str(settings["organisation"])

    @asynccontextmanager
    async def lifespan(_app: FastAPI):  # type: ignore[no-untyped-def]
        if service.selfcheck.channels():
            # Ready before the first check: starting it then would delay that answer by the
            # child's start-up (about a second).
            await run_in_threadpool(service.selfcheck.start)
        yield
        service.close()

    app = FastAPI(
        title="breachwatch",
        summary="Private self-check and partner check for a data breach",
        version="1",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.templates = templates
    app.state.code_verifier = _code_verifier(settings)
    app.include_router(dashboard_router)
    app.include_router(phishing_router)
    app.include_router(receipts_router(settings))

    app.add_middleware(SecurityHeaders)

    # -- errors --------------------------------------------------------------------------

    def problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None):
        return JSONResponse(
            {"type": "about:blank", "title": title, "status": status, "detail": detail},
            status_code=status,
            media_type=PROBLEM,
            headers=headers,
        )

    def page(request: Request, name: str, lang: str, status: int = 200, **extra: Any):
        t = PAGE[lang]
        context = {"lang": lang, "t": t, "org": org, "title": t["title"]} | extra
        return templates.TemplateResponse(request, name, context, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if request.url.path.startswith("/api/"):
            return problem(exc.status_code, _title(exc.status_code), str(exc.detail), headers)
        lang = lang_of(request.query_params.get("lang"))
        return page(
            request,
            "message.html",
            lang,
            exc.status_code,
            title=PAGE[lang]["err_title"],
            message=str(exc.detail) if exc.status_code < 500 else _title(exc.status_code),
        )

    @app.exception_handler(NotLoggedIn)
    async def not_logged_in(request: Request, exc: NotLoggedIn) -> Response:
        if request.method == "GET":
            return RedirectResponse("/ops/login", status_code=303)
        return templates.TemplateResponse(
            request,
            "ops_message.html",
            {
                "op": None,
                "org": org,
                "title": "Sign in first",
                "message": "This action needs a signed-in operator.",
            },
            status_code=401,
        )

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return templates.TemplateResponse(
            request,
            "ops_message.html",
            {
                "op": None,
                "org": org,
                "title": "Not allowed",
                "message": f"This page needs {exc.needed}.",
            },
            status_code=403,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        where = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()[:5]
        )
        return problem(422, "Unprocessable Content", where)

    # -- pages ---------------------------------------------------------------------------

    @app.get("/static/{name}", include_in_schema=False)
    def css(name: str) -> Response:
        if name not in STYLESHEETS:
            raise HTTPException(404, "not found")
        text = (resources.files("breachwatch.web") / "static" / name).read_text("utf-8")
        return Response(text, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    def form_page(request: Request, lang: str, status: int = 200, **extra: Any) -> Response:
        channels = service.selfcheck.channels()
        t = PAGE[lang]
        if extra.get("error"):  # announced in the tab title too, as screen readers read it first
            extra["title"] = (
                f"{t['err_title']} : {t['title']}"
                if lang == "fr"
                else (f"{t['err_title']}: {t['title']}")
            )
        return page(
            request,
            "selfcheck.html",
            lang,
            status,
            intro=PAGE[lang]["intro"].format(org=org),
            channels=channels,
            contact_channels=bool(channels & {"email", "sms"}),
            **extra,
        )

    @app.get("/", response_class=HTMLResponse, summary="Self-check page")
    def index(request: Request, lang: str = "fr") -> Response:
        return form_page(request, lang_of(lang))

    async def hit(scope: str, key: str) -> Verdict:
        # In memory, a counter is a dictionary update: done here. Redis is a network round
        # trip: done in the thread pool, so the event loop never waits for it.
        if service.limits.shared:
            return await run_in_threadpool(service.limits.hit, scope, key)
        return service.limits.hit(scope, key)

    @app.post("/check", response_class=HTMLResponse, summary="Queue a self-check")
    async def check(
        request: Request,
        lang: Annotated[str, Form()] = "fr",
        contact: Annotated[str, Form()] = "",
        nir: Annotated[str, Form()] = "",
        birth_date: Annotated[str, Form()] = "",
    ) -> Response:
        lang = lang_of(lang)
        t = PAGE[lang]
        for scope, key in (("global", "all"), ("ip", service.client_ip(request))):
            verdict = await hit(scope, key)
            if not verdict.allowed:
                return limited(request, lang, verdict.retry_after)
        try:
            identifier = parse_form(contact, nir, birth_date, str(settings["default_region"]))
        except FormError as exc:
            return form_page(request, lang, 400, error=t[f"err_{exc.code}"], error_field=exc.field)
        needed = {"email": "email", "phone": "sms"}.get(identifier.kind.value)
        if needed and needed not in service.selfcheck.channels():
            return form_page(request, lang, 400, error=t["err_channel"], error_field="contact")
        if identifier.kind.value == "nir" and not service.selfcheck.channels():
            return form_page(request, lang, 400, error=t["err_channel"], error_field="nir")
        verdict = await hit("identifier", service.selfcheck.rate_key(identifier))
        if not verdict.allowed:
            return limited(request, lang, verdict.retry_after)
        if not service.selfcheck.submit(identifier, lang):
            return busy(request, lang)
        public = [
            {"breach": f.breach, "classes": [class_label(c, lang) for c in f.payload["classes"]]}
            for f in service.selfcheck.on_screen(identifier)
        ]
        return page(request, "checked.html", lang, public=public)

    def refusal(request: Request, lang: str, status: int, message: str, seconds: int) -> Response:
        t = PAGE[lang]
        response = page(
            request, "message.html", lang, status, title=t["limited_title"], message=message
        )
        response.headers["Retry-After"] = str(seconds)
        return response

    def limited(request: Request, lang: str, seconds: int) -> Response:
        return refusal(request, lang, 429, PAGE[lang]["limited"].format(seconds=seconds), seconds)

    def busy(request: Request, lang: str) -> Response:
        return refusal(request, lang, 503, PAGE[lang]["busy"], 60)

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, Any]:
        return {"status": "ok", "indexes": sorted(service.indexes())}

    # -- partner API ---------------------------------------------------------------------

    @app.get("/api/v1/oprf/config", response_model=ConfigResponse, tags=["partner"])
    def oprf_config(who: Partner) -> ConfigResponse:
        return ConfigResponse(
            key_id=service.keys.key_id,
            tag_bytes=PARTNER_TAG_BYTES,
            max_batch=service.max_batch,
            breaches=[
                BreachInfo(name=n, prefix_bits=i.prefix_bits, sensitive=i.sensitive)
                for n, i in sorted(service.indexes().items())
            ],
        )

    @app.post(
        "/api/v1/oprf/evaluate",
        response_model=EvaluateResponse,
        tags=["partner"],
        responses={401: {}, 404: {}, 422: {}, 429: {}},
    )
    def oprf_evaluate(body: EvaluateRequest, who: Partner) -> EvaluateResponse:
        n = len(body.elements)
        if n == 0 or n != len(body.prefixes):
            raise HTTPException(422, "elements and prefixes must be non-empty and of equal length")
        if n > service.max_batch:
            raise HTTPException(422, f"at most {service.max_batch} elements per request")
        indexes = service.indexes()
        if body.breach is None and len(indexes) != 1:
            raise HTTPException(422, f"name the breach: one of {sorted(indexes)}")
        name = body.breach or next(iter(indexes))
        index = indexes.get(name)
        if index is None:
            raise HTTPException(404, f"no index for breach {name!r}")
        quota = parse_limit(f"{who.quota_per_day}/day")
        verdict = service.limits.hit_items([quota], "partner", who.name, cost=n)
        if not verdict.allowed:
            raise HTTPException(
                429,
                f"daily quota of {who.quota_per_day} identifiers reached",
                {"Retry-After": str(verdict.retry_after)},
            )
        top = 1 << index.prefix_bits
        elements = []
        for i, (text, prefix) in enumerate(zip(body.elements, body.prefixes, strict=True)):
            if not 0 <= prefix < top:
                raise HTTPException(422, f"prefixes[{i}] must be in 0..{top - 1}")
            try:
                raw = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                raise HTTPException(422, f"elements[{i}] is not base64") from None
            if len(raw) != 32:
                raise HTTPException(422, f"elements[{i}] must be 32 bytes")
            elements.append(raw)
        try:
            evaluated = oprf.blind_evaluate_many(service.keys.oprf_key, elements)
        except oprf.OprfError as exc:
            raise HTTPException(422, f"invalid element: {exc}") from None
        buckets = {
            str(p): [base64.b64encode(t).decode() for t in index.bucket_tags(p, PARTNER_TAG_BYTES)]
            for p in sorted(set(body.prefixes))
        }
        state.audit(
            settings,
            actor=f"partner:{who.name}",
            action="oprf.evaluate",
            subject=name,
            reason="partner check",
            detail={"elements": n, "buckets": len(buckets)},
        )
        return EvaluateResponse(
            key_id=service.keys.key_id,
            breach=name,
            tag_bytes=PARTNER_TAG_BYTES,
            evaluated=[base64.b64encode(e).decode() for e in evaluated],
            buckets=buckets,
        )

    return app


def _code_verifier(settings: dict[str, Any]) -> Any:
    """The notification outbox's authenticity codes, for the "is this message genuine?" page;
    None until a campaign was planned (no notify key yet)."""
    from breachwatch.errors import BreachwatchError
    from breachwatch.notify.codes import OutboxCodeVerifier

    try:
        return OutboxCodeVerifier(settings)
    except BreachwatchError:
        return None


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
