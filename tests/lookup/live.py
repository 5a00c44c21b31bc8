"""A real `breachwatch serve` process on a free loopback port, for tests that need HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.notify.servers import free_port


@contextmanager
def live_server(home: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """Starts the service on ``home``; yields its base URL; kills it at the end."""
    port = free_port()
    full_env = {**os.environ, **(env or {})}
    exe = Path(sys.executable).with_name("breachwatch")
    proc = subprocess.Popen(
        [str(exe), "-w", str(home), "serve", "--port", str(port)],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                _, err = proc.communicate()
                raise RuntimeError(f"server exited {proc.returncode}: {err.decode()[-2000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start within 30 s")
            time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
