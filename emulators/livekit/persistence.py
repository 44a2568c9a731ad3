"""``--state FILE``: trunks and rules survive restarts.

Writes are atomic (temporary file in the same directory, fsync, ``os.replace``, fsync of the
directory), so a crash at any moment leaves either the previous or the new complete file. Writes
are debounced: the store is snapshotted at most once per ``interval`` seconds, serialised and
written in a worker thread, and flushed once more on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from livekit.protocol import sip as proto_sip

from .store import Store

log = logging.getLogger("emulators.livekit.persistence")
FORMAT_VERSION = 1
Snapshot = tuple[list[Any], list[Any], list[Any]]


def _to_dict(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def snapshot(store: Store) -> Snapshot:
    """Cheap, on the event loop: stored messages are never mutated, so references suffice."""
    return (
        list(store.inbound.items.values()),
        list(store.outbound.items.values()),
        list(store.rules.items.values()),
    )


def serialise(snap: Snapshot) -> bytes:
    inbound, outbound, rules = snap
    document = {
        "version": FORMAT_VERSION,
        "inbound_trunks": [_to_dict(m) for m in inbound],
        "outbound_trunks": [_to_dict(m) for m in outbound],
        "dispatch_rules": [_to_dict(m) for m in rules],
    }
    return json.dumps(document, separators=(",", ":")).encode()


def write_atomic(path: Path, data: bytes) -> None:
    directory = path.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load(path: Path, store: Store) -> None:
    """Fill ``store`` from ``path``; a missing file is an empty store."""
    if not path.exists():
        return
    document = json.loads(path.read_bytes())
    if document.get("version") != FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported state file version {document.get('version')!r}")
    for raw in document.get("inbound_trunks", []):
        store.put_inbound(json_format.ParseDict(raw, proto_sip.SIPInboundTrunkInfo()))
    for raw in document.get("outbound_trunks", []):
        store.put_outbound(json_format.ParseDict(raw, proto_sip.SIPOutboundTrunkInfo()))
    for raw in document.get("dispatch_rules", []):
        store.put_rule(json_format.ParseDict(raw, proto_sip.SIPDispatchRuleInfo()))


class StateWriter:
    """Debounced writer: wakes every ``interval`` seconds and writes if the store changed."""

    def __init__(self, path: Path, store: Store, interval: float) -> None:
        self.path = path
        self.store = store
        self.interval = interval
        self._written_version = store.version
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="state-writer")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except Exception:
                log.exception("writing the state file %s failed", self.path)

    async def flush(self) -> None:
        async with self._lock:
            version = self.store.version
            if version == self._written_version:
                return
            snap = snapshot(self.store)
            data = await asyncio.to_thread(serialise, snap)
            await asyncio.to_thread(write_atomic, self.path, data)
            self._written_version = version

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
