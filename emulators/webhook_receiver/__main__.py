"""``python -m emulators.webhook_receiver``: see the package docstring."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class Receiver:
    def __init__(self, state: Path | None) -> None:
        self.state = state
        self.secrets: list[str] = []
        self.fault: dict[str, Any] = {}
        self.accepted: list[dict[str, Any]] = []
        self.ids: set[str] = set()
        self.duplicates: list[str] = []
        self.rejected: list[str] = []
        self.requests = 0
        self.lock = asyncio.Lock()
        if state is not None and state.exists():
            saved = json.loads(state.read_text())
            self.accepted = saved["accepted"]
            self.duplicates = saved["duplicates"]
            self.secrets = saved["secrets"]
            self.ids = {a["id"] for a in self.accepted}

    def save(self) -> None:
        if self.state is not None:
            tmp = self.state.with_suffix(".tmp")
            tmp.write_text(
                json.dumps(
                    {
                        "accepted": self.accepted,
                        "duplicates": self.duplicates,
                        "secrets": self.secrets,
                    }
                )
            )
            tmp.replace(self.state)

    def verify(self, body: bytes, headers: dict[str, str]) -> Any:
        last: Exception = WebhookVerificationError("no secret set")
        for secret in self.secrets:
            try:
                return Webhook(secret).verify(body, headers)
            except WebhookVerificationError as exc:
                last = exc
        raise last

    async def hook(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.read()
        headers = dict(request.headers)
        try:
            payload = self.verify(body, headers)
        except WebhookVerificationError as exc:
            self.rejected.append(str(exc))
            return web.json_response({"error": str(exc)}, status=401)
        fault = self.take_fault()
        if fault.get("status"):
            return web.json_response({"error": "scripted failure"}, status=int(fault["status"]))
        if fault.get("hang_s"):
            await asyncio.sleep(float(fault["hang_s"]))
        msg_id = request.headers["webhook-id"]
        async with self.lock:
            if msg_id in self.ids:
                self.duplicates.append(msg_id)
            else:
                self.ids.add(msg_id)
                stamp = datetime.fromisoformat(payload["timestamp"].replace("Z", "+00:00"))
                self.accepted.append(
                    {
                        "id": msg_id,
                        "type": payload["type"],
                        "data": payload["data"],
                        "delay_s": round(time.time() - stamp.timestamp(), 3),
                    }
                )
            self.save()
        return web.json_response({"ok": True})

    def take_fault(self) -> dict[str, Any]:
        if not self.fault:
            return {}
        fault = dict(self.fault)
        self.fault["count"] = int(self.fault.get("count", 1)) - 1
        if self.fault["count"] <= 0:
            self.fault = {}
        return fault

    async def set_secrets(self, request: web.Request) -> web.Response:
        self.secrets = list((await request.json())["secrets"])
        self.save()
        return web.json_response({"ok": True})

    async def set_faults(self, request: web.Request) -> web.Response:
        self.fault = dict(await request.json())
        return web.json_response({"ok": True})

    async def log(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "accepted": self.accepted,
                "duplicates": self.duplicates,
                "rejected": self.rejected,
                "requests": self.requests,
            }
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulators.webhook_receiver")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state", type=Path, default=None)
    args = parser.parse_args(argv)
    receiver = Receiver(args.state)
    app = web.Application()
    app.router.add_post("/_control/secrets", receiver.set_secrets)
    app.router.add_post("/_control/faults", receiver.set_faults)
    app.router.add_get("/_control/log", receiver.log)
    app.router.add_post("/{tail:.*}", receiver.hook)

    async def serve() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, args.host, args.port)
        await site.start()
        port = runner.addresses[0][1]
        print(f"webhook receiver listening on http://{args.host}:{port}", flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
