"""``python -m emulators.twilio``: run the Twilio emulator until Ctrl-C or SIGTERM (exit 0)."""

from __future__ import annotations

import asyncio
import logging
import sys

from emulators.carrierkit.serve import serve

from .config import parse_args
from .server import TwilioEmulator


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(level="WARNING", stream=sys.stderr)

    async def run() -> int:
        return await serve(TwilioEmulator(config), config.host, config.port, "twilio")

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
