"""Fetch a clinic's receptionist config from Switchboard, quickly or not at all.

The caller is already on the line when this runs, so the whole fetch has a deadline of a few
seconds (SWITCHBOARD_CONFIG_DEADLINE_SECONDS, default 4). Within it:
- transient failures (connection errors, per-attempt timeouts, 408, 429, 5xx) are retried with
  exponential backoff and full jitter; a retry that cannot finish before the deadline is not
  started;
- 404 means the platform does not serve this clinic (unknown or offboarded): ClinicNotServed,
  and the call is ended politely;
- 401/403 (a bad agent token) and malformed replies are not retried: the answer will not change;
- when no good answer arrives, the last config cached for the clinic is used if there is one
  (stale beats generic), else the neutral fallback that takes a message.

Cache: in-process, keyed by clinic and receptionist (as the job names them), holding the
config and its ETag. The request carries If-None-Match and a 304 reuses the cached body. A
config without opening hours (an older platform) whose version equals the job metadata's
config_version is used without a request; one with hours is always revalidated, since open
or closed changes with the clock (decision 0091).

The fetch says which LiveKit project the worker serves (`X-Switchboard-Project`, from
SWITCHBOARD_PROJECT); a platform that finds the clinic's calls arrive through another
project still answers, with `X-Switchboard-Project-Mismatch`, which is logged as an error
(decision 0155): the caller is served, the misdeployment is seen.

Reference: the agent config API contract in docs/agent.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

import aiohttp

from agent.clinic_config import ClinicConfig, InvalidConfig, fallback_config, parse_config
from agent.metadata import JobTarget

logger = logging.getLogger("switchboard.agent")

Source = Literal["cache", "platform", "revalidated", "stale", "fallback"]
A = TypeVar("A")
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
PROJECT_HEADER = "X-Switchboard-Project"
MISMATCH_HEADER = "X-Switchboard-Project-Mismatch"


class ClinicNotServed(Exception):
    """The platform answered 404: an unknown or offboarded clinic. End the call politely."""


@dataclass(frozen=True)
class FetchResult:
    config: ClinicConfig
    source: Source
    detail: str = ""


@dataclass(frozen=True)
class _Entry:
    config: ClinicConfig
    etag: str | None


CacheKey = tuple[uuid.UUID, int | None]


class ConfigCache:
    """A small LRU of receptionist configs with their ETags, keyed by (clinic, the job's
    receptionist or None). Not shared between processes."""

    def __init__(self, max_entries: int = 256) -> None:
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()
        self._max = max_entries

    def get(self, clinic: uuid.UUID, receptionist: int | None = None) -> _Entry | None:
        key = (clinic, receptionist)
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, config: ClinicConfig, etag: str | None, receptionist: int | None = None) -> None:
        if config.clinic is None or config.is_fallback:
            return
        key = (config.clinic, receptionist)
        self._entries[key] = _Entry(config, etag)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class _GiveUp(Exception):
    """Stop retrying; `reason` says why (for the log and FetchResult.detail)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PlatformClient:
    def __init__(
        self,
        *,
        endpoint: str,
        token: str,
        session: aiohttp.ClientSession | None = None,
        cache: ConfigCache | None = None,
        deadline_s: float = 4.0,
        attempt_timeout_s: float = 1.5,
        max_attempts: int = 4,
        backoff_base_s: float = 0.2,
        backoff_cap_s: float = 1.0,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        project: str | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._token = token
        self._project = project  # the LiveKit project this worker serves (SWITCHBOARD_PROJECT)
        self._session = session
        self._owns_session = session is None
        self.cache = cache if cache is not None else ConfigCache()
        self._deadline_s = deadline_s
        self._attempt_timeout_s = attempt_timeout_s
        self._max_attempts = max_attempts
        self._backoff_base_s = backoff_base_s
        self._backoff_cap_s = backoff_cap_s
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not crypto)
        self._sleep = sleep

    async def aclose(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> PlatformClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def fetch_config(self, target: JobTarget) -> FetchResult:
        """The config for a job's clinic; raises ClinicNotServed on 404, never anything else."""
        entry = (
            self.cache.get(target.clinic, target.receptionist)
            if target.clinic is not None
            else None
        )
        # A config that carries open/closed is asked again every call (a 304 is cheap): the
        # job's config_version does not change when the hours or the time of day do.
        if (
            entry is not None
            and entry.config.config_version == target.config_version
            and entry.config.call_time is None
        ):
            return FetchResult(entry.config, "cache")
        try:
            return await self._fetch_with_retries(target, entry)
        except _GiveUp as stop:
            reason = stop.reason
        if entry is not None:
            logger.warning(
                "clinic %s: %s; using cached config version %s",
                target.clinic,
                reason,
                entry.config.config_version,
            )
            return FetchResult(entry.config, "stale", reason)
        logger.error("%s: %s; answering with the fallback config", _describe(target), reason)
        return FetchResult(fallback_config(target.clinic), "fallback", reason)

    async def _fetch_with_retries(self, target: JobTarget, entry: _Entry | None) -> FetchResult:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._deadline_s
        last = "no attempt made"
        for attempt in range(self._max_attempts):
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                async with asyncio.timeout(min(self._attempt_timeout_s, remaining)):
                    result = await self._attempt(target, entry)
            except TimeoutError:
                last = f"attempt {attempt + 1} timed out"
            except aiohttp.ClientError as exc:
                last = f"attempt {attempt + 1} failed: {type(exc).__name__}: {exc}"
            else:
                if isinstance(result, FetchResult):
                    return result
                last = f"attempt {attempt + 1}: {result}"
            if attempt + 1 == self._max_attempts:
                break
            # Full jitter: uniform in [0, min(cap, base * 2^attempt)].
            ceiling = min(self._backoff_cap_s, self._backoff_base_s * 2**attempt)
            delay = self._rng.uniform(0, ceiling)
            if loop.time() + delay >= deadline:
                break
            await self._sleep(delay)
        raise _GiveUp(f"platform unavailable ({last})")

    async def _attempt(self, target: JobTarget, entry: _Entry | None) -> FetchResult | str:
        """One request. A FetchResult is final; a string is a retryable failure; _GiveUp stops."""
        params = {"clinic": str(target.clinic)} if target.clinic else {"room": target.room}
        if target.clinic and target.receptionist is not None:
            params["receptionist"] = str(target.receptionist)
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if entry is not None and entry.etag:
            headers["If-None-Match"] = entry.etag
        if self._project:
            headers[PROJECT_HEADER] = self._project
        async with self._http().get(
            self._endpoint, params=params, headers=headers, allow_redirects=False
        ) as resp:
            body = await resp.read()
            status = resp.status
            etag = resp.headers.get("ETag")
            mismatch = resp.headers.get(MISMATCH_HEADER)
        if mismatch and status in (200, 304):
            logger.error("%s: wrong LiveKit project: %s", _describe(target), mismatch)
        if status == 200:
            return self._accept(body, etag, target)
        if status == 304 and entry is not None:
            return FetchResult(entry.config, "revalidated")
        if status == 404:
            raise ClinicNotServed(f"{_describe(target)} is not served by this platform")
        if status in (401, 403):
            logger.critical(
                "the platform rejected the agent token (HTTP %s): every clinic "
                "gets the fallback until SWITCHBOARD_AGENT_TOKEN is fixed",
                status,
            )
            raise _GiveUp(f"agent token rejected (HTTP {status})")
        if status in RETRYABLE_STATUSES:
            return f"HTTP {status}"
        raise _GiveUp(f"unexpected HTTP {status}")

    def _accept(self, body: bytes, etag: str | None, target: JobTarget) -> FetchResult:
        try:
            config = parse_config(json.loads(body), expected_clinic=target.clinic)
        except (ValueError, InvalidConfig) as exc:  # JSONDecodeError is a ValueError
            raise _GiveUp(f"malformed agent config: {exc}") from None
        self.cache.put(config, etag, target.receptionist)
        return FetchResult(config, "platform")


_LONG_DIGITS = re.compile(r"(%2B|\+)?[0-9]{5,}")


def redact(text: str) -> str:
    """A URL or room name fit for the log: phone numbers keep their last four digits."""
    return _LONG_DIGITS.sub(lambda m: "***" + m.group(0)[-4:], text)


PostResult = Literal["stored", "already_stored", "conflict", "not_ours", "rejected", "failed"]


async def post_until_answered(
    session: aiohttp.ClientSession,
    url: str,
    payload: bytes,
    headers: dict[str, str],
    classify: Callable[[int], A | None],
    *,
    deadline_s: float,
    attempt_timeout_s: float,
    backoff_base_s: float,
    backoff_cap_s: float,
    rng: random.Random,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    max_attempts: int | None = None,
) -> tuple[A | None, str]:
    """POST the *same* payload until `classify` turns a status into an answer (None: worth
    another attempt), the deadline passes or `max_attempts` are spent. Timeouts and
    connection errors are retried with full-jitter backoff; a retry that cannot start before
    the deadline is not made. Returns the answer (None when there was none) and what the
    last attempt did, for the caller's log. Never raises for the network's sake."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    last, attempt = "no attempt made", 0
    while max_attempts is None or attempt < max_attempts:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        try:
            async with asyncio.timeout(min(attempt_timeout_s, remaining)):
                async with session.post(
                    url, data=payload, headers=headers, allow_redirects=False
                ) as resp:
                    status = resp.status
                    await resp.read()
        except TimeoutError:
            last = f"attempt {attempt + 1} timed out"
        except aiohttp.ClientError as exc:
            last = f"attempt {attempt + 1} failed: {type(exc).__name__}"
        else:
            answer = classify(status)
            if answer is not None:
                return answer, last
            last = f"attempt {attempt + 1}: HTTP {status}"
        delay = rng.uniform(0, min(backoff_cap_s, backoff_base_s * 2**attempt))
        attempt += 1
        if attempt == max_attempts or loop.time() + delay >= deadline:
            break
        await sleep(delay)
    return None, last


async def post_outcome(
    client: PlatformClient,
    url: str,
    body: dict[str, object],
    *,
    deadline_s: float = 30.0,
    attempt_timeout_s: float = 5.0,
) -> PostResult:
    """POST a call's outcome, retrying the *same* body until the platform answers.

    The platform stores one outcome per call and recognises a repeat of the same body (200),
    so a retry after a timed-out attempt that did reach it is harmless. Never raises.
    """
    payload = json.dumps(body, separators=(",", ":")).encode()
    headers = {
        "Authorization": f"Bearer {client._token}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    answer: PostResult | None
    answer, last = await post_until_answered(
        client._http(),
        url,
        payload,
        headers,
        lambda status: _outcome_answer(status, url),
        deadline_s=deadline_s,
        attempt_timeout_s=attempt_timeout_s,
        backoff_base_s=client._backoff_base_s,
        backoff_cap_s=client._backoff_cap_s,
        rng=client._rng,
        sleep=client._sleep,
        max_attempts=client._max_attempts * 2,
    )
    if answer is None:
        logger.error("outcome for %s not delivered: %s", redact(url), last)
        return "failed"
    return answer


def _outcome_answer(status: int, url: str) -> PostResult | None:
    """What the platform's answer to an outcome post means; None: worth another attempt."""
    if status == 201:
        return "stored"
    if status == 200:
        return "already_stored"
    if status == 409:
        logger.error("outcome for %s: a different outcome was already stored", redact(url))
        return "conflict"
    if status == 404:
        logger.warning("outcome for %s: the platform does not know this call", redact(url))
        return "not_ours"
    if status not in RETRYABLE_STATUSES:
        logger.error("outcome for %s: refused with HTTP %s", redact(url), status)
        return "rejected"
    return None


def _describe(target: JobTarget) -> str:
    return f"clinic {target.clinic}" if target.clinic else f"room {target.room!r}"
