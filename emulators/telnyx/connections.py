"""/v2/fqdn_connections and /v2/fqdns: where Telnyx sends a number's inbound calls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulators.carrierkit.app import Call, Reply

from . import shapes
from .store import Connection, Fqdn, Store, error, invalid, missing, new_id, stamp

if TYPE_CHECKING:
    from .server import TelnyxEmulator

TRANSPORTS = ("UDP", "TCP", "TLS")
ANI_FORMATS = ("+E.164", "E.164", "+E.164-national", "E.164-national")
DNIS_FORMATS = ("+e164", "e164", "national", "sip_username")
INBOUND_DEFAULTS: dict[str, Any] = {
    "ani_number_format": "E.164-national",
    "dnis_number_format": "e164",
    "channel_limit": None,
    "codecs": ["G722", "G711U", "G711A", "G729", "OPUS", "H.264"],
    "default_routing_method": "sequential",
    "default_primary_fqdn_id": None,
    "default_secondary_fqdn_id": None,
    "default_tertiary_fqdn_id": None,
    "generate_ringback_tone": False,
    "isup_headers_enabled": False,
    "prack_enabled": False,
    "sip_compact_headers_enabled": True,
    "sip_region": "US",
    "sip_subdomain": None,
    "sip_subdomain_receive_settings": "only_my_connections",
    "timeout_1xx_secs": 3,
    "timeout_2xx_secs": 90,
    "shaken_stir_enabled": False,
}


FQDN_ORDER = ("default_primary_fqdn_id", "default_secondary_fqdn_id", "default_tertiary_fqdn_id")
ROUTING_METHODS = ("sequential", "round-robin", None)


def _inbound(
    raw: Any, current: dict[str, Any], store: Store | None = None, connection_id: str = ""
) -> dict[str, Any]:
    if raw is None:
        return current
    if not isinstance(raw, dict):
        raise invalid("inbound", "inbound must be an object.")
    merged = {**current, **raw}
    if merged["ani_number_format"] not in ANI_FORMATS:
        raise invalid("inbound/ani_number_format", "ani_number_format is not a valid format.")
    if merged["dnis_number_format"] not in DNIS_FORMATS:
        raise invalid("inbound/dnis_number_format", "dnis_number_format is not a valid format.")
    if merged.get("default_routing_method") not in ROUTING_METHODS:
        raise invalid(
            "inbound/default_routing_method",
            "default_routing_method must be sequential or round-robin.",
        )
    for name in FQDN_ORDER:  # "Value must be the ID of an FQDN set on the connection."
        value = merged.get(name)
        if value is None:
            continue
        fqdn = store.fqdns.get(str(value)) if store is not None else None
        if fqdn is None or fqdn.connection_id != connection_id:
            raise invalid(f"inbound/{name}", f"{name} must be an FQDN ID of this connection.")
    return merged


def _connection_fields(
    body: dict[str, Any], current: Connection | None, store: Store | None = None
) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if "connection_name" in body:
        name = body["connection_name"]
        if not isinstance(name, str) or not name.strip():
            raise invalid("connection_name", "connection_name must be a non-empty string.")
        fields["connection_name"] = name
    if "transport_protocol" in body:
        if body["transport_protocol"] not in TRANSPORTS:
            raise invalid("transport_protocol", "transport_protocol must be UDP, TCP or TLS.")
        fields["transport_protocol"] = body["transport_protocol"]
    if "active" in body:
        if not isinstance(body["active"], bool):
            raise invalid("active", "active must be a boolean.")
        fields["active"] = body["active"]
    if "tags" in body:
        tags = body["tags"]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise invalid("tags", "tags must be a list of strings.")
        fields["tags"] = tags
    base = current.inbound if current else dict(INBOUND_DEFAULTS)
    fields["inbound"] = _inbound(body.get("inbound"), base, store, current.id if current else "")
    return fields


def register(emu: TelnyxEmulator) -> None:
    _connections(emu)
    _fqdns(emu)


def _connections(emu: TelnyxEmulator) -> None:
    store = emu.store

    async def create(call: Call) -> Reply:
        body = call.body
        if "connection_name" not in body:
            raise missing("connection_name")
        fields: dict[str, Any] = {"active": True, "transport_protocol": "UDP", "tags": []}
        fields.update(_connection_fields(body, None))
        connection = Connection(new_id(), **fields)
        store.connections[connection.id] = connection
        return Reply(201, {"data": shapes.connection(connection)}, created_id=connection.id)

    async def list_(call: Call) -> Reply:
        query = call.params
        connections = list(store.connections.values())
        contains = query.get("filter[connection_name][contains]", "").lower()
        if contains:
            connections = [c for c in connections if contains in c.connection_name.lower()]
        if query.get("filter[fqdn]"):
            with_fqdn = {
                f.connection_id for f in store.fqdns.values() if f.fqdn == query["filter[fqdn]"]
            }
            connections = [c for c in connections if c.id in with_fqdn]
        items = [shapes.connection(c) for c in connections]
        return Reply(200, shapes.page(items, query))

    async def retrieve(call: Call) -> Reply:
        connection = store.connection(call.request.match_info["id"])
        return Reply(200, {"data": shapes.connection(connection)})

    async def update(call: Call) -> Reply:
        connection = store.connection(call.request.match_info["id"])
        for name, value in _connection_fields(call.body, connection, store).items():
            setattr(connection, name, value)
        connection.updated_at = stamp()
        return Reply(200, {"data": shapes.connection(connection)}, committed=True)

    async def delete(call: Call) -> Reply:
        connection = store.connection(call.request.match_info["id"])
        data = shapes.connection(connection)
        store.delete_connection(connection)
        return Reply(200, {"data": data}, committed=True)

    emu.op("POST", "/v2/fqdn_connections", "CreateFqdnConnection", create)
    emu.op("GET", "/v2/fqdn_connections", "ListFqdnConnections", list_)
    emu.op("GET", "/v2/fqdn_connections/{id}", "RetrieveFqdnConnection", retrieve)
    emu.op("PATCH", "/v2/fqdn_connections/{id}", "UpdateFqdnConnection", update)
    emu.op("DELETE", "/v2/fqdn_connections/{id}", "DeleteFqdnConnection", delete)


def _fqdn_fields(body: dict[str, Any], current: Fqdn | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in ("connection_id", "fqdn", "dns_record_type"):
        if name in body:
            if not isinstance(body[name], str) or not body[name].strip():
                raise invalid(name, f"{name} must be a non-empty string.")
            fields[name] = body[name].strip()
    if "port" in body:
        port = body["port"]
        if port is not None and (not isinstance(port, int) or not 1 <= port <= 65535):
            raise invalid("port", "port must be between 1 and 65535.")
        fields["port"] = port
    record = fields.get("dns_record_type", current.dns_record_type if current else None)
    port = fields.get("port", current.port if current else None)
    if record not in ("a", "srv"):
        raise invalid("dns_record_type", "dns_record_type must be 'a' or 'srv'.")
    if record == "srv" and port is not None:
        raise invalid("port", "An FQDN with an 'srv' record type takes no port.")
    if record == "a" and port is None:
        fields["port"] = 5060
    return fields


def _check_connection(store: Store, connection_id: str) -> None:
    if connection_id not in store.connections:
        raise error(422, "10013", "One of the associated fields does not exist.", "/connection_id")


def _forget(store: Store, fqdn: Fqdn) -> None:
    """A deleted FQDN, also gone from its connection's order (not confirmed at Telnyx:
    docs/carriers.md)."""
    del store.fqdns[fqdn.id]
    owner = store.connections.get(fqdn.connection_id)
    for name in FQDN_ORDER if owner is not None else ():
        if owner.inbound.get(name) == fqdn.id:  # type: ignore[union-attr]
            owner.inbound[name] = None  # type: ignore[union-attr]


def _fqdns(emu: TelnyxEmulator) -> None:
    store = emu.store

    async def create(call: Call) -> Reply:
        body = call.body
        for name in ("connection_id", "fqdn", "dns_record_type"):
            if name not in body:
                raise missing(name)
        fields = _fqdn_fields(body, None)
        _check_connection(store, fields["connection_id"])
        fields.setdefault("port", None)
        fqdn = Fqdn(new_id(), **fields)
        store.fqdns[fqdn.id] = fqdn
        return Reply(201, {"data": shapes.fqdn(fqdn)}, created_id=fqdn.id)

    async def list_(call: Call) -> Reply:
        query = call.params
        fqdns = list(store.fqdns.values())
        if "filter[connection_id]" in query:
            fqdns = [f for f in fqdns if f.connection_id == query["filter[connection_id]"]]
        if query.get("filter[fqdn]"):
            fqdns = [f for f in fqdns if f.fqdn == query["filter[fqdn]"]]
        return Reply(200, shapes.page([shapes.fqdn(f) for f in fqdns], query))

    async def retrieve(call: Call) -> Reply:
        return Reply(200, {"data": shapes.fqdn(store.fqdn(call.request.match_info["id"]))})

    async def update(call: Call) -> Reply:
        fqdn = store.fqdn(call.request.match_info["id"])
        fields = _fqdn_fields(call.body, fqdn)
        _check_connection(store, fields.get("connection_id", fqdn.connection_id))
        for name, value in fields.items():
            setattr(fqdn, name, value)
        fqdn.updated_at = stamp()
        return Reply(200, {"data": shapes.fqdn(fqdn)}, committed=True)

    async def delete(call: Call) -> Reply:
        fqdn = store.fqdn(call.request.match_info["id"])
        _forget(store, fqdn)
        return Reply(200, {"data": shapes.fqdn(fqdn)}, committed=True)

    for method, path, name, handler in (
        ("POST", "/v2/fqdns", "CreateFqdn", create),
        ("GET", "/v2/fqdns", "ListFqdns", list_),
        ("GET", "/v2/fqdns/{id}", "RetrieveFqdn", retrieve),
        ("PATCH", "/v2/fqdns/{id}", "UpdateFqdn", update),
        ("DELETE", "/v2/fqdns/{id}", "DeleteFqdn", delete),
    ):
        emu.op(method, path, name, handler)
