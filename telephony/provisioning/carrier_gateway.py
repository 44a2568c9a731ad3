"""The carrier side of a clinic as the engine sees it: one gateway over the clinic's
Twilio or Telnyx account (telephony/carriers/), with the calls the carrier kind needs and
the carrier's errors mapped onto the engine's (decisions/0080).

A carrier trunk is one object to the engine (a Twilio Elastic SIP trunk or a Telnyx FQDN
connection) whose create and update also converge where it sends calls (one origination
URL / FQDN: the clinic's LiveKit SIP URI over TCP) and which numbers are attached. Every
step is idempotent, so a run interrupted anywhere (a lost reply, a killed worker) is
finished by the next one: it adopts the trunk by its name (the marker) and converges the
rest. A number attached to anything else is reported, never taken over; numbers are only
ever detached, never released.

Credentials the carrier rejects mark the clinic's carrier account (its status says so) and
open its circuit: every later call fails at once, without a request, until the admin saves
working credentials (telephony.carrier_services.carrier_connect).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from django.conf import settings

from telephony.carriers import (
    CarrierConflictError,
    CarrierCredentialsError,
    CarrierError,
    CarrierNotFoundError,
    CarrierTransientError,
    client_for,
    markers,
)
from telephony.carriers.base import CarrierTrunk, Origination
from telephony.carriers.errors import CarrierNumberError, CarrierRejectedError
from telephony.livekit_gateway import (
    CallInfo,
    LiveKitError,
    LiveKitNotFoundError,
    LiveKitPermanentError,
    LiveKitTransientError,
)
from telephony.models import CarrierAccount

T = TypeVar("T")
TWILIO_PRIORITY = 10
TWILIO_FALLBACK_PRIORITY = 20  # a higher number: tried only when the first does not answer
TWILIO_WEIGHT = 10
TELNYX_PORT = 5060
# Twilio keeps a deleted trunk's domain name reserved for a while: a clinic that comes back
# takes the next incarnation of its name (markers.twilio_domain) up to this many.
MAX_INCARNATIONS = 20


class CarrierAuthError(LiveKitPermanentError):
    """The carrier rejected the clinic's credentials: its carrier status says so, nothing is
    retried until they are fixed. Not a LiveKitAuthError: LiveKit's circuit stays closed."""


@dataclass(frozen=True)
class CarrierSpec:
    """What the carrier must hold for a clinic. ``name`` is the marker (whose it is);
    ``origination`` where calls go (Twilio: a SIP URI with ``;transport=tcp``; Telnyx:
    ``host:port``); ``numbers`` those attached to the trunk; ``fallback`` where they go when
    the origination does not answer (same form; "" for none). The fallback counts in the
    spec's hash only when set, so trunks applied before it existed keep theirs (0113)."""

    name: str
    origination: str
    numbers: tuple[str, ...]
    fallback: str = field(default="", metadata={"hash_if_set": True})

    @property
    def destinations(self) -> tuple[str, ...]:
        """Where calls go, in the order the carrier must try them."""
        return (self.origination, self.fallback) if self.fallback else (self.origination,)


@dataclass(frozen=True)
class RemoteCarrierTrunk:
    trunk_id: str
    name: str
    target: str  # Twilio: the domain name; Telnyx: the connection name
    originations: tuple[str, ...] = ()  # in the order the carrier tries them
    numbers: tuple[str, ...] = ()
    # The originations are a strict order (Twilio: rising priorities; Telnyx: the first is
    # the connection's primary FQDN, the second its secondary), not just a list.
    ordered: bool = False

    @property
    def metadata(self) -> str:
        """The marker as the planner reads every kind's (the JSON of desired.marker)."""
        clinic = markers.owner_of(self.name)
        if clinic is None:
            return ""
        return json.dumps(
            {"clinic": clinic, "switchboard": settings.SWITCHBOARD_DEPLOYMENT_ID},
            sort_keys=True,
            separators=(",", ":"),
        )

    def as_spec(self) -> CarrierSpec:
        numbers = tuple(sorted(self.numbers))
        if len(self.originations) == 2 and self.ordered:
            first, second = self.originations
            return CarrierSpec(self.name, first, numbers, fallback=second)
        origination = ",".join(sorted(self.originations))  # anything else differs from a spec
        return CarrierSpec(self.name, origination, numbers)


def sip_host(sip_uri: str) -> str:
    """``sip:host[:port][;params]`` -> ``host[:port]``."""
    rest = sip_uri.strip()
    if rest.lower().startswith("sips:"):
        rest = rest[5:]
    elif rest.lower().startswith("sip:"):
        rest = rest[4:]
    return rest.split(";", 1)[0].split("@")[-1]


def origination_for(provider: str, sip_uri: str) -> str:
    if not sip_uri:
        return ""
    host = sip_host(sip_uri)
    if provider == CarrierAccount.Provider.TWILIO:
        return f"sip:{host};transport=tcp"
    parts = urlsplit(f"//{host}")
    return f"{parts.hostname}:{parts.port or TELNYX_PORT}"


def translate(exc: CarrierError, carrier: str) -> LiveKitError:
    """A carrier's error as the engine classifies errors (transient or permanent)."""
    common: dict[str, Any] = {"status": exc.status, "retry_after": exc.retry_after}
    if isinstance(exc, CarrierTransientError):
        return LiveKitTransientError(exc.message, code=exc.code or "carrier_unavailable", **common)
    if isinstance(exc, CarrierCredentialsError):
        return CarrierAuthError(exc.message, code="carrier_credentials", **common)
    if isinstance(exc, CarrierConflictError):
        return LiveKitPermanentError(exc.message, code="carrier_conflict", **common)
    if isinstance(exc, CarrierNumberError):
        return LiveKitPermanentError(exc.message, code="carrier_number", **common)
    if isinstance(exc, CarrierNotFoundError):
        return LiveKitNotFoundError(exc.message, code="carrier_not_found", **common)
    return LiveKitPermanentError(exc.message, code="carrier_rejected", **common)


class CarrierGateway:
    """The clinic's carrier account, as the carrier kind calls it. Raises LiveKitError
    subclasses (the engine's classification) and never a CarrierError."""

    def __init__(self, account: CarrierAccount, client: Any = None) -> None:
        from telephony.ratelimit import carrier_limiter

        self.account = account
        self.provider = account.provider
        self.carrier: Any = client if client is not None else client_for(account)
        self.carrier.limiter = carrier_limiter(f"{account.provider}:{self._account_key()}")
        self.name = self.carrier.name
        self.trunking = self._trunking()
        self.last_call = CallInfo()

    def _account_key(self) -> str:
        return self.account.account_sid or str(self.account.pk)

    def _trunking(self) -> Any:
        if self.provider == CarrierAccount.Provider.TWILIO:
            from telephony.carriers.twilio_trunking import TwilioTrunking

            return TwilioTrunking(self.carrier)
        from telephony.carriers.telnyx_trunking import TelnyxTrunking

        return TelnyxTrunking(self.carrier)

    def _do(self, fn: Callable[[], T]) -> T:
        """The circuit first (no request once the credentials were rejected), then the call
        with the carrier's error translated."""
        if self.account.state == CarrierAccount.State.CREDENTIALS_REJECTED:
            raise CarrierAuthError(
                self.account.status_message
                or f"{self.name} rejected this clinic's credentials; connect the account again.",
                code="carrier_circuit_open",
            )
        try:
            return fn()
        except CarrierCredentialsError as exc:
            self._reject(exc.message)
            raise translate(exc, self.name) from None
        except CarrierError as exc:
            raise translate(exc, self.name) from None

    def _reject(self, message: str) -> None:
        self.account.state = CarrierAccount.State.CREDENTIALS_REJECTED
        self.account.status_message = message[:300]
        CarrierAccount.objects.filter(pk=self.account.pk).exclude(
            state=CarrierAccount.State.DISCONNECTING
        ).update(state=self.account.state, status_message=self.account.status_message)

    # -- reads (the dry run's too) -----------------------------------------------------------
    def list_carrier_trunks(self, *, trunk_id: str = "", names: tuple[str, ...] = ()) -> list[Any]:
        """Our trunks by ID or by name, with their originations and attached numbers."""

        def read() -> list[RemoteCarrierTrunk]:
            found = [
                t
                for t in self.trunking.trunks()
                if (trunk_id and t.trunk_id == trunk_id) or (names and t.marker in names)
            ]
            if not found:
                return []
            numbers = self.carrier.numbers()
            return [self._remote(t, numbers) for t in found]

        return self._do(read)

    def _remote(self, trunk: CarrierTrunk, numbers: list[Any]) -> RemoteCarrierTrunk:
        found, ordered = self._routing(trunk)
        attached = tuple(sorted(n.e164 for n in numbers if n.attached_to == trunk.trunk_id))
        return RemoteCarrierTrunk(
            trunk.trunk_id,
            trunk.marker,
            trunk.target,
            tuple(o.uri for o in found),
            attached,
            ordered=ordered,
        )

    def _routing(self, trunk: CarrierTrunk) -> tuple[list[Origination], bool]:
        """The trunk's originations in the order the carrier tries them, and whether that
        order is strict: Twilio's by priority (two distinct priorities), Telnyx's by the
        connection's primary and secondary FQDN (both set, and both are these two)."""
        found = list(self.trunking.originations(trunk.trunk_id))
        if len(found) != 2:
            return found, False
        if self.provider == CarrierAccount.Provider.TWILIO:
            return found, found[0].priority < found[1].priority
        by_id = {o.origination_id: o for o in found}
        first = by_id.get(trunk.primary_origination)
        second = by_id.get(trunk.secondary_origination)
        if first is None or second is None or first is second:
            return found, False
        return [first, second], True

    # -- writes ------------------------------------------------------------------------------
    def create_carrier_trunk(self, spec: CarrierSpec, clinic_id: str) -> RemoteCarrierTrunk:
        def create() -> RemoteCarrierTrunk:
            trunk = self._new_trunk(spec, clinic_id)
            return self._converge(trunk, spec)

        return self._do(create)

    def _new_trunk(self, spec: CarrierSpec, clinic_id: str) -> CarrierTrunk:
        if self.provider != CarrierAccount.Provider.TWILIO:
            trunk: CarrierTrunk = self.trunking.create_trunk(marker=spec.name)
            return trunk
        for incarnation in range(1, MAX_INCARNATIONS + 1):
            domain = markers.twilio_domain(clinic_id, incarnation)
            try:
                created: CarrierTrunk = self.trunking.create_trunk(marker=spec.name, domain=domain)
                return created
            except CarrierRejectedError as exc:
                if exc.code != "21248":  # the domain name is taken (or still reserved)
                    raise
        raise CarrierRejectedError(
            "Twilio still reserves every domain name Switchboard would give this clinic's "
            "trunk; an operator must look at it."
        )

    def update_carrier_trunk(self, trunk_id: str, spec: CarrierSpec) -> RemoteCarrierTrunk:
        def update() -> RemoteCarrierTrunk:
            found = [t for t in self.trunking.trunks() if t.trunk_id == trunk_id]
            if not found:
                raise CarrierNotFoundError(f"The {self.name} trunk {trunk_id} is gone.")
            return self._converge(found[0], spec)

        return self._do(update)

    def _converge(self, trunk: CarrierTrunk, spec: CarrierSpec) -> RemoteCarrierTrunk:
        """Exactly the spec's originations, in its order (the fallback second); exactly the
        spec's numbers attached (each checked by a fresh read first); anything else of ours
        on the trunk detached."""
        tid = trunk.trunk_id
        self._converge_originations(trunk, spec)
        for number in self.carrier.numbers():
            if number.attached_to == tid and number.e164 not in spec.numbers:
                self.trunking.detach(tid, number.e164)
        for e164 in spec.numbers:
            self.trunking.attach(tid, e164)
        return RemoteCarrierTrunk(
            tid,
            trunk.marker,
            trunk.target,
            spec.destinations,
            spec.numbers,
            ordered=bool(spec.fallback),
        )

    def _converge_originations(self, trunk: CarrierTrunk, spec: CarrierSpec) -> None:
        """New ones are added before old ones go, so calls always have somewhere to go
        (a move changes the first destination; a fallback appears or goes)."""
        tid = trunk.trunk_id
        wanted = spec.destinations
        kept: dict[str, Origination] = {}
        stale: list[Origination] = []
        for origination in self.trunking.originations(tid):
            rank = wanted.index(origination.uri) if origination.uri in wanted else -1
            if rank < 0 or origination.uri in kept or not self._in_place(origination, rank):
                stale.append(origination)
            else:
                kept[origination.uri] = origination
        for rank, uri in enumerate(wanted):
            if uri not in kept:
                kept[uri] = self._add_origination(tid, spec, uri, rank)
        if self.provider == CarrierAccount.Provider.TELNYX:  # before a listed FQDN goes
            self._order_fqdns(trunk, [kept[uri].origination_id for uri in wanted])
        for origination in stale:
            self.trunking.remove_origination(tid, origination.origination_id)

    def _in_place(self, origination: Origination, rank: int) -> bool:
        """Twilio's order is each URL's priority: one at the wrong priority is replaced."""
        if self.provider != CarrierAccount.Provider.TWILIO:
            return True
        return origination.priority == (TWILIO_FALLBACK_PRIORITY if rank else TWILIO_PRIORITY)

    def _order_fqdns(self, trunk: CarrierTrunk, ids: list[str]) -> None:
        """The connection tries the primary FQDN, then the secondary. A connection without a
        fallback that never had an order set is left as it is (one FQDN: nothing to order)."""
        primary, secondary = ids[0], (ids[1] if len(ids) > 1 else None)
        current = (trunk.primary_origination, trunk.secondary_origination or None)
        if current == (primary, secondary):
            return
        if secondary is None and not trunk.secondary_origination:
            return
        self.trunking.set_routing(trunk.trunk_id, primary=primary, secondary=secondary)

    def _add_origination(
        self, trunk_id: str, spec: CarrierSpec, uri: str, rank: int
    ) -> Origination:
        if self.provider == CarrierAccount.Provider.TWILIO:
            added: Origination = self.trunking.add_origination(
                trunk_id,
                uri=uri,
                priority=TWILIO_FALLBACK_PRIORITY if rank else TWILIO_PRIORITY,
                weight=TWILIO_WEIGHT,
                name=spec.name,
            )
            return added
        host, _, port = uri.rpartition(":")
        created: Origination = self.trunking.add_origination(trunk_id, host=host, port=int(port))
        return created

    def delete_carrier_trunk(self, trunk_id: str) -> None:
        """Detach our numbers, remove the originations, delete the trunk; the numbers stay
        in the account. What is already gone is skipped."""

        def delete() -> None:
            for number in self.carrier.numbers():
                if number.attached_to == trunk_id:
                    self.trunking.detach(trunk_id, number.e164)
            if not any(t.trunk_id == trunk_id for t in self.trunking.trunks()):
                return
            for origination in self.trunking.originations(trunk_id):
                self.trunking.remove_origination(trunk_id, origination.origination_id)
            self.trunking.delete_trunk(trunk_id)

        self._do(delete)


def gateway_for_clinic(clinic_id: Any) -> CarrierGateway | None:
    account = CarrierAccount.objects.filter(clinic_id=clinic_id).first()
    return CarrierGateway(account) if account is not None else None
