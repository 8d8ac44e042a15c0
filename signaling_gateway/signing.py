"""HMAC-signed, expiring, purpose-bound tokens for cookies (stateless: no server-side session table)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs JSON payloads; the purpose is part of the MAC so a guest token never passes as a host session."""

    def __init__(self, key: bytes, clock: Callable[[], float] = time.time) -> None:
        if len(key) < 16:
            raise ValueError("the signing key must be at least 16 bytes")
        self._key = key
        self._clock = clock

    def _mac(self, purpose: str, body: str) -> str:
        digest = hmac.new(self._key, f"{purpose}\x00{body}".encode(), hashlib.sha256).digest()
        return _b64encode(digest)

    def sign(self, purpose: str, payload: dict[str, Any], ttl_seconds: float) -> str:
        claims = dict(payload, exp=int(self._clock() + ttl_seconds))
        body = _b64encode(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{self._mac(purpose, body)}"

    def verify(self, purpose: str, token: str | None) -> dict[str, Any] | None:
        """The payload when the token is authentic, for this purpose and unexpired; None otherwise."""
        if not token or len(token) > 4096 or token.count(".") != 1 or not token.isascii():
            return None
        body, mac = token.split(".")
        if not hmac.compare_digest(mac.encode(), self._mac(purpose, body).encode()):
            return None
        try:
            claims = json.loads(_b64decode(body))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(claims, dict):
            return None
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp < self._clock():
            return None
        return claims
