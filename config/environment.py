"""Where settings come from: the environment, then `.env`, then `.env.local`.

A variable set in the process environment always wins; `.env` (yours, e.g. for Docker) is read
next and `.env.local` (written by `make run` on its first start, tools/run_local.py) last, each
only for the variables still unset. Both files are git-ignored and optional.
"""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

ENV_FILES = (".env", ".env.local")

env = environ.Env()


def read_env_files(base_dir: Path) -> None:
    for name in ENV_FILES:
        if (base_dir / name).is_file():
            environ.Env.read_env(base_dir / name, overwrite=False)


def boolean(name: str, default: bool) -> bool:
    """A strict boolean: anything but a clear true/false word is a configuration error."""
    raw = env.str(name, default="").strip().lower()
    if raw == "":
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use true or false.")


def required(name: str, dev_default: str, *, debug: bool) -> str:
    """A secret: the development default with DEBUG=true, a configuration error otherwise."""
    value = env.str(name, default="")
    if value:
        return value
    if debug:
        return dev_default
    raise ImproperlyConfigured(
        f"{name} must be set when DEBUG is false (production). See .env.example."
    )
