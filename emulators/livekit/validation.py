"""Request and object validation, and the ``update`` arm semantics.

Reference: livekit-sip.md §1.2 (ListUpdate), §4.1 to §4.4. Every function here raises
:class:`~emulators.livekit.errors.TwirpError` with code ``invalid_argument`` and LiveKit's
message text.
"""

from __future__ import annotations

from livekit.protocol import models as proto_models
from livekit.protocol import sip as proto_sip

from .errors import invalid_argument

MAX_MEDIA_TIMEOUT_SECONDS = 10 * 60
MAX_HEADER_NAME = 255
MAX_HEADER_VALUE = 1024
# RFC 3261 token characters.
_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")
# Headers the bridge manages itself and refuses to take from configuration.
FORBIDDEN_HEADERS = frozenset(
    h.lower()
    for h in (
        "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Max-Forwards", "Content-Length",
        "Content-Type", "Route", "Record-Route", "Authorization", "Proxy-Authorization",
        "WWW-Authenticate", "Proxy-Authenticate", "Refer-To", "Referred-By", "Expires",
    )
)  # fmt: skip


def check_list_update(update: proto_models.ListUpdate) -> None:
    """``ListUpdate.Validate`` (livekit/types.go), checks in LiveKit's order."""
    changes = bool(update.set) or bool(update.add) or bool(update.remove)
    if not changes and not update.clear:
        raise invalid_argument("unsupported list update operation")
    if update.clear and changes:
        raise invalid_argument("cannot clear and change the list at the same time")
    if update.set and (update.add or update.remove):
        raise invalid_argument("cannot set and change the list at the same time")
    for values in (update.set, update.add, update.remove):
        if any(v == "" for v in values):
            raise invalid_argument("empty element in the list")


def apply_list_update(current: list[str], update: proto_models.ListUpdate) -> list[str]:
    """``applyListUpdate``: clear, or set, or remove-then-add (add skips present items)."""
    if update.clear:
        return []
    if update.set:
        return list(update.set)
    removed = set(update.remove)
    result = [v for v in current if v not in removed]
    for value in update.add:
        if value not in result:
            result.append(value)
    return result


def check_media(media: proto_sip.SIPMediaConfig) -> None:
    for codec in media.codecs:
        if not codec.name:
            raise invalid_argument("codec name is required")
        if any(ch.isspace() for ch in codec.name) or "/" in codec.name:
            raise invalid_argument(f"invalid codec name: {codec.name!r}")
    if media.HasField("media_timeout"):
        seconds = media.media_timeout.seconds + media.media_timeout.nanos / 1e9
        if seconds < 0 or seconds > MAX_MEDIA_TIMEOUT_SECONDS:
            raise invalid_argument("media timeout must be between 0 and 10m0s")


def _check_header_name(name: str, *, allow_forbidden: bool = False) -> None:
    if not 1 <= len(name) <= MAX_HEADER_NAME or any(ch not in _TOKEN_CHARS for ch in name):
        raise invalid_argument(f"invalid header name: {name!r}")
    if not allow_forbidden and name.lower() in FORBIDDEN_HEADERS:
        raise invalid_argument(f"invalid header name: header {name!r} is not allowed")


def _check_header_value(name: str, value: str) -> None:
    if len(value) > MAX_HEADER_VALUE or any(not 0x20 <= ord(ch) < 0x7F for ch in value):
        raise invalid_argument(f"invalid header value for {name}")


def check_headers(
    headers: dict[str, str], headers_to_attributes: dict[str, str], attrs_to_headers: dict[str, str]
) -> None:
    for name, value in headers.items():
        _check_header_name(name)
        _check_header_value(name, value)
    for name in headers_to_attributes:
        _check_header_name(name, allow_forbidden=True)
    for name in attrs_to_headers.values():
        _check_header_name(name, allow_forbidden=True)


def check_inbound_info(info: proto_sip.SIPInboundTrunkInfo) -> None:
    """``SIPInboundTrunkInfo.Validate``."""
    has_auth = bool(info.auth_username or info.auth_password)
    if not has_auth and not info.allowed_addresses and not info.numbers:
        raise invalid_argument(
            "for security, one of the fields must be set: "
            "AuthUsername+AuthPassword, AllowedAddresses or Numbers"
        )
    if info.HasField("media"):
        check_media(info.media)
    check_headers(
        dict(info.headers), dict(info.headers_to_attributes), dict(info.attributes_to_headers)
    )


def check_outbound_info(info: proto_sip.SIPOutboundTrunkInfo) -> None:
    """``SIPOutboundTrunkInfo.Validate``."""
    if not info.numbers:
        raise invalid_argument("no trunk numbers specified")
    address = info.address
    if not address:
        raise invalid_argument("no outbound address specified")
    if "transport=" in address:
        raise invalid_argument("trunk transport should be set as a field, not a URI parameter")
    if "@" in address or ";" in address or address.startswith(("sip:", "sips:")):
        raise invalid_argument("trunk address should be a hostname or IP, not SIP URI")
    if info.HasField("media"):
        check_media(info.media)
    check_headers(
        dict(info.headers), dict(info.headers_to_attributes), dict(info.attributes_to_headers)
    )


def check_rule_info(info: proto_sip.SIPDispatchRuleInfo) -> None:
    """``SIPDispatchRuleInfo.Validate``."""
    if not info.HasField("rule"):
        raise invalid_argument("missing rule")
    if info.HasField("media"):
        check_media(info.media)


def apply_inbound_update(
    info: proto_sip.SIPInboundTrunkInfo, update: proto_sip.SIPInboundTrunkUpdate
) -> None:
    """Apply the ``update`` arm in place, then re-validate the result (§4.2)."""
    for name in ("numbers", "allowed_addresses", "allowed_numbers"):
        if update.HasField(name):
            field = getattr(info, name)
            new = apply_list_update(list(field), getattr(update, name))
            del field[:]
            field.extend(new)
    for name in ("auth_username", "auth_password", "auth_realm", "name", "metadata"):
        if update.HasField(name):
            setattr(info, name, getattr(update, name))
    if update.HasField("media_encryption"):
        info.media_encryption = update.media_encryption
    if update.HasField("media"):
        info.media.CopyFrom(update.media)
    check_inbound_info(info)


def check_inbound_update(update: proto_sip.SIPInboundTrunkUpdate) -> None:
    for name in ("numbers", "allowed_addresses", "allowed_numbers"):
        if update.HasField(name):
            check_list_update(getattr(update, name))
    if update.HasField("media"):
        check_media(update.media)


def check_outbound_update(update: proto_sip.SIPOutboundTrunkUpdate) -> None:
    if update.HasField("numbers"):
        check_list_update(update.numbers)
    if update.HasField("media"):
        check_media(update.media)


def apply_outbound_update(
    info: proto_sip.SIPOutboundTrunkInfo, update: proto_sip.SIPOutboundTrunkUpdate
) -> None:
    scalars = (
        "address", "transport", "destination_country", "auth_username", "auth_password", "name",
        "metadata", "media_encryption", "from_host",
    )  # fmt: skip
    for name in scalars:
        if update.HasField(name):
            setattr(info, name, getattr(update, name))
    if update.HasField("numbers"):
        new = apply_list_update(list(info.numbers), update.numbers)
        del info.numbers[:]
        info.numbers.extend(new)
    if update.HasField("media"):
        info.media.CopyFrom(update.media)
    check_outbound_info(info)


def check_rule_update(update: proto_sip.SIPDispatchRuleUpdate) -> None:
    if update.HasField("trunk_ids"):
        check_list_update(update.trunk_ids)
    if update.HasField("media"):
        check_media(update.media)


def apply_rule_update(
    info: proto_sip.SIPDispatchRuleInfo, update: proto_sip.SIPDispatchRuleUpdate
) -> None:
    """Lists, the whole ``rule``, optionals, and the attribute map as a diff (§1.2)."""
    if update.HasField("trunk_ids"):
        new = apply_list_update(list(info.trunk_ids), update.trunk_ids)
        del info.trunk_ids[:]
        info.trunk_ids.extend(new)
    if update.HasField("rule"):
        info.rule.CopyFrom(update.rule)
    for name in ("name", "metadata", "media_encryption"):
        if update.HasField(name):
            setattr(info, name, getattr(update, name))
    for key, value in update.attributes.items():
        # applyMapDiff: an empty value deletes the key.
        if value:
            info.attributes[key] = value
        elif key in info.attributes:
            del info.attributes[key]
    if update.HasField("media"):
        info.media.CopyFrom(update.media)
    check_rule_info(info)
