"""A small HTTP load generator for the call-load benchmark (wrk is not always installed).

Each generator is a separate process (multiprocessing, spawn) running asyncio with raw
HTTP/1.1 over loopback: requests are built before the clock starts, each connection sends one
request and reads the whole answer before the next (closed loop, like wrk), and reconnects
when the server closes (gunicorn's sync workers answer `Connection: close`). The floor and
every other figure go through this same code, so their ratio compares like with like.

A *stream* is one connection's list of requests: either independent requests repeated in a
cycle (the floor, config fetches, dashboard polls) or one call's webhooks after another (so
a call's events arrive in the order the stream holds them). Paced streams send their next
request at `interval` seconds after the previous one was due (open loop, latency measured
from when it was due, so a slow server is not hidden by a waiting generator).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Stream:
    """One connection's work. `requests` are raw HTTP/1.1 requests; `tags` label each."""

    requests: list[bytes]
    tags: list[str]
    cycle: bool = True  # repeat the list until the time is up (else: stop at its end)
    interval: float = 0.0  # seconds between sends when paced; 0 = closed loop
    kind: str = "request"


@dataclass
class Result:
    kind: str
    # (seconds since start, latency seconds, HTTP status or 0 for an error, tag)
    samples: list[tuple[float, float, int, str]] = field(default_factory=list)
    exhausted: bool = False


def build_request(
    method: str, path: str, host: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    for key, value in (headers or {}).items():
        lines.append(f"{key}: {value}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class _Conn:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, raw: bytes) -> int:
        for attempt in (0, 1):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None
            try:
                self.writer.write(raw)
                head = await self.reader.readuntil(b"\r\n\r\n")
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt:  # a fresh connection failed too
                    raise
                continue  # a kept-alive connection the server had closed: once more
            return await self._rest(head)
        raise ConnectionError("unreachable")

    async def _rest(self, head: bytes) -> int:
        assert self.reader is not None
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length, close = 0, lines[0].startswith("HTTP/1.0")
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        if length:
            await self.reader.readexactly(length)
        if close:
            await self.close()
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def _run_stream(
    host: str, port: int, stream: Stream, start: float, until: float, result: Result
) -> None:
    conn = _Conn(host, port)
    loop = asyncio.get_running_loop()
    i, due = 0, start
    n = len(stream.requests)
    while True:
        if i >= n:
            if not stream.cycle:
                result.exhausted = loop.time() < until
                break
            i = 0
        if stream.interval:
            due += stream.interval
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
        now = loop.time()
        if now >= until:
            break
        sent = due if stream.interval else now
        try:
            status = await conn.send(stream.requests[i])
        except (OSError, asyncio.IncompleteReadError, ValueError):
            status = 0
            await conn.close()
        done = loop.time()
        result.samples.append((done - start, done - sent, status, stream.tags[i]))
        i += 1
    await conn.close()


async def _run_all(host: str, port: int, streams: list[Stream], seconds: float) -> list[Result]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    until = start + seconds
    results = [Result(kind=s.kind) for s in streams]
    pairs = zip(streams, results, strict=True)
    await asyncio.gather(*(_run_stream(host, port, s, start, until, r) for s, r in pairs))
    return results


def _child(host: str, port: int, streams: list[Stream], seconds: float, go: Any, out: Any) -> None:
    go.wait()
    results = asyncio.run(_run_all(host, port, streams, seconds))
    out.put(results)


def run(
    host: str, port: int, streams: list[Stream], seconds: float, processes: int = 2
) -> list[Result]:
    """Run the streams for `seconds`, spread over `processes` generator processes."""
    ctx = multiprocessing.get_context("spawn")
    go = ctx.Event()
    out: Any = ctx.Queue()
    shares = [streams[i::processes] for i in range(processes)]
    procs = [
        ctx.Process(target=_child, args=(host, port, share, seconds, go, out), daemon=True)
        for share in shares
        if share
    ]
    for p in procs:
        p.start()
    time.sleep(0.5)  # let each child import and reach the barrier
    go.set()
    results: list[Result] = []
    for _ in procs:
        results.extend(out.get(timeout=seconds + 120))
    for p in procs:
        p.join(30)
    return results
