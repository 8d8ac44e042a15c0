"""DTLS handshake over memory BIOs in both roles, SRTP keying, record splitting and fingerprint checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaserver.transport.certificate import Certificate
from mediaserver.transport.dtls import MAX_DATAGRAM, DtlsError, DtlsSession, split_records
from mediaserver.transport.srtp import SrtpError

RTP = bytes.fromhex("80600001000000640000abcd") + b"\x90" * 200


def handshake(server: DtlsSession, client: DtlsSession) -> int:
    """Shuttle datagrams until both sides finish; returns the number of flights."""
    to_server = client.start()
    flights = 0
    while not (server.handshake_done and client.handshake_done):
        flights += 1
        assert flights < 10, "handshake did not converge"
        to_client = [out for d in to_server for out in server.receive(d)]
        to_server = [out for d in to_client for out in client.receive(d)]
    return flights


@pytest.fixture(scope="module")
def certs() -> tuple[Certificate, Certificate]:
    return Certificate.generate(), Certificate.generate()


def test_handshake_exports_matching_srtp_keys(certs: tuple[Certificate, Certificate]) -> None:
    server_cert, client_cert = certs
    server = DtlsSession(server_cert.ssl_context(), server=True)
    client = DtlsSession(client_cert.ssl_context(), server=False)
    handshake(server, client)
    assert server.peer_fingerprint() == client_cert.fingerprint
    assert client.peer_fingerprint() == server_cert.fingerprint
    assert server.srtp is not None and client.srtp is not None
    assert server.srtp.profile.openssl_name == b"SRTP_AEAD_AES_256_GCM"
    protected = client.srtp.protect(RTP)
    assert protected != RTP
    assert server.srtp.unprotect(protected) == RTP
    assert client.srtp.unprotect(server.srtp.protect(RTP)) == RTP


def test_tampered_srtp_is_rejected(certs: tuple[Certificate, Certificate]) -> None:
    server = DtlsSession(certs[0].ssl_context(), server=True)
    client = DtlsSession(certs[1].ssl_context(), server=False)
    handshake(server, client)
    assert server.srtp is not None and client.srtp is not None
    protected = bytearray(client.srtp.protect(RTP))
    protected[-1] ^= 0xFF
    with pytest.raises(SrtpError):
        server.srtp.unprotect(bytes(protected))


def test_garbage_during_handshake_fails_cleanly(certs: tuple[Certificate, Certificate]) -> None:
    server = DtlsSession(certs[0].ssl_context(), server=True)
    # A record header claiming a handshake with nonsense content.
    with pytest.raises(DtlsError):
        for _ in range(3):
            server.receive(bytes([22, 0xFE, 0xFD]) + bytes(8) + b"\x00\x10" + b"\xff" * 16)


def test_flights_are_split_into_datagrams_below_the_mtu(certs: tuple[Certificate, Certificate]) -> None:
    client = DtlsSession(certs[1].ssl_context(), server=False)
    server = DtlsSession(certs[0].ssl_context(), server=True)
    flight = [out for d in client.start() for out in server.receive(d)]
    assert flight, "server answers the ClientHello"
    assert all(len(d) <= MAX_DATAGRAM for d in flight)


@given(st.lists(st.binary(min_size=0, max_size=300), max_size=8))
def test_split_records_keeps_every_byte_in_order(bodies: list[bytes]) -> None:
    data = b"".join(bytes([22, 0xFE, 0xFD]) + bytes(8) + len(b).to_bytes(2, "big") + b for b in bodies)
    datagrams = split_records(data, limit=400)
    assert b"".join(datagrams) == data
    for datagram in datagrams:
        # Each datagram starts at a record boundary.
        assert datagram[0] == 22
