"""Run an emulator until Ctrl-C or SIGTERM (exit 0), announcing readiness with
``emulator listening on http://HOST:PORT`` once the socket is bound (LiveKit's and the
carriers' alike)."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Protocol

from aiohttp import web


class Served(Protocol):
    app: web.Application
    shutdown: asyncio.Event

    async def close(self) -> None:
        """Called after the server stopped (flush files, deliver what is queued)."""
        ...


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve(emulator: Served, host: str, port: int, name: str = "") -> int:
    label = f"{name} emulator" if name else "emulator"
    runner = web.AppRunner(emulator.app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        print(f"{label}: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        await runner.cleanup()
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # Only now announce readiness: a signal sent right after the line must still stop us cleanly.
    bound = runner.addresses[0][1]
    print(f"emulator listening on {_url(host, bound)}", flush=True)
    await stop.wait()
    emulator.shutdown.set()  # releases hanging requests so the server can stop
    await runner.cleanup()
    await emulator.close()
    return 0
