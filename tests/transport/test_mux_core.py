"""The shared port without sockets: ICE restart, address migration, consent and the reconnect window, on a fake clock.

A real DTLS client (our own DtlsSession in the client role) and real STUN messages drive MuxCore directly;
datagrams come back through a list, time only moves when the test says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from aioice import stun
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserver.transport.certificate import Certificate
from mediaserver.transport.dtls import DtlsSession
from mediaserver.transport.ice_credentials import CredentialRing
from mediaserver.transport.mux_core import MuxCore
from mediaserver.transport.peer import PeerTransport
from mediaserver.transport.ports import Addr

SERVER_CERT = Certificate.generate()
CLIENT_CERT = Certificate.generate()
HOME: Addr = ("192.0.2.10", 50000)
MOBILE: Addr = ("198.51.100.20", 40000)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Wire:
    """Everything the core sent, by destination."""

    sent: list[tuple[bytes, Addr]] = field(default_factory=list)

    def __call__(self, data: bytes, addr: Addr) -> None:
        self.sent.append((data, addr))

    def take(self, addr: Addr) -> list[bytes]:
        mine = [d for d, a in self.sent if a == addr]
        self.sent = [(d, a) for d, a in self.sent if a != addr]
        return mine


def check(ufrag: str, pwd: str, nominate: bool = True) -> bytes:
    request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
    request.attributes["USERNAME"] = f"{ufrag}:browser"
    if nominate:
        request.attributes["USE-CANDIDATE"] = None
    request.add_message_integrity(pwd.encode())
    request.add_fingerprint()
    return bytes(request)


def is_success(datagram: bytes) -> bool:
    return stun.parse_message(datagram).message_class == stun.Class.RESPONSE


Rig = tuple[MuxCore, Clock, Wire]


@pytest.fixture
def rig() -> Rig:
    clock = Clock()
    core = MuxCore(consent_timeout=30.0, reconnect_window=60.0, clock=clock)
    wire = Wire()
    core.attach(wire)
    core.poll(clock.now)
    return core, clock, wire


def connect(core: MuxCore, wire: Wire, addr: Addr) -> tuple[PeerTransport, DtlsSession]:
    """A peer session taken to `connected` from `addr`: one check, then the whole DTLS handshake."""
    peer = PeerTransport(core, SERVER_CERT.ssl_context(), "p")
    peer.set_remote_fingerprint(CLIENT_CERT.fingerprint)
    core.datagram_received(check(peer.local_ufrag, peer.local_pwd), addr)
    assert is_success(wire.take(addr)[0])
    client = DtlsSession(CLIENT_CERT.ssl_context(), server=False)
    outgoing = client.start()
    for _ in range(10):
        for datagram in outgoing:
            core.datagram_received(datagram, addr)
        outgoing = []
        for reply in wire.take(addr):
            outgoing += client.receive(reply)
        if peer.state == "connected" and client.handshake_done:
            break
    assert peer.state == "connected" and client.handshake_done
    return peer, client


def advance(core: MuxCore, clock: Clock, seconds: float) -> None:
    """Let time pass one second at a time, as the shell's timer would."""
    end = clock.now + seconds
    while clock.now < end:
        clock.now = min(clock.now + 1.0, end)
        core.poll(clock.now)


def test_consent_loss_keeps_the_session_and_an_ice_restart_resumes_it_on_a_new_address(rig: Rig) -> None:
    core, clock, wire = rig
    peer, _ = connect(core, wire, HOME)
    events: list[str] = []
    peer.on_disconnected = lambda _: events.append("disconnected")
    peer.on_resumed = lambda _: events.append("resumed")
    peer.on_closed = lambda _: events.append("closed")
    srtp = peer.srtp

    advance(core, clock, 31)  # the link is down: nothing arrives
    assert peer.state == "disconnected" and events == ["disconnected"]
    assert peer.addr is None and peer.srtp is srtp  # nothing sent into the void, keys kept
    peer.send_rtp(b"\x80" + bytes(20))
    assert wire.take(HOME) == []

    old_ufrag, old_pwd = peer.local_ufrag, peer.local_pwd
    fresh = peer.restart_ice()
    assert fresh.ufrag != old_ufrag
    core.datagram_received(check(fresh.ufrag, fresh.pwd), MOBILE)
    assert is_success(wire.take(MOBILE)[0])
    assert peer.state == "connected" and peer.addr == MOBILE and peer.srtp is srtp
    assert events == ["disconnected", "resumed"]
    assert core.counters.consent_lost == 1 and core.counters.reconnected == 1

    # The first check with the new credentials retired the old ones.
    core.datagram_received(check(old_ufrag, old_pwd), MOBILE)
    assert wire.take(MOBILE) == [] and core.counters.stun_unknown_ufrag == 1


def test_old_credentials_stay_valid_until_the_new_ones_are_used(rig: Rig) -> None:
    core, _, wire = rig
    peer, _ = connect(core, wire, HOME)
    old_ufrag, old_pwd = peer.local_ufrag, peer.local_pwd
    fresh = peer.restart_ice()
    # The browser has not applied the restart answer yet: its checks on the old pair still get answers.
    core.datagram_received(check(old_ufrag, old_pwd), HOME)
    assert is_success(wire.take(HOME)[0])
    core.datagram_received(check(fresh.ufrag, fresh.pwd), HOME)
    assert is_success(wire.take(HOME)[0])
    core.datagram_received(check(old_ufrag, old_pwd), HOME)
    assert wire.take(HOME) == []


def test_a_nominated_check_from_a_new_address_migrates_a_live_session(rig: Rig) -> None:
    core, _, wire = rig
    peer, _ = connect(core, wire, HOME)
    resumed: list[Addr | None] = []
    peer.on_resumed = lambda p: resumed.append(p.addr)
    core.datagram_received(check(peer.local_ufrag, peer.local_pwd), MOBILE)
    assert is_success(wire.take(MOBILE)[0])
    assert peer.addr == MOBILE and peer.state == "connected" and resumed == [MOBILE]


def test_the_old_path_coming_back_resumes_without_a_restart(rig: Rig) -> None:
    core, clock, wire = rig
    peer, _ = connect(core, wire, HOME)
    advance(core, clock, 40)
    assert peer.state == "disconnected"
    core.datagram_received(check(peer.local_ufrag, peer.local_pwd), HOME)
    assert peer.state == "connected" and peer.addr == HOME


def test_no_restart_within_the_reconnect_window_closes_the_session(rig: Rig) -> None:
    core, clock, wire = rig
    peer, _ = connect(core, wire, HOME)
    closed: list[str] = []
    peer.on_closed = lambda p: closed.append(p.close_reason)
    advance(core, clock, 30 + 59)
    assert peer.state == "disconnected" and closed == []
    advance(core, clock, 3)
    assert peer.state == "closed" and "within 60 s" in closed[0]
    assert core.peer_count == 0


def test_a_session_that_never_finished_its_handshake_is_closed_at_consent_loss(rig: Rig) -> None:
    core, clock, _ = rig
    peer = PeerTransport(core, SERVER_CERT.ssl_context(), "half")
    core.datagram_received(check(peer.local_ufrag, peer.local_pwd), HOME)
    assert peer.state == "connecting"
    advance(core, clock, 31)
    assert peer.state == "closed"  # no keys to keep: nothing to resume


def test_a_negotiated_session_that_never_starts_ice_is_reaped_and_an_unnegotiated_one_waits(rig: Rig) -> None:
    core, clock, _ = rig
    advance(core, clock, 100)  # the transports below are made long after the mux started
    negotiated = PeerTransport(core, SERVER_CERT.ssl_context(), "joined-and-gone")
    waiting = PeerTransport(core, SERVER_CERT.ssl_context(), "alone-in-the-room")  # nothing to receive yet
    advance(core, clock, 20)
    negotiated.set_remote_fingerprint(CLIENT_CERT.fingerprint)  # its clock starts at the SDP exchange
    advance(core, clock, 20)
    assert negotiated.state == "new"
    advance(core, clock, 11)
    assert negotiated.state == "closed" and "ICE never started" in negotiated.close_reason
    assert core.counters.ice_never_started == 1
    assert waiting.state == "new"  # a subscriber connection with no m-line yet has no SDP to start from


def test_dtls_retransmission_is_a_timer_returned_by_poll(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    core, clock, wire = rig
    peer = PeerTransport(core, SERVER_CERT.ssl_context(), "p")
    peer.set_remote_fingerprint(CLIENT_CERT.fingerprint)
    core.datagram_received(check(peer.local_ufrag, peer.local_pwd), HOME)
    wire.take(HOME)
    client = DtlsSession(CLIENT_CERT.ssl_context(), server=False)
    for datagram in client.start():
        core.datagram_received(datagram, HOME)
    first_flight = wire.take(HOME)
    assert first_flight  # ServerHello...
    deadline = core.poll(clock.now)
    assert clock.now < deadline <= clock.now + 1.5  # the retransmission timer, not the 1-s housekeeping only
    fired: list[float] = []
    monkeypatch.setattr(peer, "on_timer", fired.append)  # OpenSSL keeps its own (real) clock
    core.poll(deadline - 0.001)
    assert fired == []
    core.poll(deadline)
    assert fired == [deadline]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["rotate", "use_current", "use_previous"]), max_size=30))
def test_credential_rotation_keeps_at_most_two_sets_and_always_the_newest(ops: list[str]) -> None:
    ring = CredentialRing()
    issued = [ring.current.ufrag]
    for op in ops:
        if op == "rotate":
            fresh, retired = ring.rotate()
            issued.append(fresh.ufrag)
            assert retired is None or retired in issued[:-2]
        elif op == "use_current":
            ring.confirm(ring.current.ufrag)
            assert ring.previous is None
        elif ring.previous is not None:
            before = ring.previous.ufrag
            assert ring.confirm(before) is None  # using the old set never retires anything
            assert ring.previous is not None and ring.previous.ufrag == before
        valid = ring.ufrags()
        assert valid[0] == issued[-1]  # the newest is always valid
        assert len(valid) <= 2 and set(valid) <= set(issued[-2:])
        assert all(ring.pwd_for(u) is not None for u in valid)
        assert all(ring.pwd_for(u) is None for u in issued if u not in valid)
