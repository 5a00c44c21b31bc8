"""HTTP routes of the notify capability: SMS delivery receipts.

``POST /api/v1/notify/receipts`` takes what the SMS provider posts back for each message, one
object or a list: ``{"client_reference": "bw-…", "status": "delivered", "id": "…", "error":
"…"}``. ``delivered`` ends the message; ``failed``/``undeliverable``/``rejected`` is a permanent
failure (the person's next channel is queued); ``expired`` is temporary (sent again). Receipts
for a channel the person has left already (late receipts) or for unknown references are
acknowledged and ignored, so the provider does not retry them forever.

The provider authenticates with ``Authorization: Bearer <notify_receipt_token>``; without that
setting the route answers 404. Mounted by the web app: ``app.include_router(receipts_router(
settings))``.
"""

from __future__ import annotations

import hmac
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException
from pydantic import BaseModel, Field

from breachwatch.notify.outbox import Outbox, open_outbox
from breachwatch.notify.senders import _SAFE_TOKEN
from breachwatch.notify.worker import parse_reference

RECEIPT_STATUSES = {
    "delivered": "delivered",
    "failed": "permanent_failure",
    "undeliverable": "permanent_failure",
    "rejected": "permanent_failure",
    "expired": "temporary_failure",
}
MAX_RECEIPTS = 1000


class Receipt(BaseModel):
    client_reference: str = Field(max_length=64)
    status: str = Field(max_length=40)
    id: str | None = Field(default=None, max_length=128)
    error: str | int | None = None


class ReceiptAnswer(BaseModel):
    applied: int
    ignored: int


def receipts_router(settings: dict[str, Any]) -> APIRouter:
    router = APIRouter(prefix="/api/v1/notify", tags=["notify"])
    lock = threading.Lock()
    opened: list[Outbox] = []

    def outbox() -> Outbox:
        if not opened:
            opened.append(open_outbox(settings))
        return opened[0]

    def provider(authorization: Annotated[str | None, Header()] = None) -> None:
        # A dependency: it runs before the body is parsed, so a stranger gets 401, never 422.
        _authorise(str(settings.get("notify_receipt_token") or ""), authorization)

    @router.post(
        "/receipts",
        response_model=ReceiptAnswer,
        responses={401: {}},
        dependencies=[Depends(provider)],
    )
    def receipts(body: Receipt | list[Receipt]) -> ReceiptAnswer:
        """Delivery receipts from the SMS provider (Bearer ``notify_receipt_token``)."""
        items = body if isinstance(body, list) else [body]
        if len(items) > MAX_RECEIPTS:
            raise HTTPException(422, f"at most {MAX_RECEIPTS} receipts per request")
        applied = 0
        with lock:  # one connection, used by one request at a time
            for receipt in items:
                applied += _apply(outbox(), receipt)
        return ReceiptAnswer(applied=applied, ignored=len(items) - applied)

    return router


def _authorise(token: str, authorization: str | None) -> None:
    """401 for anyone without the configured token; with no token configured, for everyone."""
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not token or not authorization or not hmac.compare_digest(given.encode(), token.encode()):
        raise HTTPException(
            401, "a valid receipt token is required", {"WWW-Authenticate": "Bearer"}
        )


def _apply(outbox: Outbox, receipt: Receipt) -> int:
    found = parse_reference(receipt.client_reference)
    status = RECEIPT_STATUSES.get(receipt.status.strip().lower())
    if found is None or status is None or found[2] != "sms":
        return 0
    campaign_id, person, channel = found
    error = str(receipt.error) if receipt.error is not None else ""
    detail = f"receipt: {receipt.status}" + (f" ({error})" if _SAFE_TOKEN.fullmatch(error) else "")
    result = outbox.report(campaign_id, person, channel, status, detail[:200], receipt.id)
    return 0 if result is None else 1
