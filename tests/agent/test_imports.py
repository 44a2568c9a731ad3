"""agent/ must import (and `check` must answer) without the livekit-agents extra."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter whose import system refuses livekit.agents and livekit.plugins,
# whether or not this machine has them installed.
SCRIPT = textwrap.dedent(
    """
    import importlib.abc, sys

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.startswith(("livekit.agents", "livekit.plugins")):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Block())

    import agent, agent.config, agent.metadata, agent.clinic_config
    import agent.platform_client, agent.consent, agent.worker, agent.__main__
    loaded = sorted(m for m in sys.modules if m.startswith(("livekit.agents", "livekit.plugins")))
    assert loaded == [], loaded

    env = {
        "SWITCHBOARD_URL": "http://127.0.0.1:8000", "SWITCHBOARD_AGENT_TOKEN": "t",
        "LIVEKIT_URL": "ws://127.0.0.1:7880", "LIVEKIT_API_KEY": "k", "LIVEKIT_API_SECRET": "s",
        "OPENAI_API_KEY": "o", "DEEPGRAM_API_KEY": "d",
    }
    sys.exit(agent.__main__.main(["check"], env))
    """
)


def test_agent_imports_without_livekit_agents_and_check_says_what_to_install():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "livekit.agents" in result.stderr
    assert "pip install -e '.[agent]'" in result.stderr
    assert "Traceback" not in result.stderr
