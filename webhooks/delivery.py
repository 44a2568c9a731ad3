"""Sending one delivery: claim it, sign it, POST it to the checked address, record the result.

- claim: under the endpoint's row lock, a pending, due, unleased delivery is leased to this
  worker unless the endpoint already has WEBHOOKS_ENDPOINT_CONCURRENCY deliveries in flight
  (one slow receiver then holds that many worker threads, never all of them);
- send: the URL is checked again after DNS (webhooks/destinations.py) and the connection goes
  to the checked address; no redirects; a timeout on connecting and on every read, and the
  response body is read up to RESPONSE_MAX_BYTES within the same deadline;
- record: 2xx delivers, 410 disables the endpoint, anything else schedules the next attempt
  (WEBHOOKS_RETRY_SCHEDULE, with jitter) until the schedule is spent. An endpoint failing for
  WEBHOOKS_DISABLE_AFTER_SECONDS is disabled and its clinic's owners are emailed.

A worker killed mid-send leaves its lease to expire; the sweeper then publishes the delivery
again. The receiver may so see one event twice, always with the same webhook-id.
"""

from __future__ import annotations

import json
import logging
import random
import ssl
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import urllib3
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tenants.models import Membership
from webhooks import destinations, signing
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

logger = logging.getLogger(__name__)

RESPONSE_MAX_BYTES = 16 * 1024
EXCERPT_CHARS = 500
USER_AGENT = "Switchboard-Webhooks/1"
# A due delivery may arrive this much early (clock differences between processes).
EARLY_TOLERANCE = timedelta(seconds=1)


def lease_seconds() -> float:
    """Connect, first byte and body each take at most the timeout; then some slack."""
    return 3 * settings.WEBHOOKS_TIMEOUT_SECONDS + 10


def retry_delay(attempts: int, rng: random.Random | None = None) -> float | None:
    """Seconds until the next attempt after `attempts` failed ones (None: give up).

    Never earlier than the schedule, up to 20 % later (decision 0050)."""
    schedule = settings.WEBHOOKS_RETRY_SCHEDULE
    if attempts >= len(schedule):
        return None
    base = float(schedule[attempts])
    return base * (rng or random).uniform(1.0, 1.2)


@dataclass(frozen=True)
class Claim:
    delivery: WebhookDelivery
    endpoint: WebhookEndpoint
    event: WebhookEvent
    owner: str


BUSY = "busy"
# Retries due within this many seconds are published with a countdown; later ones are found
# by the sweeper.
SHORT_RETRY_SECONDS = 300


def claim(delivery_id: int) -> Claim | str | None:
    """Lease the delivery to this worker; None if there is nothing to do, BUSY if the
    endpoint is at its concurrency cap."""
    now = timezone.now()
    endpoint_id = (
        WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
        .values_list("endpoint_id", flat=True)
        .first()
    )
    if endpoint_id is None:
        return None
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
        if endpoint is None or not endpoint.enabled:
            return None
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .select_related("event")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
            return None
        if delivery.next_attempt_at and delivery.next_attempt_at > now + EARLY_TOLERANCE:
            return None  # a stale or early message: the delivery's own time is not yet
        if delivery.lease_until and delivery.lease_until > now:
            return None  # another worker is sending it
        in_flight = (
            WebhookDelivery.objects.filter(endpoint_id=endpoint_id, lease_until__gt=now)
            .exclude(pk=delivery_id)
            .count()
        )
        if in_flight >= settings.WEBHOOKS_ENDPOINT_CONCURRENCY:
            if not endpoint.has_waiting:
                WebhookEndpoint.objects.filter(pk=endpoint_id).update(has_waiting=True)
            return BUSY
        owner = uuid.uuid4().hex
        delivery.lease_until = now + timedelta(seconds=lease_seconds())
        delivery.lease_owner = owner
        delivery.attempts += 1
        delivery.save(update_fields=["lease_until", "lease_owner", "attempts"])
    return Claim(delivery, endpoint, delivery.event, owner)


@dataclass(frozen=True)
class Result:
    status_code: int | None
    latency_ms: int | None
    error: str
    excerpt: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def body_of(event: WebhookEvent) -> bytes:
    return json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False).encode()


def signing_secrets(endpoint: WebhookEndpoint) -> list[str]:
    keys = [endpoint.secret]
    until = endpoint.previous_secret_until
    if endpoint.previous_secret and until and until > timezone.now():
        keys.append(endpoint.previous_secret)
    return keys


def send(endpoint: WebhookEndpoint, event: WebhookEvent) -> Result:
    try:
        dest = destinations.check(endpoint.url)
    except destinations.DestinationRefused as exc:
        return Result(None, None, f"Not sent: {exc}", "")
    body = body_of(event)
    headers = signing.headers(
        msg_id=event.webhook_id,
        timestamp=timezone.now(),
        body=body,
        secrets_=signing_secrets(endpoint),
    )
    headers.update(
        {
            "Host": dest.host_header,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
    )
    return post(dest, body, headers, settings.WEBHOOKS_TIMEOUT_SECONDS)


def _pool(dest: destinations.Destination, timeout: float) -> urllib3.HTTPConnectionPool:
    limits = urllib3.Timeout(connect=timeout, read=timeout)
    if dest.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            dest.address,
            dest.port,
            timeout=limits,
            retries=False,
            maxsize=1,
            ssl_context=ssl.create_default_context(),
            server_hostname=dest.host,
            assert_hostname=dest.host,
        )
    return urllib3.HTTPConnectionPool(
        dest.address, dest.port, timeout=limits, retries=False, maxsize=1
    )


def post(
    dest: destinations.Destination, body: bytes, headers: dict[str, str], timeout: float
) -> Result:
    """One POST to the checked address; never raises for network trouble."""
    started = time.monotonic()
    deadline = started + timeout

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

    pool = _pool(dest, timeout)
    try:
        response = pool.urlopen(
            "POST",
            dest.target,
            body=body,
            headers=headers,
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
    except urllib3.exceptions.HTTPError as exc:
        pool.close()
        return Result(None, elapsed(), _sentence(exc, timeout), "")
    latency = elapsed()
    chunks: list[bytes] = []
    size = 0
    try:
        while size < RESPONSE_MAX_BYTES and time.monotonic() < deadline:
            chunk = response.read(min(4096, RESPONSE_MAX_BYTES - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except urllib3.exceptions.HTTPError:
        pass  # the status is what counts; a body cut short only shortens the excerpt
    finally:
        response.release_conn()
        pool.close()
    excerpt = b"".join(chunks).decode("utf-8", errors="replace")[:EXCERPT_CHARS]
    error = ""
    if 300 <= response.status < 400:
        error = "Redirects are not followed: point the endpoint at the final URL."
    return Result(response.status, latency, error, excerpt)


def _sentence(exc: Exception, timeout: float) -> str:
    # NewConnectionError subclasses ConnectTimeoutError in urllib3 2: test it first.
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return "Connection refused or unreachable."
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
        return f"Could not connect within {timeout:g} s."
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
        return f"No answer within {timeout:g} s."
    if isinstance(exc, urllib3.exceptions.SSLError):
        return "TLS failed (is the certificate valid for this host name?)."
    if isinstance(exc, urllib3.exceptions.ProtocolError):
        return "The connection was closed before an answer."
    return f"Request failed: {type(exc).__name__}."


@dataclass(frozen=True)
class Recorded:
    status: str
    retry_in: float | None
    endpoint_disabled: bool


def record(c: Claim, result: Result) -> Recorded | None:
    """Store the attempt and decide what comes next; None if the lease was lost."""
    now = timezone.now()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=c.endpoint.pk)
        delivery = WebhookDelivery.objects.select_for_update().get(pk=c.delivery.pk)
        WebhookAttempt.objects.create(
            delivery=delivery,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            error=result.error[:300],
            response_excerpt=result.excerpt,
        )
        if delivery.lease_owner != c.owner:
            return None  # our lease expired and another worker took over: it decides
        delivery.lease_until = None
        delivery.lease_owner = ""
        delivery.last_status_code = result.status_code
        delivery.last_latency_ms = result.latency_ms
        delivery.last_error = result.error[:300]
        retry_in: float | None = None
        disabled = False
        if result.ok:
            delivery.status = WebhookDelivery.Status.SUCCEEDED
            delivery.finished_at = now
            if endpoint.failing_since is not None:
                endpoint.failing_since = None
                endpoint.save(update_fields=["failing_since", "updated_at"])
        elif result.status_code == 410:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.finished_at = now
            disabled = _disable(endpoint, "Your system said it wants no more events (410 Gone).")
        else:
            retry_in, disabled = _after_failure(endpoint, delivery, now)
        delivery.save()
        if endpoint.has_waiting and endpoint.enabled:
            _start_waiting(endpoint)
    return Recorded(delivery.status, retry_in, disabled)


def _start_waiting(endpoint: WebhookEndpoint) -> None:
    """Fill the endpoint's free slots with its due deliveries (under its row lock)."""
    from webhooks.events import publish_on_commit

    now = timezone.now()
    in_flight = WebhookDelivery.objects.filter(endpoint=endpoint, lease_until__gt=now).count()
    free = max(1, settings.WEBHOOKS_ENDPOINT_CONCURRENCY - in_flight)
    waiting = next_for_endpoint(endpoint.pk, free)
    if waiting:
        publish_on_commit(waiting)
    else:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(has_waiting=False)


def _after_failure(
    endpoint: WebhookEndpoint, delivery: WebhookDelivery, now: datetime
) -> tuple[float | None, bool]:
    """Schedule the next attempt (or give up); disable an endpoint failing for too long."""
    if endpoint.failing_since is None:
        endpoint.failing_since = now
        endpoint.save(update_fields=["failing_since", "updated_at"])
    retry_in = retry_delay(delivery.attempts)
    if retry_in is None:
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.finished_at = now
    else:
        delivery.next_attempt_at = now + timedelta(seconds=retry_in)
    failing_for = (now - endpoint.failing_since).total_seconds()
    disabled = False
    if failing_for >= settings.WEBHOOKS_DISABLE_AFTER_SECONDS:
        days = failing_for / 86400
        disabled = _disable(
            endpoint,
            f"Nothing could be delivered for {days:.1f} days; turn it on when your system works.",
        )
    return retry_in, disabled


def _disable(endpoint: WebhookEndpoint, reason: str) -> bool:
    if not endpoint.enabled:
        return False
    endpoint.enabled = False
    endpoint.disabled_reason = reason
    endpoint.save(update_fields=["enabled", "disabled_reason", "updated_at"])
    logger.warning(
        "webhook endpoint %s of clinic %s disabled: %s", endpoint.pk, endpoint.clinic_id, reason
    )
    endpoint_id, clinic_id = endpoint.pk, endpoint.clinic_id
    transaction.on_commit(lambda: email_owners(clinic_id, endpoint_id, reason), robust=True)
    return True


def email_owners(clinic_id: uuid.UUID, endpoint_id: uuid.UUID, reason: str) -> None:
    endpoint = WebhookEndpoint.objects.select_related("clinic").filter(pk=endpoint_id).first()
    if endpoint is None:
        return
    owners = list(
        Membership.objects.filter(clinic_id=clinic_id, role=Membership.Role.OWNER).values_list(
            "user__email", flat=True
        )
    )
    if not owners:
        return
    send_mail(
        f"Webhooks to {endpoint.url} are paused",
        f"Switchboard stopped sending events of {endpoint.clinic.name} to {endpoint.url}.\n\n"
        f"{reason}\n\nNothing is lost: when that system works again, turn the address back on "
        "in Settings, Webhooks, and everything kept meanwhile is sent.\n",
        None,
        owners,
    )


def next_for_endpoint(endpoint_id: uuid.UUID, limit: int) -> list[int]:
    """Due, unleased deliveries of one endpoint, oldest first (to fill freed slots)."""
    now = timezone.now()
    return list(
        WebhookDelivery.objects.filter(
            endpoint_id=endpoint_id,
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at__lte=now,
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def deliver(delivery_id: int) -> str:
    """Claim, send, record. Returns what happened (for logs and tests)."""
    c = claim(delivery_id)
    if c is None:
        return "nothing to do"
    if c == BUSY:
        return BUSY
    assert isinstance(c, Claim)
    result = send(c.endpoint, c.event)
    outcome = record(c, result)
    if outcome is None:
        return "lease lost"
    if outcome.retry_in is not None and outcome.retry_in <= SHORT_RETRY_SECONDS:
        from webhooks.events import publish

        publish([delivery_id], countdown=outcome.retry_in)
    # Longer waits are left to the sweeper (a broker holds countdown messages in memory).
    return outcome.status
