"""Command-line flags of ``python -m emulators.telnyx``."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from emulators.carrierkit.args import parse_numbers

DEV_API_KEY = "KEYswitchboard-telnyx-dev-key"  # documented dev value


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 0
    api_key: str = DEV_API_KEY
    numbers: tuple[str, ...] = ()
    request_log_size: int = 100_000
    allow_remote_control: bool = False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulators.telnyx",
        description="Telnyx API v2 emulator (phone numbers, FQDN connections and FQDNs, "
        "available numbers, number orders) for Switchboard's tests; control plane under "
        "/_emulator/.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to listen on")
    add("--port", type=int, default=0, help="port to listen on; 0 picks a free port")
    add("--api-key", default=DEV_API_KEY, help="the API v2 key requests must bear")
    add("--numbers", type=parse_numbers, default=(), help="numbers the account owns (active)")
    add("--request-log-size", type=int, default=100_000, help="request log entries kept")
    add("--allow-remote-control", action="store_true", help="serve /_emulator/ to anyone")
    return parser


def parse_args(argv: list[str] | None = None) -> Config:
    args = build_parser().parse_args(argv)
    return Config(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        numbers=args.numbers,
        request_log_size=args.request_log_size,
        allow_remote_control=args.allow_remote_control,
    )
