"""Real peers for the senders' tests: an SMTP server and an SMS provider on 127.0.0.1.

Both run in a thread of the test process on a free port, record what they receive and can be
told to fail: ``SmtpServer.fail_next`` answers 4xx/5xx, ``SmtpServer.stop``/``start`` takes the
server down and up again on the same port; ``SmsProvider.respond_next`` answers a given status,
``SmsProvider.delay_next`` answers late (the client times out).

The fixtures ``smtp_server`` and ``sms_provider`` start one of each per test; ``tests/`` is on
``sys.path`` (its conftest's directory), so another test directory's conftest can take them with
``from notify.servers import sms_provider, smtp_server``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"
Stage = Literal["mail", "rcpt", "data"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class ReceivedMail:
    """One message as the server received it; ``connection`` numbers the SMTP connections."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage
    connection: int
    tls: bool = False  # received over a connection upgraded by STARTTLS


@dataclass
class _Failure:
    stage: Stage
    reply: str


class _Handler:
    """aiosmtpd hooks: number the connections, refuse on demand, keep what is accepted."""

    def __init__(self) -> None:
        self.received: list[ReceivedMail] = []
        self.failures: deque[_Failure] = deque()
        self.connections = 0
        self.delay = 0.0  # seconds before each message is accepted: a slow server
        self.lock = threading.Lock()

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        self._number(session)
        session.host_name = hostname
        return responses

    async def handle_HELO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str
    ) -> str:
        self._number(session)
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = self._take("mail")
        if refusal:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = self._take("rcpt")
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        refusal = self._take("data")
        if refusal:
            return refusal
        if self.delay:
            await asyncio.sleep(self.delay)
        raw = bytes(envelope.original_content or b"")
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        mail = ReceivedMail(
            mail_from=str(envelope.mail_from),
            rcpt_tos=list(envelope.rcpt_tos),
            raw=raw,
            message=parsed,
            connection=session.connection_number,  # type: ignore[attr-defined]
            tls=session.ssl is not None,
        )
        with self.lock:
            self.received.append(mail)
        return f"250 OK queued as {len(self.received)}"

    def _number(self, session: Session) -> None:
        if not hasattr(session, "connection_number"):
            with self.lock:
                self.connections += 1
                session.connection_number = self.connections  # type: ignore[attr-defined]

    def _take(self, stage: Stage) -> str | None:
        with self.lock:
            if self.failures and self.failures[0].stage == stage:
                return self.failures.popleft().reply
        return None


class _Controller(Controller):
    """aiosmtpd's controller, keeping its connections so that ``stop`` can cut them."""

    def __init__(self, handler: _Handler, port: int, **smtp_kwargs: Any) -> None:
        super().__init__(handler, hostname=HOST, port=port, **smtp_kwargs)
        self.protocols: list[SMTP] = []

    def factory(self) -> SMTP:
        protocol = SMTP(self.handler, **self.SMTP_kwargs)
        self.protocols.append(protocol)
        return protocol

    def stop(self, no_assert: bool = False) -> None:
        def cut() -> None:
            for protocol in self.protocols:
                if protocol.transport is not None:
                    protocol.transport.close()

        self.loop.call_soon_threadsafe(cut)
        super().stop(no_assert)


class SmtpServer:
    """A real SMTP server on 127.0.0.1 keeping every accepted message in ``received``.

    ``credentials=(user, password)`` makes it offer AUTH and require it; ``tls`` (a server
    context) makes it require STARTTLS before anything else, AUTH included. Without ``tls``,
    AUTH goes in clear (loopback only).
    """

    def __init__(
        self, credentials: tuple[str, str] | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        self.port = free_port()
        self.host = HOST
        self._handler = _Handler()
        self._credentials = credentials
        self._tls = tls
        self._controller: _Controller | None = None

    @property
    def received(self) -> list[ReceivedMail]:
        with self._handler.lock:
            return list(self._handler.received)

    @property
    def connections(self) -> int:
        """How many SMTP sessions (EHLO/HELO) the server has seen, over every restart."""
        return self._handler.connections

    def slow_down(self, seconds: float) -> None:
        """Accept each following message only after ``seconds``."""
        self._handler.delay = seconds

    def fail_next(self, reply: str, count: int = 1, stage: Stage = "rcpt") -> None:
        """Answer ``reply`` (e.g. ``"550 5.1.1 <x@y> unknown"``) to the next ``count`` messages,
        at MAIL FROM (the sender), RCPT TO (the recipient) or the end of DATA (the content)."""
        with self._handler.lock:
            self._handler.failures.extend(_Failure(stage, reply) for _ in range(count))

    def start(self) -> None:
        options: dict[str, Any] = {}
        if self._tls is not None:
            options = {"tls_context": self._tls, "require_starttls": True}
        if self._credentials:
            options |= {
                "authenticator": self._authenticate,
                "auth_required": True,
                "auth_require_tls": self._tls is not None,
            }
        self._controller = _Controller(self._handler, self.port, **options)
        self._controller.start()

    def stop(self) -> None:
        """Stop listening and cut every open connection (a crash or restart, seen by clients)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword) and self._credentials:
            given = (data.login.decode(), data.password.decode())
            # handled=False: aiosmtpd answers 535 itself when the check fails.
            return AuthResult(success=given == self._credentials, handled=False)
        return AuthResult(success=False, handled=False)


@dataclass
class SmsRequest:
    """One request as the provider received it; ``client_port`` tells connections apart."""

    path: str
    headers: dict[str, str]
    body: Any
    client_port: int


@dataclass
class _Reply:
    status: int = 200
    body: Any = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and left: expected here, and nothing printed


class SmsProvider:
    """A real HTTP server on 127.0.0.1 standing for an SMS provider's JSON API.

    Every POST is recorded in ``requests`` and answered ``200 {"id": "sms-<n>"}`` unless a
    planned reply is queued.
    """

    def __init__(self) -> None:
        self.requests: list[SmsRequest] = []
        self._plans: deque[_Reply] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = _QuietServer((HOST, 0), self._handler_class())
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._server.server_address[1]}/v1/sms"

    def respond_next(
        self,
        status: int,
        body: Any = None,
        count: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``count`` requests with ``status`` and the JSON ``body``."""
        with self._lock:
            self._plans.extend(_Reply(status, body, 0.0, headers or {}) for _ in range(count))

    def delay_next(self, seconds: float, count: int = 1) -> None:
        """Answer the next ``count`` requests (successfully) only after ``seconds``."""
        with self._lock:
            self._plans.extend(_Reply(delay=seconds) for _ in range(count))

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._closing.set()  # wakes delayed replies
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def _answer(self, request: SmsRequest) -> _Reply:
        with self._lock:
            self.requests.append(request)
            reply = self._plans.popleft() if self._plans else _Reply()
        if reply.status == 200 and reply.body is None:
            reply.body = {"id": f"sms-{len(self.requests)}", "status": "queued"}
        if reply.delay:
            self._closing.wait(reply.delay)
        return reply

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real providers do

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = provider._answer(
                    SmsRequest(self.path, headers, body, self.client_address[1])
                )
                payload = json.dumps(reply.body).encode() if reply.body is not None else b""
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # nothing printed

        return Handler


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sms_provider() -> Iterator[SmsProvider]:
    provider = SmsProvider()
    provider.start()
    try:
        yield provider
    finally:
        provider.stop()
