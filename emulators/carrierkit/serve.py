"""Run a carrier emulator until Ctrl-C or SIGTERM (exit 0), announcing readiness like the
LiveKit emulator: ``emulator listening on http://HOST:PORT`` once the socket is bound."""

from __future__ import annotations

import asyncio
import signal
import sys

from aiohttp import web

from .app import RestEmulator


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve(emulator: RestEmulator, host: str, port: int, name: str) -> int:
    runner = web.AppRunner(emulator.app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        print(f"{name} emulator: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        await runner.cleanup()
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    bound = runner.addresses[0][1]
    print(f"emulator listening on {_url(host, bound)}", flush=True)
    await stop.wait()
    emulator.shutdown.set()  # releases hanging requests so the server can stop
    await runner.cleanup()
    return 0
