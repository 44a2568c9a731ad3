"""No import cycles among the project's modules, function-level imports included."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tools.import_graph import build_graph, cycles, project_modules


def test_the_project_has_no_import_cycles():
    assert cycles(build_graph()) == []


def test_every_top_level_package_is_read_but_the_tests_and_benchmarks():
    read = {name.split(".")[0] for name in project_modules()}
    assert {"audit", "twofactor", "telephony", "tools"} <= read
    assert not read & {"tests", "bench"}


def test_nothing_below_the_celery_adapters_imports_them():
    """telephony.tasks (the Celery adapters) is imported by nothing of the project: the
    services publish tasks by name (telephony/task_names.py)."""
    graph = build_graph()
    assert [m for m, targets in graph.items() if "telephony.tasks" in targets] == []


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_a_cycle_closed_inside_a_function_is_found(tmp_path, monkeypatch):
    import tools.import_graph as ig

    _write(
        tmp_path,
        {
            "telephony/__init__.py": "",
            "telephony/a.py": "from telephony import b\n",
            "telephony/b.py": "def f():\n    from telephony.a import x\n",
            "telephony/c.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from telephony import a\n"
            ),
        },
    )
    monkeypatch.setattr(ig, "PACKAGES", ("telephony",))

    found = cycles(build_graph(tmp_path))

    assert found == [["telephony.a", "telephony.b"]]


def test_relative_imports_resolve(tmp_path, monkeypatch):
    import tools.import_graph as ig

    _write(
        tmp_path,
        {
            "emulators/__init__.py": "",
            "emulators/livekit/__init__.py": "",
            "emulators/livekit/server.py": "from .store import Store\nfrom . import control\n",
            "emulators/livekit/store.py": "class Store: ...\n",
            "emulators/livekit/control.py": "from .server import x\n",
        },
    )
    monkeypatch.setattr(ig, "PACKAGES", ("emulators",))

    graph = build_graph(tmp_path)

    assert graph["emulators.livekit.server"] == {
        "emulators.livekit.store",
        "emulators.livekit.control",
    }
    assert cycles(graph) == [["emulators.livekit.control", "emulators.livekit.server"]]
