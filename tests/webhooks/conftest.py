"""A real HTTP receiver in this process, scripted per test, and helpers for endpoints."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from webhooks import services


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """Answers with the scripted replies in turn (then 200), and keeps what it got."""

    def __init__(self) -> None:
        self.replies: queue.Queue[Reply] = queue.Queue()
        self.seen: list[Seen] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.seen.append(
                    Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                try:
                    reply = receiver.replies.get_nowait()
                except queue.Empty:
                    reply = Reply()
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(reply.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def script(self, *replies: Reply) -> None:
        for r in replies:
            self.replies.put(r)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def allow_private(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS = True


@pytest.fixture
def receiver(allow_private) -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def published(monkeypatch):
    """Deliveries published to Celery, recorded instead of sent to the broker."""
    calls: list[tuple[list[int], float]] = []
    monkeypatch.setattr(
        "webhooks.events.publish", lambda ids, countdown=0: calls.append((list(ids), countdown))
    )
    return calls


def make_endpoint(clinic, url="https://hooks.example.com/switchboard", events=None, **kw):
    endpoint, secret = services.endpoint_create(
        clinic=clinic,
        url=url,
        chosen=events or ["call.started", "call.ended", "message.taken"],
        **kw,
    )
    return endpoint, secret
