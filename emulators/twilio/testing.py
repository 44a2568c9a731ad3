"""``python -m emulators.twilio`` as a real subprocess, for tests (Django-free)::

with TwilioProcess(numbers=["+14155550100"]) as emu:
    emu.control.state()["numbers"]
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from emulators.carrierkit.testing import CarrierProcess

from .config import DEV_ACCOUNT_SID, DEV_AUTH_TOKEN


class TwilioProcess(CarrierProcess):
    def __init__(
        self,
        *,
        account_sid: str = DEV_ACCOUNT_SID,
        auth_token: str = DEV_AUTH_TOKEN,
        numbers: Sequence[str] = (),
        api_keys: Sequence[str] = (),
        extra_args: Sequence[str] = (),
        log_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        args = ["--account-sid", account_sid, "--auth-token", auth_token]
        if numbers:
            args += ["--numbers", ",".join(numbers)]
        for key in api_keys:
            args += ["--api-key", key]
        super().__init__("emulators.twilio", [*args, *extra_args], log_dir=log_dir)
        self.account_sid = account_sid
        self.auth_token = auth_token
