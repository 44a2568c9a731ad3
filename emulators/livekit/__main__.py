"""``python -m emulators.livekit``: run the emulator until Ctrl-C or SIGTERM (exit 0)."""

from __future__ import annotations

import asyncio
import logging
import sys

from emulators.carrierkit.serve import serve

from .config import Config, parse_args
from .server import Emulator


async def run(config: Config) -> int:
    try:
        emulator = Emulator(config)
    except (OSError, ValueError) as exc:
        print(f"emulator: cannot load state file {config.state}: {exc}", file=sys.stderr)
        return 2
    return await serve(emulator, config.host, config.port)


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(level=config.log_level.upper(), stream=sys.stderr)
    return asyncio.run(run(config))


if __name__ == "__main__":
    sys.exit(main())
