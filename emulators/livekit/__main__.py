"""``python -m emulators.livekit``: run the emulator until Ctrl-C or SIGTERM (exit 0)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from aiohttp import web

from .config import Config, parse_args
from .server import Emulator


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve(config: Config) -> int:
    try:
        emulator = Emulator(config)
    except (OSError, ValueError) as exc:
        print(f"emulator: cannot load state file {config.state}: {exc}", file=sys.stderr)
        return 2
    runner = web.AppRunner(emulator.app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
    try:
        await site.start()
    except OSError as exc:
        print(f"emulator: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
        await runner.cleanup()
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # Only now announce readiness: a signal sent right after the line must still stop us cleanly.
    port = runner.addresses[0][1]
    print(f"emulator listening on {_url(config.host, port)}", flush=True)
    await stop.wait()
    emulator.shutdown.set()  # releases hanging requests so the server can stop
    await runner.cleanup()
    await emulator.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(level=config.log_level.upper(), stream=sys.stderr)
    return asyncio.run(serve(config))


if __name__ == "__main__":
    sys.exit(main())
