"""`python -m agent [check | start | dev | console | download-files] [livekit-agents options]`.

`check` validates the environment (and that the `[agent]` extra is installed) and exits without
connecting to anything: 0 when the worker could start, 2 with one line per problem otherwise.
Every other command is livekit-agents' own CLI, run only after the same validation.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping, Sequence

from agent.config import ConfigurationError, Settings, load_settings

USAGE = """usage: python -m agent [check | start | dev | console | download-files] [options]

  check           validate the environment and exit (0 ok, 2 problems); connects to nothing
  start           run the worker (production)
  dev | console   livekit-agents development modes
  download-files  fetch the plugins' model files

Without a command, `start`. Environment: see docs/agent.md."""
LIVEKIT_COMMANDS = ("start", "dev", "console", "connect", "download-files")
# The modules the default model set is built from (agent.worker.build_models).
EXTRA_MODULES = ("livekit.agents", "livekit.plugins.openai", "livekit.plugins.deepgram")


def missing_extra_modules() -> list[str]:
    missing = []
    for name in EXTRA_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:  # a parent package is missing
            found = False
        if not found:
            missing.append(name)
    return missing


def _refuse(problems: Sequence[str]) -> int:
    print("switchboard agent: cannot start:", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)
    return 2


def check(settings: Settings) -> int:
    missing = missing_extra_modules()
    if missing:
        return _refuse([f"{', '.join(missing)} not installed: pip install -e '.[agent]'"])
    print(
        f"switchboard agent: configuration OK (project={settings.project}, "
        f"agent_name={settings.agent_name}, "
        f"platform={settings.config_endpoint()}, livekit={settings.livekit_url})"
    )
    return 0


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else "start"
    if command in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    if command != "check" and command not in LIVEKIT_COMMANDS:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        settings = load_settings(environ)
    except ConfigurationError as exc:
        return _refuse(exc.problems)
    if command == "check":
        return check(settings)
    from agent.worker import run

    return run(settings, args or ["start"])


if __name__ == "__main__":
    sys.exit(main())
