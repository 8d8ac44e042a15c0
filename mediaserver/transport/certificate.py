"""The media server's DTLS identity: an ECDSA P-256 certificate, its fingerprint and the SSL context."""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from OpenSSL import SSL

# Ordered by preference; Chrome picks the first it supports (AES-256-GCM in practice).
SRTP_OPENSSL_PROFILES = b"SRTP_AEAD_AES_256_GCM:SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"
_CIPHERS = (
    b"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:"
    b"ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA"
)


def fingerprint_of(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint in SDP form: uppercase hex pairs joined by colons."""
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


@dataclass(frozen=True)
class Certificate:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    fingerprint: str

    @classmethod
    def generate(cls, valid_days: int = 30) -> Certificate:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, os.urandom(16).hex())])
        now = datetime.datetime.now(tz=datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=valid_days))
            .sign(key, hashes.SHA256())
        )
        return cls(key=key, cert=cert, fingerprint=fingerprint_of(cert))

    def ssl_context(self) -> SSL.Context:
        ctx = SSL.Context(SSL.DTLS_METHOD)
        ctx.set_options(SSL.OP_NO_TICKET)
        # Self-signed peers: accept any chain here, then compare the digest with the SDP fingerprint.
        ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, lambda *args: True)
        ctx.use_certificate(self.cert)
        ctx.use_privatekey(self.key)
        ctx.set_cipher_list(_CIPHERS)
        ctx.set_tlsext_use_srtp(SRTP_OPENSSL_PROFILES)
        return ctx
