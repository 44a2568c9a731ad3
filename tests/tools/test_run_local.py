"""`make run` writes .env.local once, for the commands run in another terminal."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tools import run_local

ROOT = Path(__file__).resolve().parents[2]


def test_the_first_start_writes_local_settings_with_debug_on(tmp_path):
    assert run_local.write_local_settings(tmp_path) is True
    lines = (tmp_path / ".env.local").read_text().splitlines()
    assert "DEBUG=true" in lines
    assert not [line for line in lines if line.startswith(("SECRET_KEY", "FIELD_", "LIVEKIT_"))]


def test_an_existing_local_settings_file_is_never_overwritten(tmp_path):
    (tmp_path / ".env.local").write_text("DEBUG=false\nSECRET_KEY=mine\n")
    assert run_local.write_local_settings(tmp_path) is False
    assert (tmp_path / ".env.local").read_text() == "DEBUG=false\nSECRET_KEY=mine\n"


def test_the_local_settings_file_is_git_ignored():
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", "-q", ".env.local"], cwd=ROOT, check=False
    )
    assert result.returncode == 0
