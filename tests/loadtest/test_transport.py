"""The bots' ClientTransport against a scripted ICE-lite peer: blackouts and ICE restarts (no DTLS needed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest
from aioice import stun

from benchmarks.loadtest import transport as transport_module
from benchmarks.loadtest.sdp import RemoteTransport
from benchmarks.loadtest.transport import ClientTransport
from mediaserver.transport.certificate import Certificate

FINGERPRINT = "AB:CD"


class FakeIceLite(asyncio.DatagramProtocol):
    """Answers binding requests signed with any pwd in `credentials` (ufrag -> pwd), as ICE-lite does; logs all."""

    def __init__(self) -> None:
        self.credentials: dict[str, str] = {}
        self.requests: list[stun.Message] = []
        self.datagrams = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram endpoint's transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.datagrams += 1
        if data[0] > 3:
            return  # DTLS: not part of these tests
        message = stun.parse_message(data)
        self.requests.append(message)
        ufrag = str(message.attributes["USERNAME"]).split(":", 1)[0]
        pwd = self.credentials.get(ufrag)
        if pwd is None or not message.check_message_integrity(pwd.encode()):
            return
        response = stun.Message(stun.Method.BINDING, stun.Class.RESPONSE, message.transaction_id)
        response.attributes["XOR-MAPPED-ADDRESS"] = addr
        response.add_message_integrity(pwd.encode())
        response.add_fingerprint()
        assert self.transport is not None
        self.transport.sendto(bytes(response), addr)

    def remote(self, ufrag: str, pwd: str, fingerprint: str = FINGERPRINT) -> RemoteTransport:
        self.credentials[ufrag] = pwd
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return RemoteTransport(ufrag, pwd, fingerprint, host, port)


@pytest.fixture
async def peer() -> AsyncIterator[FakeIceLite]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(FakeIceLite, local_addr=("127.0.0.1", 0))
    yield protocol
    transport.close()


async def until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_a_blackout_drops_both_ways_and_lifting_it_lets_the_checks_through(peer: FakeIceLite) -> None:
    client = ClientTransport(Certificate.generate(), "test")
    try:
        client.blackout = True
        client.start(peer.remote("srv1", "p" * 24))
        await asyncio.sleep(0.3)
        assert peer.datagrams == 0 and client.counters.blackout_out >= 3 and client.counters.datagrams_out == 0
        # What the peer sends meanwhile is read and dropped, uncounted as traffic.
        assert peer.transport is not None
        for _ in range(5):
            peer.transport.sendto(b"\x80" + bytes(40), client.local_addr)
        await until(lambda: client.counters.blackout_in == 5)
        assert client.counters.datagrams_in == 0
        client.blackout = False
        await until(lambda: client.state == "dtls")  # the next check went out and was answered
        assert client.counters.datagrams_in >= 1
    finally:
        client.close()


async def test_an_ice_restart_checks_the_new_credentials_and_keeps_the_session(
        peer: FakeIceLite, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport_module, "CONSENT_INTERVAL_S", 0.1)
    client = ClientTransport(Certificate.generate(), "test")
    try:
        assert client.update_remote(peer.remote("srv1", "a" * 24)) is False  # the first description starts
        await until(lambda: client.state == "dtls")
        assert client.update_remote(peer.remote("srv1", "a" * 24)) is False  # a renegotiation: nothing new
        old_local = client.ufrag
        client.restart_ice()
        assert client.ufrag != old_local and client.identity().ufrag == client.ufrag
        # The server's new credentials are not valid yet at the peer: the restart keeps checking.
        new_remote = replace(peer.remote("srv1", "a" * 24), ufrag="srv2", pwd="b" * 24)
        assert client.update_remote(new_remote) is True
        await asyncio.sleep(0.2)
        assert client.counters.ice_restarts == 0
        restart_checks = [r for r in peer.requests if str(r.attributes["USERNAME"]) == f"srv2:{client.ufrag}"]
        assert sum("USE-CANDIDATE" in r.attributes for r in restart_checks) >= 3  # nominating, every 50 ms
        peer.credentials["srv2"] = "b" * 24
        await until(lambda: client.counters.ice_restarts == 1)
        dtls_before = client._dtls
        # Consent goes on with the new credentials only, without nominating.
        seen = len(peer.requests)
        await asyncio.sleep(0.35)
        later = peer.requests[seen:]
        assert later and all(str(r.attributes["USERNAME"]) == f"srv2:{client.ufrag}" for r in later)
        assert not any("USE-CANDIDATE" in r.attributes for r in later)
        assert client._dtls is dtls_before and client.state == "dtls"
        with pytest.raises(ValueError, match="certificate changed"):
            client.update_remote(replace(new_remote, ufrag="srv3", pwd="c" * 24, fingerprint="EF:01"))
    finally:
        client.close()
