"""An aiosmtpd server that accepts and drops every message, on asyncio's or uvloop's event loop.

    python benchmarks/smtp_sink.py PORT [uvloop|asyncio]

The notification benchmark starts it in a process of its own as the local SMTP server. With one
core for the server and one for the sender, the server is the slower side: on uvloop it spends
less CPU per message, so the figure measures more of the sender and less of the sink.
"""

from __future__ import annotations

import asyncio
import sys

from aiosmtpd.handlers import Sink
from aiosmtpd.smtp import SMTP


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Sink()), "127.0.0.1", port)
    await server.serve_forever()


def main() -> None:
    port, loop = int(sys.argv[1]), (sys.argv[2] if len(sys.argv) > 2 else "uvloop")
    if loop == "uvloop":
        import uvloop

        uvloop.run(serve(port))
    else:
        asyncio.run(serve(port))


if __name__ == "__main__":
    main()
