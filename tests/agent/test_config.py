"""Worker settings, provider keys, and `python -m agent check` refusing a bad environment."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.config import (
    DEFAULT_AGENT_NAME,
    ConfigurationError,
    load_settings,
    missing_provider_keys,
    parse_model,
    plan_models,
)

ROOT = Path(__file__).resolve().parents[2]
COMPLETE_ENV = {
    "SWITCHBOARD_URL": "http://127.0.0.1:8000/",
    "SWITCHBOARD_AGENT_TOKEN": "sb-agent-test-token",
    "LIVEKIT_URL": "ws://127.0.0.1:7880",
    "LIVEKIT_API_KEY": "devkey",
    "LIVEKIT_API_SECRET": "secret-of-at-least-32-characters-0123456789",
    "OPENAI_API_KEY": "sk-test",
    "DEEPGRAM_API_KEY": "dg-test",
}


def without(*names):
    return {k: v for k, v in COMPLETE_ENV.items() if k not in names}


def test_it_loads_settings_with_defaults():
    settings = load_settings(COMPLETE_ENV)
    assert settings.agent_name == DEFAULT_AGENT_NAME
    assert settings.config_endpoint() == "http://127.0.0.1:8000/api/v1/agent/config"
    assert settings.config_deadline_s == 4.0
    assert "sb-agent-test-token" not in repr(settings)


def test_it_takes_the_agent_name_and_deadline_from_the_environment():
    env = {
        **COMPLETE_ENV,
        "LIVEKIT_AGENT_NAME": "sb-staging",
        "SWITCHBOARD_CONFIG_DEADLINE_SECONDS": "2.5",
    }
    settings = load_settings(env)
    assert (settings.agent_name, settings.config_deadline_s) == ("sb-staging", 2.5)


def test_the_worker_names_the_project_it_serves():
    assert load_settings(COMPLETE_ENV).project == "default"
    settings = load_settings({**COMPLETE_ENV, "SWITCHBOARD_PROJECT": "eu-west"})
    assert settings.project == "eu-west"
    with pytest.raises(ConfigurationError) as info:
        load_settings({**COMPLETE_ENV, "SWITCHBOARD_PROJECT": "EU West"})
    assert info.value.problems[0].startswith("SWITCHBOARD_PROJECT must be a LiveKit project's")


def test_it_lists_every_problem_at_once():
    env = {
        **without("SWITCHBOARD_AGENT_TOKEN", "OPENAI_API_KEY"),
        "SWITCHBOARD_URL": "ftp://x",
        "SWITCHBOARD_CONFIG_DEADLINE_SECONDS": "60",
    }
    with pytest.raises(ConfigurationError) as info:
        load_settings(env)
    assert info.value.problems == [
        "SWITCHBOARD_AGENT_TOKEN is not set",
        "SWITCHBOARD_URL must be a http/https URL, got 'ftp://x'",
        "SWITCHBOARD_CONFIG_DEADLINE_SECONDS must be a number from 0.5 to 15",
        "OPENAI_API_KEY is not set (needed by the default models)",
    ]


def test_a_blank_variable_counts_as_missing():
    with pytest.raises(ConfigurationError, match="DEEPGRAM_API_KEY is not set"):
        load_settings({**COMPLETE_ENV, "DEEPGRAM_API_KEY": "  "})


def test_missing_provider_keys_names_each_variable_once():
    models = ["deepgram/nova-3", "openai/gpt-4o-mini", "openai/gpt-4o-mini-tts", "cartesia/sonic-3"]
    assert missing_provider_keys(models, {}) == [
        "CARTESIA_API_KEY",
        "DEEPGRAM_API_KEY",
        "OPENAI_API_KEY",
    ]
    assert missing_provider_keys(models, {"OPENAI_API_KEY": "k", "DEEPGRAM_API_KEY": "k"}) == [
        "CARTESIA_API_KEY"
    ]
    with pytest.raises(ValueError, match="unknown model provider"):
        missing_provider_keys(["elevenlabs/eleven_turbo"], {})


@pytest.mark.parametrize(
    ("slot", "value", "message"),
    [
        ("stt", "nova-3", "provider/model"),
        ("llm", "openai/", "provider/model"),
        ("llm", None, "provider/model"),
        ("llm", "anthropic/claude", "not supported"),
        ("stt", "cartesia/ink", "not supported"),
    ],
)
def test_parse_model_rejects_what_the_worker_cannot_build(slot, value, message):
    with pytest.raises(ValueError, match=message):
        parse_model(slot, value)


def test_plan_models_substitutes_a_clinic_choice_whose_key_is_missing():
    choices = {"stt": "deepgram/nova-2", "llm": "openai/gpt-4o", "tts": "cartesia/sonic-3"}
    plan = plan_models(choices, without())
    assert (str(plan.stt), str(plan.llm), str(plan.tts)) == (
        "deepgram/nova-2",
        "openai/gpt-4o",
        "openai/gpt-4o-mini-tts",
    )
    assert plan.substitutions == [
        "tts model cartesia/sonic-3 needs CARTESIA_API_KEY, which is not set; "
        "using openai/gpt-4o-mini-tts"
    ]
    plan = plan_models(choices, {**COMPLETE_ENV, "CARTESIA_API_KEY": "c"})
    assert str(plan.tts) == "cartesia/sonic-3" and plan.substitutions == []


def test_plan_models_replaces_an_unsupported_choice_with_the_default():
    plan = plan_models({"llm": "mystery/model"}, COMPLETE_ENV)
    assert str(plan.llm) == "openai/gpt-4o-mini"
    assert "not supported" in plan.substitutions[0]


def run_agent(*args, env):
    # A stripped environment: only what a Python needs to start, plus `env`.
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "agent", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_refuses_an_empty_environment_with_exit_2_and_no_traceback():
    result = run_agent("check", env={})
    assert result.returncode == 2, result.stderr
    assert "cannot start" in result.stderr
    for name in (
        "SWITCHBOARD_URL",
        "SWITCHBOARD_AGENT_TOKEN",
        "LIVEKIT_URL",
        "LIVEKIT_API_KEY",
        "LIVEKIT_API_SECRET",
        "OPENAI_API_KEY",
        "DEEPGRAM_API_KEY",
    ):
        assert f"{name} is not set" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_check_names_only_the_missing_provider_key():
    result = run_agent("check", env=without("DEEPGRAM_API_KEY"))
    assert result.returncode == 2
    assert result.stderr.splitlines()[1:] == [
        "  - DEEPGRAM_API_KEY is not set (needed by the default models)"
    ]


def test_start_refuses_before_connecting_anywhere():
    result = run_agent("start", env=without("OPENAI_API_KEY"))
    assert result.returncode == 2
    assert "OPENAI_API_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_passes_a_complete_environment_when_the_extra_is_installed():
    result = run_agent("check", env=COMPLETE_ENV)
    if importlib.util.find_spec("livekit.agents") is not None:
        assert result.returncode == 0, result.stderr
        assert "configuration OK (project=default, agent_name=switchboard-receptionist" in (
            result.stdout
        )
    else:
        assert result.returncode == 2
        assert "pip install -e '.[agent]'" in result.stderr


def test_an_unknown_command_prints_usage_and_exits_2():
    result = run_agent("bogus", env=COMPLETE_ENV)
    assert result.returncode == 2
    assert "usage: python -m agent" in result.stderr
