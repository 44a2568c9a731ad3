"""Worker settings from the environment, and which model-provider keys a set of models needs.

Model choices travel as `"<provider>/<model>"` strings (the agent config API's `stt_model`,
`llm_model` and `tts_model`). Each provider is reached through its livekit-agents plugin with
the provider's own API key from the environment, so a clinic's choice is only usable when that
key is set. The worker refuses to start unless the platform's default model set is usable:
every clinic falls back to it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote, urlsplit

Slot = Literal["stt", "llm", "tts"]

DEFAULT_AGENT_NAME = "switchboard-receptionist"
DEFAULT_STT_MODEL = "deepgram/nova-3"
DEFAULT_LLM_MODEL = "openai/gpt-4o-mini"
DEFAULT_TTS_MODEL = "openai/gpt-4o-mini-tts"
DEFAULT_MODELS: dict[Slot, str] = {
    "stt": DEFAULT_STT_MODEL,
    "llm": DEFAULT_LLM_MODEL,
    "tts": DEFAULT_TTS_MODEL,
}
DEFAULT_CONFIG_DEADLINE_SECONDS = 4.0

# The environment variable each provider's plugin reads its key from.
PROVIDER_KEY_ENV: dict[str, str] = {
    "openai": "OPENAI_API_KEY",
    "deepgram": "DEEPGRAM_API_KEY",
    "cartesia": "CARTESIA_API_KEY",
}
# Which providers the worker can build each pipeline stage from (see agent.worker).
SUPPORTED_PROVIDERS: dict[Slot, frozenset[str]] = {
    "stt": frozenset({"deepgram", "openai"}),
    "llm": frozenset({"openai"}),
    "tts": frozenset({"openai", "cartesia", "deepgram"}),
}
REQUIRED_ENV = (
    "SWITCHBOARD_URL",
    "SWITCHBOARD_AGENT_TOKEN",
    "LIVEKIT_URL",
    "LIVEKIT_API_KEY",
    "LIVEKIT_API_SECRET",
)


DEFAULT_PROJECT = "default"  # the platform's LIVEKIT_* project (telephony/models/projects.py)
PROJECT_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


class ConfigurationError(Exception):
    """The worker's environment cannot run calls; `problems` names each variable at fault."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ModelRef:
    provider: str
    name: str

    def __str__(self) -> str:
        return f"{self.provider}/{self.name}"


def parse_model(slot: Slot, value: object) -> ModelRef:
    """Parse `"provider/model"` for a pipeline slot; ValueError if malformed or unsupported."""
    if not isinstance(value, str) or value.count("/") < 1:
        raise ValueError(f"{slot} model must look like 'provider/model', got {value!r}")
    provider, _, name = value.partition("/")
    provider = provider.strip().lower()
    name = name.strip()
    if not provider or not name:
        raise ValueError(f"{slot} model must look like 'provider/model', got {value!r}")
    if provider not in SUPPORTED_PROVIDERS[slot]:
        supported = ", ".join(sorted(SUPPORTED_PROVIDERS[slot]))
        raise ValueError(f"{slot} provider {provider!r} is not supported (use one of {supported})")
    return ModelRef(provider, name)


def _is_set(environ: Mapping[str, str], name: str) -> bool:
    return bool(environ.get(name, "").strip())


def missing_provider_keys(
    models: Iterable[ModelRef | str], environ: Mapping[str, str] | None = None
) -> list[str]:
    """The provider key variables that `models` need and `environ` lacks, sorted, no repeats."""
    env = os.environ if environ is None else environ
    missing: set[str] = set()
    for model in models:
        provider = model.provider if isinstance(model, ModelRef) else model.partition("/")[0]
        key_env = PROVIDER_KEY_ENV.get(provider.strip().lower())
        if key_env is None:
            raise ValueError(f"unknown model provider {provider!r}")
        if not _is_set(env, key_env):
            missing.add(key_env)
    return sorted(missing)


@dataclass(frozen=True)
class ModelPlan:
    """The models a call will actually use, after substituting unusable clinic choices."""

    stt: ModelRef
    llm: ModelRef
    tts: ModelRef
    substitutions: list[str] = field(default_factory=list)


def plan_models(choices: Mapping[Slot, str], environ: Mapping[str, str] | None = None) -> ModelPlan:
    """Use the clinic's model for each slot when its provider key is set, else the default.

    A clinic choosing, say, Cartesia on a deployment without CARTESIA_API_KEY must still be
    answered: the call gets the platform default for that slot and the substitution is logged.
    """
    env = os.environ if environ is None else environ
    chosen: dict[Slot, ModelRef] = {}
    notes: list[str] = []
    for slot, default in DEFAULT_MODELS.items():
        wanted = choices.get(slot, default)
        try:
            ref = parse_model(slot, wanted)
        except ValueError as exc:
            notes.append(f"{exc}; using {default}")
            ref = parse_model(slot, default)
        missing = missing_provider_keys([ref], env)
        if missing and str(ref) != default:
            notes.append(
                f"{slot} model {ref} needs {missing[0]}, which is not set; using {default}"
            )
            ref = parse_model(slot, default)
        chosen[slot] = ref
    return ModelPlan(stt=chosen["stt"], llm=chosen["llm"], tts=chosen["tts"], substitutions=notes)


@dataclass(frozen=True)
class Settings:
    switchboard_url: str
    agent_token: str = field(repr=False)
    livekit_url: str
    livekit_api_key: str
    livekit_api_secret: str = field(repr=False)
    agent_name: str = DEFAULT_AGENT_NAME
    config_deadline_s: float = DEFAULT_CONFIG_DEADLINE_SECONDS
    # The Switchboard LiveKit project this worker serves (one worker per project: its
    # LIVEKIT_* are that project's; docs/agent.md §3). Named in `check` and the logs.
    project: str = DEFAULT_PROJECT

    def config_endpoint(self) -> str:
        return self.switchboard_url.rstrip("/") + "/api/v1/agent/config"

    def messages_endpoint(self) -> str:
        return self.switchboard_url.rstrip("/") + "/api/v1/agent/messages"

    def outcome_endpoint(self, room_name: str) -> str:
        room = quote(room_name, safe="")
        return f"{self.switchboard_url.rstrip('/')}/api/v1/agent/calls/{room}/outcome"


def _problems(environ: Mapping[str, str]) -> list[str]:
    problems = [f"{name} is not set" for name in REQUIRED_ENV if not _is_set(environ, name)]
    for name in ("SWITCHBOARD_URL", "LIVEKIT_URL"):
        value = environ.get(name, "").strip()
        allowed = ("http", "https") if name == "SWITCHBOARD_URL" else ("http", "https", "ws", "wss")
        if value and (urlsplit(value).scheme not in allowed or not urlsplit(value).netloc):
            problems.append(f"{name} must be a {'/'.join(allowed)} URL, got {value!r}")
    project = environ.get("SWITCHBOARD_PROJECT", "").strip()
    if project and not PROJECT_NAME_RE.match(project):
        problems.append(
            "SWITCHBOARD_PROJECT must be a LiveKit project's name as Switchboard knows it "
            "(lowercase letters, digits, hyphens; `manage.py livekit_project list`), "
            f"got {project!r}"
        )
    deadline = environ.get("SWITCHBOARD_CONFIG_DEADLINE_SECONDS", "").strip()
    if deadline:
        try:
            ok = 0.5 <= float(deadline) <= 15
        except ValueError:
            ok = False
        if not ok:
            problems.append("SWITCHBOARD_CONFIG_DEADLINE_SECONDS must be a number from 0.5 to 15")
    for key_env in missing_provider_keys(DEFAULT_MODELS.values(), environ):
        problems.append(f"{key_env} is not set (needed by the default models)")
    return problems


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the worker's settings; ConfigurationError lists every problem at once."""
    env = os.environ if environ is None else environ
    problems = _problems(env)
    if problems:
        raise ConfigurationError(problems)
    deadline = env.get("SWITCHBOARD_CONFIG_DEADLINE_SECONDS", "").strip()
    return Settings(
        switchboard_url=env["SWITCHBOARD_URL"].strip(),
        agent_token=env["SWITCHBOARD_AGENT_TOKEN"].strip(),
        livekit_url=env["LIVEKIT_URL"].strip(),
        livekit_api_key=env["LIVEKIT_API_KEY"].strip(),
        livekit_api_secret=env["LIVEKIT_API_SECRET"].strip(),
        agent_name=env.get("LIVEKIT_AGENT_NAME", "").strip() or DEFAULT_AGENT_NAME,
        config_deadline_s=float(deadline) if deadline else DEFAULT_CONFIG_DEADLINE_SECONDS,
        project=env.get("SWITCHBOARD_PROJECT", "").strip() or DEFAULT_PROJECT,
    )
