"""The emulator as a process: flags, signals, persistence, crash safety, webhooks, loopback."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading

import pytest
from aiohttp import web
from livekit import api

from emulators.livekit.config import build_parser
from emulators.livekit.testing import REPO_ROOT, EmulatorProcess

from .conftest import SECRET, run_api
from .helpers import direct_rule, inbound, individual_rule, raw


def test_help_documents_every_flag():
    result = subprocess.run(
        [sys.executable, "-m", "emulators.livekit", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    for action in build_parser()._actions:
        for flag in action.option_strings:
            assert flag in result.stdout


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_it_cleanly(tmp_path, sig):
    emu = EmulatorProcess(api_secret=SECRET, log_dir=tmp_path).start()
    os.kill(emu.pid, sig)
    assert emu.proc.wait(timeout=10) == 0


def test_secret_comes_from_the_environment_when_the_flag_is_absent(tmp_path):
    env_secret = "from-the-environment-0123456789-abcdef"
    with EmulatorProcess(
        api_secret=None, env={"LIVEKIT_API_SECRET": env_secret}, log_dir=tmp_path
    ) as emu:
        assert (
            run_api(emu, lambda c: c.sip.list_inbound_trunk(api.ListSIPInboundTrunkRequest())).items
            == []
        )


def test_state_survives_a_restart(tmp_path):
    state = tmp_path / "state.json"
    with EmulatorProcess(api_secret=SECRET, state=state, log_dir=tmp_path) as emu:
        trunk = run_api(
            emu, lambda c: c.sip.create_inbound_trunk(inbound(["+15550006000"], name="kept"))
        )
        rule = run_api(
            emu, lambda c: c.sip.create_dispatch_rule(individual_rule([trunk.sip_trunk_id]))
        )
    with EmulatorProcess(api_secret=SECRET, state=state, log_dir=tmp_path) as emu:
        items = run_api(
            emu, lambda c: c.sip.list_inbound_trunk(api.ListSIPInboundTrunkRequest())
        ).items
        assert list(items) == [trunk]
        rules = run_api(
            emu, lambda c: c.sip.list_dispatch_rule(api.ListSIPDispatchRuleRequest())
        ).items
        assert list(rules) == [rule]
        with pytest.raises(api.TwirpError):  # indexes rebuilt: the conflict is still seen
            run_api(emu, lambda c: c.sip.create_inbound_trunk(inbound(["15550006000"])))


def test_kill_9_during_writes_leaves_a_loadable_state_file(tmp_path):
    state = tmp_path / "state.json"
    emu = EmulatorProcess(
        api_secret=SECRET,
        state=state,
        log_dir=tmp_path,
        extra_args=["--state-flush-interval", "0.005"],
    ).start()

    async def writer():
        async with api.LiveKitAPI(emu.url, emu.api_key, emu.api_secret) as lk:
            for i in range(300):
                await lk.sip.create_inbound_trunk(inbound([f"+1555100{i:04d}"]))
                if i == 150:
                    await asyncio.to_thread(emu.control.wait_for, state.exists)
                    emu.kill()  # mid-stream, while the writer is busy
                    return

    asyncio.run(writer())
    document = json.loads(state.read_bytes())
    assert 0 < len(document["inbound_trunks"]) <= 151
    with EmulatorProcess(api_secret=SECRET, state=state, log_dir=tmp_path) as again:
        assert again.control.healthz()["inbound_trunks"] == len(document["inbound_trunks"])


def test_unconfirmed_choices_behind_flags(tmp_path):
    flags = [
        "--honour-list-limit",
        "--strict-update-conflicts",
        "--set-timestamps",
        "--require-trunk-for-calls",
    ]
    with EmulatorProcess(api_secret=SECRET, extra_args=flags, log_dir=tmp_path) as emu:
        t1 = run_api(emu, lambda c: c.sip.create_inbound_trunk(inbound(["+15550007000"])))
        t2 = run_api(emu, lambda c: c.sip.create_inbound_trunk(inbound(["+15550007001"])))
        assert t1.HasField("created_at") and t1.HasField("updated_at")
        page = api.ListSIPInboundTrunkRequest(page=api.Pagination(limit=1))
        assert len(run_api(emu, lambda c: c.sip.list_inbound_trunk(page)).items) == 1
        with pytest.raises(api.ServerError) as caught:  # the OSS update gap is closed
            run_api(
                emu,
                lambda c: c.sip.update_inbound_trunk(
                    t2.sip_trunk_id, api.SIPInboundTrunkInfo(numbers=["+15550007000"])
                ),
            )
        assert caught.value.code == "invalid_argument"
        r2 = run_api(emu, lambda c: c.sip.create_dispatch_rule(individual_rule(["ST_b"])))
        run_api(emu, lambda c: c.sip.create_dispatch_rule(individual_rule(["ST_a"])))
        with pytest.raises(api.TwirpError):
            run_api(
                emu,
                lambda c: c.sip.update_dispatch_rule_fields(
                    r2.sip_dispatch_rule_id, trunk_ids=api.ListUpdate(set=["ST_a"])
                ),
            )
        run_api(emu, lambda c: c.sip.create_dispatch_rule(direct_rule("catchall")))
        assert emu.control.call("+1", "+19999999999")["result"] == "no_trunk"


def _non_loopback_ip() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent for UDP connect
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.mark.parametrize(("flags", "expected"), [([], 403), (["--allow-remote-control"], 200)])
def test_control_plane_refuses_non_loopback_peers(tmp_path, flags, expected):
    address = _non_loopback_ip()
    if address is None:
        pytest.skip("no non-loopback address on this machine")
    with EmulatorProcess(
        api_secret=SECRET, host="0.0.0.0", extra_args=flags, log_dir=tmp_path
    ) as emu:
        assert (
            raw(f"http://{address}:{emu.port}", "/_emulator/healthz", method="GET")[0] == expected
        )
        assert raw(f"http://127.0.0.1:{emu.port}", "/_emulator/healthz", method="GET")[0] == 200


class Receiver:
    """A tiny aiohttp webhook receiver on its own thread and loop."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((await request.text(), request.headers.get("Authorization", "")))
        return web.Response(text="ok")

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_post("/webhooks/livekit", self.handle)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = self.runner.addresses[0][1]
        self.ready.set()
        self.loop.run_forever()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def test_webhooks_are_signed_like_livekit(tmp_path):
    receiver = Receiver()
    thread = threading.Thread(target=receiver.run, daemon=True)
    thread.start()
    assert receiver.ready.wait(10)
    url = f"http://127.0.0.1:{receiver.port}/webhooks/livekit"
    try:
        with EmulatorProcess(api_secret=SECRET, webhook_url=url, log_dir=tmp_path) as emu:
            t = run_api(emu, lambda c: c.sip.create_inbound_trunk(inbound(["+15550008000"])))
            run_api(
                emu,
                lambda c: c.sip.create_dispatch_rule(
                    individual_rule([t.sip_trunk_id], prefix="wh")
                ),
            )
            result = emu.control.call("+15557654321", "+15550008000")
            emu.control.wait_webhooks_delivered()  # "pending" reaches 0 only once all 4 are
            assert len(receiver.received) == 4
    finally:
        receiver.stop()
    verifier = api.WebhookReceiver(api.TokenVerifier(emu.api_key, emu.api_secret))
    events = [verifier.receive(body, auth) for body, auth in receiver.received]
    assert [e.event for e in events] == [
        "room_started",
        "participant_joined",
        "participant_left",
        "room_finished",
    ]
    assert {e.room.name for e in events} == {result["room_name"]}
    assert events[1].participant.identity == "sip_+15557654321"
    forged = api.WebhookReceiver(
        api.TokenVerifier(emu.api_key, "another-secret-0123456789-abcdefgh")
    )
    with pytest.raises(Exception):
        forged.receive(*receiver.received[0])


def test_failed_webhook_delivery_is_logged_not_fatal(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    with EmulatorProcess(
        api_secret=SECRET, webhook_url=f"http://127.0.0.1:{dead}/x", log_dir=tmp_path
    ) as emu:
        run_api(emu, lambda c: c.sip.create_dispatch_rule(direct_rule("r")))
        assert emu.control.call("+1", "+2")["result"] == "dispatch"
        emu.control.wait_webhooks_delivered()  # a failed post is done with too
        rows = emu.control.webhooks()
        assert len(rows) == 4 and all(r["error"] for r in rows)


def test_reword_errors_keeps_code_and_status_but_not_livekits_words(tmp_path):
    """--reword-errors: the same invalid_argument in other words (official client lib)."""
    with EmulatorProcess(
        api_secret=SECRET, extra_args=["--reword-errors"], log_dir=tmp_path
    ) as emu:
        run_api(emu, lambda c: c.sip.create_inbound_trunk(inbound(["+14155550190"])))
        with pytest.raises(api.ServerError) as caught:
            run_api(emu, lambda c: c.sip.create_inbound_trunk(inbound(["+14155550190"])))
        assert caught.value.code == "invalid_argument" and caught.value.status == 400
        assert "reworded" in caught.value.message
        assert "Conflicting" not in caught.value.message
        assert "+14155550190" not in caught.value.message
        # Without the flag the same call answers LiveKit's wording (test_trunks.py).
