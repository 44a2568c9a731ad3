"""`make browser-check`: Chromium present, installed by apt as root, or the exact command."""

from __future__ import annotations

import pytest

from tools import check_browser


@pytest.fixture
def calls(monkeypatch):
    recorded: list[list[str]] = []
    monkeypatch.setattr(check_browser.shutil, "which", lambda name: f"/usr/bin/{name}")
    return recorded


def test_present_chromium_needs_nothing(tmp_path, calls, monkeypatch):
    chromium = tmp_path / "chromium"
    chromium.touch()
    monkeypatch.setattr(check_browser, "_run", lambda c: calls.append(c) or 0)
    assert check_browser.main(chromium) == 0
    assert calls == []


def test_root_with_apt_installs_it(tmp_path, calls, monkeypatch):
    chromium = tmp_path / "chromium"

    def run(command):
        calls.append(command)
        chromium.touch()
        return 0

    monkeypatch.setattr(check_browser, "_run", run)
    monkeypatch.setattr(check_browser.os, "geteuid", lambda: 0)
    assert check_browser.main(chromium) == 0
    assert calls == [["apt-get", "install", "-y", "chromium"]]


def test_empty_package_lists_are_updated_once(tmp_path, calls, monkeypatch):
    chromium = tmp_path / "chromium"
    results = iter([100, 0, 0])  # install fails, update works, install works

    def run(command):
        calls.append(command)
        rc = next(results)
        if command[1] == "install" and rc == 0:
            chromium.touch()
        return rc

    monkeypatch.setattr(check_browser, "_run", run)
    monkeypatch.setattr(check_browser.os, "geteuid", lambda: 0)
    assert check_browser.main(chromium) == 0
    assert [c[1] for c in calls] == ["install", "update", "install"]


def test_a_failed_install_exits_non_zero(tmp_path, calls, monkeypatch, capsys):
    monkeypatch.setattr(check_browser, "_run", lambda c: calls.append(c) or 100)
    monkeypatch.setattr(check_browser.os, "geteuid", lambda: 0)
    assert check_browser.main(tmp_path / "chromium") == 1
    assert "Installing Chromium failed" in capsys.readouterr().out


def test_without_root_it_prints_the_command(tmp_path, calls, monkeypatch, capsys):
    monkeypatch.setattr(check_browser, "_run", lambda c: calls.append(c) or 0)
    monkeypatch.setattr(check_browser.os, "geteuid", lambda: 1000)
    assert check_browser.main(tmp_path / "chromium") == 1
    assert calls == []
    assert "sudo apt-get install -y chromium" in capsys.readouterr().out
