"""Revoked host sessions in the store (memory and Redis): one key per session id, with the session's lifetime."""

from __future__ import annotations

from signaling_gateway.auth import HOST_COOKIE, HOST_SESSION_TTL
from signaling_gateway.store import RedisStore
from tests.gateway.conftest import free_port

from .conftest import Harness, start_gateway_with_store
from .redis_server import RedisServer


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


async def test_logout_on_one_gateway_revokes_the_cookie_on_another(redis_server: RedisServer) -> None:
    gateways = [await start_gateway_with_store(free_port(), RedisStore.from_url(redis_server.url), wait_media=False)
                for _ in range(2)]
    try:
        host = await gateways[0].host()
        cookie = host.session.cookie_jar.filter_cookies(host.make_url("/"))[HOST_COOKIE].value
        thief = await gateways[1].client()
        thief.session.cookie_jar.update_cookies({HOST_COOKIE: cookie})
        assert (await thief.get("/", allow_redirects=False)).status == 200
        assert (await host.post("/logout", allow_redirects=False)).status == 302
        response = await thief.get("/", allow_redirects=False)
        assert (response.status, response.headers["Location"]) == (302, "/login")
    finally:
        for gateway in gateways:
            await gateway.close()
