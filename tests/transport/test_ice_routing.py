"""ICE-lite routing on the shared port: an address goes to the session whose credentials it proves, most recently."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aioice import stun

from mediaserver.transport.certificate import Certificate
from mediaserver.transport.peer import PeerTransport
from mediaserver.transport.udp_mux import REBIND_AFTER_S, UdpMux


class Client(asyncio.DatagramProtocol):
    """One remote socket: sends binding requests, collects the responses."""

    def __init__(self) -> None:
        self.responses: asyncio.Queue[stun.Message] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.responses.put_nowait(stun.parse_message(data))

    def send_check(self, peer: PeerTransport, server: tuple[str, int], pwd: str | None = None) -> None:
        request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
        request.attributes["USERNAME"] = f"{peer.local_ufrag}:client"
        request.attributes["USE-CANDIDATE"] = None
        request.add_message_integrity((pwd or peer.local_pwd).encode())
        request.add_fingerprint()
        assert self.transport is not None
        self.transport.sendto(bytes(request), server)

    async def check(self, peer: PeerTransport, server: tuple[str, int], pwd: str | None = None) -> stun.Message:
        self.send_check(peer, server, pwd)
        return await asyncio.wait_for(self.responses.get(), 5)


@pytest.fixture
async def mux() -> AsyncIterator[tuple[UdpMux, tuple[str, int]]]:
    mux = UdpMux()
    server = await mux.start("127.0.0.1", 0)
    try:
        yield mux, server
    finally:
        mux.close()


async def wait_for_counter(udp: UdpMux, name: str, value: int) -> None:
    async def reached() -> None:
        while getattr(udp.counters, name) < value:
            await asyncio.sleep(0.005)

    await asyncio.wait_for(reached(), 5)


async def test_an_address_proven_for_a_new_session_moves_to_it(mux: tuple[UdpMux, tuple[str, int]]) -> None:
    # The old session's peer went away without a goodbye and the OS gave its port to a new socket: the new
    # session must get its media within seconds, not after the old session's 30-s consent timeout; while the
    # old session still hears from the address, a check for another session (spoofable) moves nothing.
    udp, server = mux
    context = Certificate.generate().ssl_context()
    old, new = PeerTransport(udp, context, "old"), PeerTransport(udp, context, "new")
    client = Client()
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: client, local_addr=("127.0.0.1", 0))
    try:
        addr = transport.get_extra_info("sockname")
        assert (await client.check(old, server)).message_class == stun.Class.RESPONSE
        assert old.addr == addr

        client.send_check(new, server)  # the old session was heard just now
        await wait_for_counter(udp, "stun_bad", 1)
        assert old.addr == addr and new.addr is None and udp.counters.stun_rebound == 0

        udp.now += REBIND_AFTER_S + 1  # seconds pass with nothing from the old peer
        response = await client.check(new, server)
        assert response.message_class == stun.Class.RESPONSE
        assert response.attributes["XOR-MAPPED-ADDRESS"] == addr
        assert new.addr == addr and old.addr is None  # the stale session no longer sends there
        assert udp.counters.stun_rebound == 1

        # Without the right password nothing moves back.
        refused = await client.check(old, server, pwd="wrong-password-wrong-password")
        assert refused.message_class == stun.Class.ERROR
        assert new.addr == addr and old.addr is None
        assert udp.counters.stun_bad_integrity == 1 and udp.counters.stun_rebound == 1
    finally:
        transport.close()
