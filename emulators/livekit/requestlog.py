"""The request log behind ``GET /_emulator/requests``: ground truth for duplicate counting.

Every Twirp call gets an entry when it arrives (``code`` null while in flight); the entry is
completed with its outcome, whether the reply was dropped, and the created object's ID for
creates, even when the reply never reached the client.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from typing import Any

Entry = dict[str, Any]


class RequestLog:
    def __init__(self, size: int) -> None:
        self.entries: deque[Entry] = deque(maxlen=max(1, size))
        self._seq = 0
        self.in_flight: Counter[str] = Counter()
        self.peak_in_flight: Counter[str] = Counter()

    def start(self, method: str, request_id: str) -> Entry:
        self._seq += 1
        entry: Entry = {
            "seq": self._seq,
            "method": method,
            "request_id": request_id,
            "started_at": time.time(),
            "at": None,
            "code": None,
            "status": None,
            "dropped": False,
            "committed": False,
            "created_id": None,
            "faults": [],
        }
        self.entries.append(entry)
        self.in_flight[method] += 1
        if self.in_flight[method] > self.peak_in_flight[method]:
            self.peak_in_flight[method] = self.in_flight[method]
        return entry

    @staticmethod
    def outcome(entry: Entry, code: str, status: int | None, *, dropped: bool = False) -> None:
        entry.update(code=code, status=status, dropped=dropped, at=time.time())

    def finish(self, entry: Entry) -> None:
        method = entry["method"]
        self.in_flight[method] -= 1
        if self.in_flight[method] <= 0:
            del self.in_flight[method]
        if entry["code"] is None:  # the client went away before any outcome was decided
            self.outcome(entry, "canceled", None, dropped=True)

    def clear(self) -> None:
        self.entries.clear()
        self.peak_in_flight = Counter(self.in_flight)

    def query(self, method: str | None, since: int) -> dict[str, Any]:
        rows = [
            dict(e)
            for e in self.entries
            if e["seq"] > since and (method is None or e["method"] == method)
        ]
        return {
            "requests": rows,
            "in_flight": dict(self.in_flight),
            "peak_in_flight": dict(self.peak_in_flight),
        }
