"""Command-line flags and the settings object built from them."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A development secret of at least 32 bytes (PyJWT warns below that). Never use it in production.
DEV_API_SECRET = "switchboard-emulator-dev-secret-0123456789"  # noqa: S105 - documented dev value


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 7880
    api_key: str = "devkey"
    api_secret: str = DEV_API_SECRET
    state: Path | None = None
    state_flush_interval: float = 0.5
    webhook_url: str | None = None
    honour_list_limit: bool = False
    strict_update_conflicts: bool = False
    set_timestamps: bool = False
    require_trunk_for_calls: bool = False
    allow_remote_control: bool = False
    reword_errors: bool = False
    request_log_size: int = 100_000
    log_level: str = "WARNING"
    rate_limit_per_minute: float = 0.0
    rate_limit_burst: float = 20.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulators.livekit",
        description=(
            "LiveKit SIP API emulator: serves POST /twirp/livekit.SIP/<Method> as OSS LiveKit "
            "does (see docs/emulator.md), plus a test control plane under /_emulator/."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _server_options(parser.add_argument)
    _behaviour_options(parser.add_argument)
    return parser


def _server_options(add: Callable[..., Any]) -> None:
    """Where it listens, who it trusts, where it keeps state and sends webhooks, logging."""
    add("--host", default="127.0.0.1", help="address to listen on")
    add("--port", type=int, default=7880, help="port to listen on; 0 picks a free port")
    add("--api-key", default="devkey", help="the API key tokens must name as issuer")
    add(
        "--api-secret",
        default=None,
        help="the API secret; defaults to $LIVEKIT_API_SECRET, else a built-in dev secret",
    )
    add("--state", type=Path, default=None, help="JSON file to persist trunks and rules in")
    add(
        "--state-flush-interval",
        type=float,
        default=0.5,
        help="seconds between debounced state-file writes (always flushed on shutdown)",
    )
    add("--webhook-url", default=None, help="POST signed LiveKit webhooks for simulated calls")
    add("--request-log-size", type=int, default=100_000, help="request log entries kept")
    add("--log-level", default="WARNING", help="Python logging level for stderr")


def _behaviour_options(add: Callable[..., Any]) -> None:
    """Switches between OSS LiveKit's behaviour (the default) and Cloud's or a test's."""
    add(
        "--honour-list-limit",
        action="store_true",
        help="UNCONFIRMED (Cloud): cap List responses at page.limit; OSS ignores the limit",
    )
    add(
        "--strict-update-conflicts",
        action="store_true",
        help="always include the updated object in the update conflict check (closes the OSS "
        "update gap of livekit-sip.md §4.2); default mirrors OSS",
    )
    add(
        "--set-timestamps",
        action="store_true",
        help="UNCONFIRMED (Cloud): set created_at/updated_at; OSS leaves them empty",
    )
    add(
        "--require-trunk-for-calls",
        action="store_true",
        help="UNCONFIRMED (Cloud): a simulated call with no matching trunk is rejected even if "
        "a wildcard dispatch rule exists; OSS lets wildcard rules take it",
    )
    add(
        "--allow-remote-control",
        action="store_true",
        help="serve /_emulator/ to non-loopback peers (default: 403 for them)",
    )
    add(
        "--reword-errors",
        action="store_true",
        help="TEST ONLY: answer every invalid_argument with a message in other words than "
        "LiveKit's (same code and status), to prove clients classify errors by structure",
    )
    add(
        "--rate-limit-per-minute",
        type=float,
        default=0.0,
        help="answer 429 resource_exhausted (with Retry-After) to SIP API requests beyond this "
        "many a minute, a token bucket; 0: no limit (LiveKit documents 1000 per project)",
    )
    add(
        "--rate-limit-burst",
        type=float,
        default=20.0,
        help="requests the rate limit's bucket holds (full at start and after a reset)",
    )


def parse_args(argv: list[str] | None = None) -> Config:
    args = build_parser().parse_args(argv)
    secret = args.api_secret or os.environ.get("LIVEKIT_API_SECRET") or DEV_API_SECRET
    return Config(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        api_secret=secret,
        state=args.state,
        state_flush_interval=args.state_flush_interval,
        webhook_url=args.webhook_url,
        honour_list_limit=args.honour_list_limit,
        strict_update_conflicts=args.strict_update_conflicts,
        set_timestamps=args.set_timestamps,
        require_trunk_for_calls=args.require_trunk_for_calls,
        allow_remote_control=args.allow_remote_control,
        reword_errors=args.reword_errors,
        request_log_size=args.request_log_size,
        log_level=args.log_level,
        rate_limit_per_minute=args.rate_limit_per_minute,
        rate_limit_burst=args.rate_limit_burst,
    )
