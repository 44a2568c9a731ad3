"""``python -m emulators.telnyx`` as a real subprocess, for tests (Django-free)::

with TelnyxProcess(numbers=["+13125550100"]) as emu:
    emu.control.state()["numbers"]
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from emulators.carrierkit.testing import CarrierProcess

from .config import DEV_API_KEY


class TelnyxProcess(CarrierProcess):
    def __init__(
        self,
        *,
        api_key: str = DEV_API_KEY,
        numbers: Sequence[str] = (),
        extra_args: Sequence[str] = (),
        log_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        args = ["--api-key", api_key]
        if numbers:
            args += ["--numbers", ",".join(numbers)]
        super().__init__("emulators.telnyx", [*args, *extra_args], log_dir=log_dir)
        self.telnyx_api_key = api_key

    @property
    def base_url(self) -> str:
        """What Telnyx's client takes as ``base_url`` (its paths follow ``/v2``)."""
        return f"{self.url}/v2"
