"""``python -m emulators.telnyx``: run the Telnyx emulator until Ctrl-C or SIGTERM (exit 0)."""

from __future__ import annotations

import asyncio
import logging
import sys

from emulators.carrierkit.serve import serve

from .config import parse_args
from .server import TelnyxEmulator


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(level="WARNING", stream=sys.stderr)

    async def run() -> int:
        return await serve(TelnyxEmulator(config), config.host, config.port, "telnyx")

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
