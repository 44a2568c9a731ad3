"""Both carrier emulators as processes: flags, readiness, signals, the control plane."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
import requests

from emulators.livekit.testing import REPO_ROOT, EmulatorError
from emulators.telnyx.config import build_parser as telnyx_parser
from emulators.telnyx.testing import TelnyxProcess
from emulators.twilio.config import build_parser as twilio_parser
from emulators.twilio.testing import TwilioProcess


@pytest.mark.parametrize(
    ("module", "parser"),
    [("emulators.twilio", twilio_parser), ("emulators.telnyx", telnyx_parser)],
)
def test_help_documents_every_flag(module, parser):
    result = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    for action in parser()._actions:
        for flag in action.option_strings:
            assert flag in result.stdout


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("process", [TwilioProcess, TelnyxProcess])
def test_signals_stop_it_cleanly(tmp_path, process, sig):
    emu = process(log_dir=tmp_path).start()
    assert emu.control.healthz() == {"ok": True}
    emu.proc.send_signal(sig)
    assert emu.proc.wait(timeout=10) == 0


def test_bad_numbers_flag_is_refused_before_listening(tmp_path):
    with pytest.raises(EmulatorError, match="exited before it was ready"):
        TwilioProcess(numbers=["555-0100"], log_dir=tmp_path).start()


def test_reset_restores_the_seeded_account(twilio_emu):
    control = twilio_emu.control
    control.post("credentials", {"auth_token": "changed"})
    control.post("numbers", {"numbers": [{"phone_number": "+14155550150"}]})
    control.add_faults([{"method": "ListTrunks", "action": "status"}])
    control.reset()
    state = control.state()
    assert [n["phone_number"] for n in state["numbers"]] == [
        "+14155550100",
        "+14155550101",
        "+14155550102",
    ]
    assert control.faults() == [] and control.requests() == []
    response = requests.get(
        f"{twilio_emu.url}/v1/Trunks",
        auth=(twilio_emu.account_sid, twilio_emu.auth_token),
        timeout=5,
    )
    assert response.status_code == 200


def test_control_plane_refuses_bad_rules_and_duplicate_numbers(telnyx_emu):
    control = telnyx_emu.control
    with pytest.raises(EmulatorError, match="unknown action"):
        control.add_faults([{"action": "explode"}])
    with pytest.raises(EmulatorError, match="already on the account"):
        control.post("numbers", {"numbers": [{"phone_number": "+13125550100"}]})


def test_request_log_names_operations(telnyx_emu):
    requests.get(f"{telnyx_emu.base_url}/phone_numbers", timeout=5)  # no key
    [row] = telnyx_emu.control.requests()
    assert (row["method"], row["code"], row["status"]) == ("ListPhoneNumbers", "10009", 401)
