"""ICE-lite responder: answer authenticated STUN binding requests on the shared port (RFC 8445 §2.5)."""

from __future__ import annotations

import ipaddress
from typing import NamedTuple

from aioice import stun


class BindingCheck(NamedTuple):
    local_ufrag: str
    nominated: bool
    message: stun.Message


class StunError(ValueError):
    """A datagram that is not a usable STUN binding request."""


def parse_binding_request(data: bytes) -> BindingCheck | None:
    """Parse a STUN datagram. Returns None for indications/responses (keepalives), raises StunError if broken."""
    try:
        message = stun.parse_message(data)
    except Exception as exc:  # aioice raises ValueError, struct.error and others for garbage
        raise StunError(f"unparseable STUN: {exc}") from exc
    if message.message_method != stun.Method.BINDING:
        raise StunError(f"unsupported STUN method {message.message_method!r}")
    if message.message_class != stun.Class.REQUEST:
        return None
    username = message.attributes.get("USERNAME")
    if not isinstance(username, str) or ":" not in username:
        raise StunError("binding request without USERNAME")
    return BindingCheck(username.split(":", 1)[0], "USE-CANDIDATE" in message.attributes, message)


def verify(check: BindingCheck, local_pwd: bytes) -> bool:
    try:
        return bool(check.message.check_message_integrity(local_pwd))
    except Exception:  # a truncated MESSAGE-INTEGRITY attribute raises inside aioice
        return False


def plain_address(host: str) -> str:
    """An IPv4 peer of a dual-stack socket appears as ::ffff:a.b.c.d; it is told its own IPv4 address."""
    if "." not in host or ":" not in host:
        return host  # plain IPv4 or plain IPv6: every binding response on an IPv4 port takes this branch
    mapped = ipaddress.IPv6Address(host).ipv4_mapped
    return str(mapped) if mapped is not None else host


def binding_success(check: BindingCheck, addr: tuple[str, int], local_pwd: bytes) -> bytes:
    response = stun.Message(
        message_method=stun.Method.BINDING,
        message_class=stun.Class.RESPONSE,
        transaction_id=check.message.transaction_id,
    )
    response.attributes["XOR-MAPPED-ADDRESS"] = (plain_address(addr[0]), addr[1])
    response.add_message_integrity(local_pwd)
    response.add_fingerprint()
    return bytes(response)


def binding_error(check: BindingCheck, code: int, reason: str) -> bytes:
    response = stun.Message(
        message_method=stun.Method.BINDING,
        message_class=stun.Class.ERROR,
        transaction_id=check.message.transaction_id,
    )
    response.attributes["ERROR-CODE"] = (code, reason)
    response.add_fingerprint()
    return bytes(response)
