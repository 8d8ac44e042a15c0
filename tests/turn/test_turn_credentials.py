"""TURN credentials as coturn's use-auth-secret scheme wants them, checked by a real coturn on loopback."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time

import pytest
from aioice import stun, turn

from signaling_gateway.turn import TurnConfigError, TurnServers, credential_for, parse_urls
from tests.gateway.conftest import Gateway, start_gateway
from tests.gateway.gateway_process import free_tcp_port

from .coturn import SECRET, Coturn, coturn_installed

needs_coturn = pytest.mark.skipif(not coturn_installed(), reason="coturn is not installed (scripts/test installs it)")


def servers(coturn: Coturn, clock: float | None = None, ttl: int = 3600) -> TurnServers:
    return TurnServers(turn_urls=(f"turn:127.0.0.1:{coturn.port}?transport=udp",), secret=SECRET.encode(),
                       ttl=ttl, clock=(lambda: clock) if clock is not None else time.time)


async def allocate(coturn: Coturn, username: str, password: str) -> tuple[str, int]:
    transport, _ = await turn.create_turn_endpoint(asyncio.DatagramProtocol, ("127.0.0.1", coturn.port),
                                                   username, password, lifetime=60)
    try:
        relayed: tuple[str, int] = transport.get_extra_info("sockname")
        return relayed
    finally:
        transport.close()


def test_the_credential_is_base64_hmac_sha1_of_the_expiry_and_who() -> None:
    fixed = TurnServers(turn_urls=("turn:turn.example:3478",), stun_urls=("stun:turn.example:3478",),
                        secret=b"s3cret-s3cret-s3cret", ttl=600, clock=lambda: 1_000_000.0)
    stun_entry, turn_entry = fixed.ice_servers("p1234")
    assert stun_entry == {"urls": ["stun:turn.example:3478"]}
    assert turn_entry["username"] == "1000600:p1234"
    expected = base64.b64encode(hmac.new(b"s3cret-s3cret-s3cret", b"1000600:p1234", hashlib.sha1).digest()).decode()
    assert turn_entry["credential"] == expected == credential_for(b"s3cret-s3cret-s3cret", "1000600:p1234")
    assert fixed.ice_servers("a:b")[1]["username"] == "1000600:a_b"  # coturn splits at the first colon
    assert TurnServers().ice_servers("p") == []


@pytest.mark.parametrize(("raw", "schemes"), [("http://x", ("turn:",)), ("turn:a b", ("turn:",)),
                                              ("stun:x", ("turn:", "turns:"))])
def test_bad_urls_and_a_missing_secret_are_refused(raw: str, schemes: tuple[str, ...]) -> None:
    with pytest.raises(TurnConfigError):
        parse_urls(raw, schemes, "TURN_URLS")
    with pytest.raises(TurnConfigError, match="TURN_SECRET"):
        TurnServers(turn_urls=("turn:x:3478",))


@needs_coturn
async def test_coturn_allocates_with_our_credentials_and_logs_it(coturn: Coturn) -> None:
    entry = servers(coturn).ice_servers("p-alloc")[0]
    relayed = await allocate(coturn, entry["username"], entry["credential"])
    assert relayed[0] == "127.0.0.1" and relayed[1] > 0

    async def logged() -> bool:
        return "p-alloc" in coturn.log()

    deadline = time.monotonic() + 5
    while not await logged():
        assert time.monotonic() < deadline, coturn.log()[-2000:]
        await asyncio.sleep(0.05)


@needs_coturn
async def test_coturn_refuses_an_expired_credential_and_a_wrong_secret(coturn: Coturn) -> None:
    expired = servers(coturn, clock=time.time() - 7200, ttl=3600).ice_servers("p-old")[0]
    with pytest.raises(stun.TransactionFailed):
        await allocate(coturn, expired["username"], expired["credential"])
    forged = TurnServers(turn_urls=("turn:x",), secret=b"not-the-secret-at-all", ttl=3600).ice_servers("p-x")[0]
    with pytest.raises(stun.TransactionFailed):
        await allocate(coturn, forged["username"], forged["credential"])


async def test_the_gateway_hands_out_credentials_to_a_session_only() -> None:
    settings = {"turn": TurnServers(turn_urls=("turn:127.0.0.1:3478",), stun_urls=("stun:127.0.0.1:3478",),
                                    secret=SECRET.encode(), ttl=3600)}
    gateway: Gateway = await start_gateway(free_tcp_port(), **settings)
    try:
        stranger = await gateway.client()
        response = await stranger.get("/api/turn-credentials")
        assert response.status == 401
        host = await gateway.host()
        body = await (await host.get("/api/turn-credentials")).json()
        assert body["ttl"] == 3600
        stun_entry, turn_entry = body["ice_servers"]
        assert stun_entry == {"urls": ["stun:127.0.0.1:3478"]} and turn_entry["urls"] == ["turn:127.0.0.1:3478"]
        expiry, who = turn_entry["username"].split(":", 1)
        assert who == "host" and 3500 < int(expiry) - time.time() <= 3600
        assert turn_entry["credential"] == credential_for(SECRET.encode(), turn_entry["username"])
        meeting_id = await gateway.stored_meeting()
        guest = await gateway.guest(meeting_id, "Bo")
        guest_body = await (await guest.get(f"/api/turn-credentials?meeting={meeting_id}")).json()
        assert guest_body["ice_servers"][1]["username"].split(":", 1)[1] not in ("host", "")
        assert (await guest.get("/api/turn-credentials?meeting=zzzz-zzzz-zzzz")).status == 401
    finally:
        await gateway.close()
