"""Revoked host sessions in the store (memory and Redis): one key per session id, with the session's lifetime."""

from __future__ import annotations

from signaling_gateway.auth import HOST_SESSION_TTL

from .conftest import Harness


async def test_a_revoked_session_is_recorded_for_its_lifetime_then_forgotten(harness: Harness) -> None:
    assert await harness.store.session_revoked("abc123") is False
    await harness.store.revoke_session("abc123", HOST_SESSION_TTL)
    assert await harness.store.session_revoked("abc123") is True
    assert await harness.store.session_revoked("other") is False
    assert await harness.keys() == ["revokedsession:abc123"]
    ttl = await harness.ttl("revokedsession:abc123")
    assert ttl is not None and HOST_SESSION_TTL - 60 <= ttl <= HOST_SESSION_TTL
    await harness.elapse(HOST_SESSION_TTL + 1)
    assert await harness.store.session_revoked("abc123") is False
    assert await harness.keys() == []

