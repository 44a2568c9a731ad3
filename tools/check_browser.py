"""`make test` preflight: the browser tests drive Debian's Chromium at /usr/bin/chromium.

When it is missing: as root with apt available, install it (`apt-get install -y chromium`,
after an `apt-get update` if the package lists are empty); otherwise print the exact command
and exit non-zero. Playwright's own browser download is never used.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
INSTALL = ["apt-get", "install", "-y", "chromium"]
UPDATE = ["apt-get", "update"]


def _run(command: list[str]) -> int:
    print("+ " + " ".join(command), flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.call(command, env=env)  # noqa: S603 (fixed argument lists)


def main(chromium: Path = CHROMIUM) -> int:
    if chromium.exists():
        return 0
    print(f"{chromium} is missing; the browser tests (tests/e2e/test_browser.py) need it.")
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if is_root and shutil.which("apt-get"):
        if _run(INSTALL) != 0 and (_run(UPDATE) != 0 or _run(INSTALL) != 0):
            print("Installing Chromium failed; see apt's messages above.")
            return 1
        if chromium.exists():
            return 0
        print(f"apt installed chromium, but {chromium} is still missing.")
        return 1
    prefix = "" if is_root else "sudo "
    print(f"Install it with:\n  {prefix}{' '.join(INSTALL)}")
    if not shutil.which("apt-get"):
        print(f"(No apt here: install Chromium so that it runs as {chromium}.)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
