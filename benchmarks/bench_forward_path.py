"""pytest-benchmark cases for the per-packet forwarding path: inbound unprotect+parse, outbound copy+protect+send."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Literal, cast

import pytest
import uvloop

from mediaserver.rooms.publication import Publication
from mediaserver.rooms.publishing import PublisherSide
from mediaserver.rooms.subscription import Subscription
from mediaserver.rooms.subscriptions import new_subscription
from mediaserver.rtp.header import parse_rtp
from mediaserver.rtp.vp8 import parse_vp8
from mediaserver.sdp.negotiation import NegotiatedMedia
from mediaserver.transport.certificate import Certificate
from mediaserver.transport.dtls import DtlsSession
from mediaserver.transport.peer import PeerTransport
from mediaserver.transport.srtp import SrtpContext
from mediaserver.transport.udp_mux import UdpMux

# A Chrome-like 1200-byte VP8 packet: one-byte extensions (abs-send-time 2, transport-cc 3, mid 4, rid 10).
EXTENSIONS = bytes([0x22, 1, 2, 3, 0x31, 0, 7, 0x40, ord("1"), 0xA0, ord("f"), 0, 0])
HEADER = bytes([0x90, 96, 0x12, 0x34, 0, 0, 0x10, 0, 0xCA, 0xFE, 0xBA, 0xBE, 0xBE, 0xDE, 0, 4])
VP8 = bytes([0x90, 0x80, 0x81, 0x23]) + b"\x00\x00\x00\x9d\x01\x2a"  # keyframe, PictureID 0x123
PACKET = HEADER + EXTENSIONS[:16].ljust(16, b"\x00") + VP8
PACKET = PACKET + bytes(1200 - len(PACKET))


def keyed_pair() -> tuple[SrtpContext, SrtpContext]:
    server = DtlsSession(Certificate.generate().ssl_context(), server=True)
    client = DtlsSession(Certificate.generate().ssl_context(), server=False)
    to_server = client.start()
    while not (server.handshake_done and client.handshake_done):
        to_client = [o for d in to_server for o in server.receive(d)]
        to_server = [o for d in to_client for o in client.receive(d)]
    assert server.srtp is not None and client.srtp is not None
    return server.srtp, client.srtp


@pytest.fixture
def srtp_pair() -> tuple[SrtpContext, SrtpContext]:
    return keyed_pair()


def publisher_side() -> PublisherSide:
    """A publisher with one single-layer VP8 publication bound to the benchmark packet's SSRC."""
    transport = PeerTransport(UdpMux(), Certificate.generate().ssl_context(), "bench/pub")
    # A benchmark sends thousands of packets a second from one publisher: over the abuse limit (P10), which
    # would drop all but the first 3000 and measure the refusal instead of the forwarding.
    side = PublisherSide("bench", transport, rtcp_ssrc=1, max_rtp_per_s=1 << 30)
    side.publish(NegotiatedMedia(mid="1", kind="video", payload_type=96, rtx_payload_type=97, clock_rate=90000,
                                 ssrcs=[0xCAFEBABE]))
    return side


def protected_stream(client: SrtpContext, count: int) -> Iterator[bytes]:
    # Distinct sequence numbers: libsrtp's replay window rejects a packet it has already seen.
    packets = []
    for seq in range(count):
        packet = bytearray(PACKET)
        packet[2:4] = seq.to_bytes(2, "big")
        packets.append(client.protect(bytes(packet)))
    return iter(packets)


def test_inbound_unprotect_parse_route(benchmark, srtp_pair: tuple[SrtpContext, SrtpContext]) -> None:  # type: ignore[no-untyped-def]
    """One inbound packet with nobody subscribed: SRTP unprotect, header + VP8 parse, stats, routing."""
    server, client = srtp_pair
    side = publisher_side()
    it = protected_stream(client, 20000)
    unprotect, on_rtp = server.unprotect, side.on_rtp

    calls = [0]

    def inbound() -> None:
        calls[0] += 1
        on_rtp(unprotect(next(it)))

    benchmark.pedantic(inbound, rounds=15000, iterations=1)
    assert side.publications["1"].packets_in == calls[0]


@pytest.fixture
def udp_sink() -> Iterator[tuple[asyncio.AbstractEventLoop, asyncio.DatagramTransport, tuple[str, int]]]:
    loop = uvloop.new_event_loop()
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(("127.0.0.1", 0))
    endpoint = loop.run_until_complete(loop.create_datagram_endpoint(asyncio.DatagramProtocol, sock=sender))
    transport = cast(asyncio.DatagramTransport, endpoint[0])
    try:
        yield loop, transport, receiver.getsockname()
    finally:
        transport.close()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()
        receiver.close()


def test_outbound_copy_rewrite_protect_send(benchmark, srtp_pair, udp_sink) -> None:  # type: ignore[no-untyped-def]
    server, _ = srtp_pair
    _, transport, addr = udp_sink
    pub = Publication("p", "1", "video", 96, 97, 90000, [])
    pub.layer_for(0xCAFEBABE, None)
    sendto = transport.sendto

    def send(plain: bytes) -> None:
        sendto(server.protect(plain), addr)

    sub = new_subscription(pub, "0", 96, send)
    pub.subscribe(sub)
    sub.activate()
    hdr = parse_rtp(PACKET)
    desc = parse_vp8(PACKET, hdr.payload_start)
    assert desc.keyframe  # the first packet starts the stream
    payload = PACKET[hdr.payload_start :]
    state = {"seq": 0}

    def outbound() -> None:
        # Advance the source sequence so the SRTP replay window never sees a repeat.
        state["seq"] = (state["seq"] + 1) & 0xFFFF
        sub.forward(PACKET, hdr._replace(sequence=state["seq"]), payload, desc, 0, 0.0)

    benchmark.pedantic(outbound, rounds=15000, iterations=1)
    assert sub.packets_sent == state["seq"]


def test_fanout_to_19_subscribers(benchmark, srtp_pair, udp_sink) -> None:  # type: ignore[no-untyped-def]
    """The whole path for one inbound packet in a 20-person room: unprotect once, 19 outbound copies.

    Divide by 19 (plus the inbound share) to compare with the per-copy floor in DESIGN.md.
    """
    server, client = srtp_pair
    _, transport, addr = udp_sink
    side = publisher_side()
    pub = side.publications["1"]
    sendto = transport.sendto
    subs = []
    for i in range(19):
        # Each subscriber has its own SRTP session in real life; one shared context costs the same per call.
        sub = new_subscription(pub, str(i), 96, lambda plain: sendto(server.protect(plain), addr))
        pub.subscribe(sub)
        sub.activate()
        subs.append(sub)
    it = protected_stream(client, 6000)
    unprotect, on_rtp = server.unprotect, side.on_rtp

    calls = [0]

    def one_packet() -> None:
        calls[0] += 1
        on_rtp(unprotect(next(it)))

    benchmark.pedantic(one_packet, rounds=5000, iterations=1)
    assert all(s.packets_sent == calls[0] for s in subs)


# A receiver in another process keeps reading: a full socket buffer would let the kernel drop our datagrams on
# a cheaper path than delivery, and the figures would flatter us.
_DRAIN = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
while True:
    s.recv(2048)
"""


@pytest.fixture
def drained_mux() -> Iterator[tuple[UdpMux, tuple[str, int]]]:
    drain = subprocess.Popen([sys.executable, "-c", _DRAIN], stdout=subprocess.PIPE, text=True)
    loop = uvloop.new_event_loop()
    mux = UdpMux()
    try:
        assert drain.stdout is not None
        port = int(drain.stdout.readline())
        loop.run_until_complete(mux.start("127.0.0.1", 0))
        yield mux, ("127.0.0.1", port)
    finally:
        mux.close()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()
        drain.kill()
        drain.wait()


def _fanout_room(mux: UdpMux, addr: tuple[str, int], kind: Literal["audio", "video"],
                 ) -> tuple[PublisherSide, list[Subscription]]:
    """One publication and 19 subscribers, each on its own connected PeerTransport with its own SRTP keys."""
    transport = PeerTransport(mux, Certificate.generate().ssl_context(), "bench/pub")
    # A benchmark sends thousands of packets a second from one publisher: over the abuse limit (P10), which
    # would drop all but the first 3000 and measure the refusal instead of the forwarding.
    side = PublisherSide("bench", transport, rtcp_ssrc=1, max_rtp_per_s=1 << 30)
    pt, clock = (96, 90000) if kind == "video" else (111, 48000)
    side.publish(NegotiatedMedia(mid="1", kind=kind, payload_type=pt, rtx_payload_type=97, clock_rate=clock,
                                 ssrcs=[0xCAFEBABE]))
    pub = side.publications["1"]
    context = Certificate.generate().ssl_context()
    subs = []
    for i in range(19):
        peer = PeerTransport(mux, context, f"bench/sub{i}")
        peer.srtp, _ = keyed_pair()
        peer.addr = addr
        sub = new_subscription(pub, str(i), pt, peer.send_rtp)
        pub.subscribe(sub)
        sub.activate()
        subs.append(sub)
    return side, subs


@pytest.mark.parametrize("kind", ["video", "audio"])
def test_fanout_to_19_transports(benchmark, drained_mux, kind: Literal["audio", "video"]) -> None:  # type: ignore[no-untyped-def]
    """As a 20-person room forwards: 19 copies, each protected with its subscriber's keys and sent from the
    shared port through PeerTransport and UdpMux to a socket another process reads. Divide by 19 for the cost
    per forwarded packet (the inbound unprotect is measured above).
    """
    mux, addr = drained_mux
    side, subs = _fanout_room(mux, addr, kind)
    packet = PACKET if kind == "video" else bytes([0x80, 111]) + PACKET[2:12] + bytes(80)
    hdr = parse_rtp(packet)
    state = {"seq": 0}
    on_rtp = side.on_rtp

    def one_packet() -> None:
        state["seq"] += 1
        data = bytearray(packet)
        data[2:4] = (state["seq"] & 0xFFFF).to_bytes(2, "big")
        on_rtp(bytes(data))

    assert hdr.payload_type in (96, 111)
    benchmark.pedantic(one_packet, rounds=4000, iterations=1)
    assert all(s.packets_sent == state["seq"] for s in subs)
    assert mux.counters.send_errors == 0
