"""A local SMTP server that files every message it receives as ``.eml`` in a folder.

For the demo (``breachwatch demo`` starts one, so the self-check and campaigns can be tried
without a real mail system) and for anyone evaluating breachwatch on one machine. Listens on
loopback only.
"""

from __future__ import annotations

import itertools
import socket
import threading
from pathlib import Path
from typing import Any, Self

from aiosmtpd.controller import Controller

from breachwatch.errors import ConfigError


class _Filer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = threading.Lock()
        existing = [int(p.stem) for p in folder.glob("*.eml") if p.stem.isdigit()]
        self.numbers = itertools.count(max(existing, default=0) + 1)
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            number = next(self.numbers)
            self.count += 1
        data = envelope.original_content or envelope.content
        (self.folder / f"{number:06d}.eml").write_bytes(
            data if isinstance(data, bytes) else data.encode()
        )
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Mailbox:
    """``with Mailbox(folder, port) as box:`` — an SMTP server on 127.0.0.1:port."""

    def __init__(self, folder: Path, port: int = 0) -> None:
        """``port=0`` picks a free port."""
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.port = port or _free_port()
        self.filer = _Filer(folder)
        self.controller = Controller(self.filer, hostname="127.0.0.1", port=self.port)

    @property
    def received(self) -> int:
        return self.filer.count

    def __enter__(self) -> Self:
        try:
            self.controller.start()
        except (OSError, RuntimeError) as exc:
            raise ConfigError(
                f"cannot start the local SMTP server on port {self.port}: {exc}"
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
