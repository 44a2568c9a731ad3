"""Command-line flags of ``python -m emulators.twilio``."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from emulators.carrierkit.args import parse_numbers

DEV_ACCOUNT_SID = "AC" + "0" * 31 + "1"
DEV_AUTH_TOKEN = "switchboard-twilio-dev-token"  # noqa: S105 - documented dev value


@dataclass(frozen=True)
class ApiKey:
    sid: str
    secret: str
    trunking: bool = True  # False: a restricted key without the SIP trunking permissions


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 0
    account_sid: str = DEV_ACCOUNT_SID
    auth_token: str = DEV_AUTH_TOKEN
    numbers: tuple[str, ...] = ()
    api_keys: tuple[ApiKey, ...] = field(default_factory=tuple)
    request_log_size: int = 100_000
    allow_remote_control: bool = False


def _api_key(raw: str) -> ApiKey:
    sid, sep, rest = raw.partition(":")
    if not sep or not sid.startswith("SK") or not rest:
        raise argparse.ArgumentTypeError("expected SK…:SECRET or SK…:SECRET:restricted")
    secret, _, kind = rest.partition(":")
    if kind not in ("", "restricted"):
        raise argparse.ArgumentTypeError('the third part may only be "restricted"')
    return ApiKey(sid, secret, trunking=kind != "restricted")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulators.twilio",
        description="Twilio REST emulator (accounts, incoming and available numbers, Elastic "
        "SIP Trunking) for Switchboard's tests; control plane under /_emulator/.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to listen on")
    add("--port", type=int, default=0, help="port to listen on; 0 picks a free port")
    add("--account-sid", default=DEV_ACCOUNT_SID, help="the account's SID (AC + 32 hex)")
    add("--auth-token", default=DEV_AUTH_TOKEN, help="the account's auth token")
    add("--numbers", type=parse_numbers, default=(), help="voice-capable numbers the account owns")
    add(
        "--api-key",
        type=_api_key,
        action="append",
        default=[],
        help="an API key SK…:SECRET (append :restricted for a key without SIP trunking); "
        "repeatable",
    )
    add("--request-log-size", type=int, default=100_000, help="request log entries kept")
    add("--allow-remote-control", action="store_true", help="serve /_emulator/ to anyone")
    return parser


def parse_args(argv: list[str] | None = None) -> Config:
    args = build_parser().parse_args(argv)
    if not (args.account_sid.startswith("AC") and len(args.account_sid) == 34):
        build_parser().error("--account-sid must be AC followed by 32 characters")
    return Config(
        host=args.host,
        port=args.port,
        account_sid=args.account_sid,
        auth_token=args.auth_token,
        numbers=args.numbers,
        api_keys=tuple(args.api_key),
        request_log_size=args.request_log_size,
        allow_remote_control=args.allow_remote_control,
    )
