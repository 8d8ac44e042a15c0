"""DTLS over memory BIOs (pyOpenSSL): handshake, flight retransmission, fingerprint check, SRTP key export."""

from __future__ import annotations

from OpenSSL import SSL

from .certificate import fingerprint_of
from .srtp import PROFILES, SrtpContext

RECORD_HEADER = 13
# Stay below the smallest path MTU we expect once UDP/IP and TURN overheads are added.
MAX_DATAGRAM = 1200


class DtlsError(Exception):
    """The handshake failed or the peer's certificate does not match its SDP fingerprint."""


def split_records(data: bytes, limit: int = MAX_DATAGRAM) -> list[bytes]:
    """Pack whole DTLS records into datagrams no larger than `limit` (a record is never split)."""
    datagrams: list[bytes] = []
    start = pos = 0
    end = len(data)
    while pos < end:
        if pos + RECORD_HEADER > end:
            pos = end
            break
        record_end = pos + RECORD_HEADER + int.from_bytes(data[pos + 11 : pos + 13], "big")
        if record_end - start > limit and pos > start:
            datagrams.append(data[start:pos])
            start = pos
        pos = min(record_end, end)
    if start < end:
        datagrams.append(data[start:end])
    return datagrams


class DtlsSession:
    """One DTLS association. Feed it datagrams; it returns the datagrams to send back."""

    def __init__(self, ctx: SSL.Context, server: bool) -> None:
        self._ssl = SSL.Connection(ctx, None)
        if server:
            self._ssl.set_accept_state()
        else:
            self._ssl.set_connect_state()
        self.server = server
        self.handshake_done = False
        self.closed = False
        self.srtp: SrtpContext | None = None

    def start(self) -> list[bytes]:
        """Client role: produce the ClientHello flight."""
        return self._advance()

    def receive(self, data: bytes) -> list[bytes]:
        """Consume one datagram; raises DtlsError when the handshake fails."""
        self._ssl.bio_write(data)
        if not self.handshake_done:
            return self._advance()
        try:
            self._ssl.recv(1500)  # no data channel here: reading only processes alerts and late flights
        except SSL.ZeroReturnError:
            self.closed = True
        except SSL.WantReadError:
            pass
        except SSL.Error:
            pass
        return self._flush()

    def _advance(self) -> list[bytes]:
        try:
            self._ssl.do_handshake()
        except SSL.WantReadError:
            return self._flush()
        except SSL.Error as exc:
            raise DtlsError(f"handshake failed: {exc}") from exc
        self.handshake_done = True
        self.srtp = self._export_srtp()
        return self._flush()

    def _export_srtp(self) -> SrtpContext:
        name = self._ssl.get_selected_srtp_profile()
        profile = PROFILES.get(name)
        if profile is None:
            raise DtlsError(f"no usable SRTP profile negotiated ({name!r})")
        material = self._ssl.export_keying_material(
            b"EXTRACTOR-dtls_srtp", 2 * (profile.key_length + profile.salt_length)
        )
        client, server = profile.split_keying_material(material)
        return SrtpContext(profile, rx_key=client if self.server else server, tx_key=server if self.server else client)

    def peer_fingerprint(self) -> str | None:
        cert = self._ssl.get_peer_certificate(as_cryptography=True)
        return None if cert is None else fingerprint_of(cert)

    def next_timeout(self) -> float | None:
        """Seconds until a flight must be retransmitted, or None when no timer is running."""
        if self.closed:
            return None
        return self._ssl.DTLSv1_get_timeout()

    def handle_timeout(self) -> list[bytes]:
        self._ssl.DTLSv1_handle_timeout()
        return self._flush()

    def _flush(self) -> list[bytes]:
        chunks: list[bytes] = []
        while True:
            try:
                chunk = self._ssl.bio_read(65536)
            except SSL.WantReadError:
                break
            except SSL.Error:
                break
            if not chunk:
                break
            chunks.append(chunk)
        if not chunks:
            return []
        return split_records(b"".join(chunks))
