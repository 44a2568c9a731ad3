"""Module and function sizes: no module over MAX_MODULE_LINES, no function over MAX_FUNCTION_LINES.

`python -m tools.size_check` prints each one over the limit (exit 1 if there is one). Run by
`make lint` and by tests/tools/test_size_check.py. Migrations are generated and not counted.
A function's size runs from its `def` line to its last line (decorators excluded, nested
functions included); a nested function is also checked on its own.

Reads source with `ast`; imports nothing of the project.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Every top-level package is the project's code, but for the tests and the benchmarks.
NOT_CHECKED = frozenset({"tests", "bench"})
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50

# Modules allowed over the limits. Empty since the provisioning engine (issue 13); add nothing.
ALLOWLIST: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Finding:
    path: str  # relative to the root, with forward slashes
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def packages(root: Path = REPO_ROOT) -> list[str]:
    """The top-level packages checked: each directory with an `__init__.py`, so a new app is
    checked from its first commit."""
    return sorted(
        path.parent.name
        for path in root.glob("*/__init__.py")
        if path.parent.name not in NOT_CHECKED
    )


def source_files(root: Path = REPO_ROOT) -> list[Path]:
    found = []
    for package in packages(root):
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" not in path.relative_to(root).parts:
                found.append(path)
    return found


def check_source(text: str, path: str) -> list[Finding]:
    """What is over the limits in one module's source."""
    findings = []
    lines = len(text.splitlines())
    if lines > MAX_MODULE_LINES:
        findings.append(
            Finding(path, 1, f"module has {lines} lines (limit {MAX_MODULE_LINES}): split it")
        )
    for node in ast.walk(ast.parse(text, filename=path)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            size = (node.end_lineno or node.lineno) - node.lineno + 1
            if size > MAX_FUNCTION_LINES:
                findings.append(
                    Finding(
                        path,
                        node.lineno,
                        f"function {node.name} has {size} lines "
                        f"(limit {MAX_FUNCTION_LINES}): split it",
                    )
                )
    return sorted(findings, key=lambda f: f.line)


def check(root: Path = REPO_ROOT, allowlist: frozenset[str] = ALLOWLIST) -> list[Finding]:
    """Every finding under root, plus allowlist entries that are missing or now fit."""
    findings: list[Finding] = []
    seen = set()
    for file in source_files(root):
        rel = file.relative_to(root).as_posix()
        found = check_source(file.read_text(), rel)
        if rel in allowlist:
            seen.add(rel)
            if not found:
                findings.append(Finding(rel, 1, "within the limits: remove it from ALLOWLIST"))
            continue
        findings.extend(found)
    for rel in sorted(allowlist - seen):
        findings.append(Finding(rel, 1, "no such module: remove it from ALLOWLIST"))
    return findings


def main(argv: list[str] | None = None) -> int:
    findings = check()
    for finding in findings:
        print(finding)
    if not findings:
        print(
            f"no module over {MAX_MODULE_LINES} lines, no function over {MAX_FUNCTION_LINES} lines"
        )
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
