"""Who is asking: the host's password login and session cookie, and per-meeting guest tokens."""

from __future__ import annotations

import asyncio
import hmac
import secrets
from dataclasses import dataclass

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .signing import Signer

HOST_COOKIE = "host_session"
HOST_PURPOSE = "host-session"
GUEST_PURPOSE = "guest-token"
# Longer than a meeting (8 h), so a host session never ends mid-call.
HOST_SESSION_TTL = 12 * 3600
GUEST_TOKEN_TTL = 8 * 3600


def guest_cookie_name(meeting_id: str) -> str:
    # One cookie per meeting (Path=/ so /ws gets it too): a guest in two meetings keeps both tokens.
    return f"guest_{meeting_id}"


@dataclass(frozen=True)
class Identity:
    """An authenticated caller: the host, or a guest admitted to one meeting."""

    name: str
    is_host: bool
    meeting_id: str | None = None
    guest_id: str | None = None


class HostCredentials:
    """The single host account; only an argon2 hash of its password is kept in memory."""

    def __init__(self, username: str, password: str) -> None:
        self._hasher = PasswordHasher()
        self._username = username
        self._hash = self._hasher.hash(password)

    @property
    def username(self) -> str:
        return self._username

    def _check(self, username: str, password: str) -> bool:
        name_ok = hmac.compare_digest(username.encode(), self._username.encode())
        try:
            # Always run the hash, so a wrong username costs as long as a wrong password.
            self._hasher.verify(self._hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return name_ok

    async def check(self, username: str, password: str) -> bool:
        # argon2 takes tens of milliseconds of CPU: keep it off the event loop.
        return await asyncio.get_running_loop().run_in_executor(None, self._check, username, password)


class Authenticator:
    """Issues and reads the signed cookies."""

    def __init__(self, signer: Signer, host_username: str, secure_cookies: bool) -> None:
        self._signer = signer
        self._host_username = host_username
        self._secure = secure_cookies

    def _set_cookie(self, response: web.StreamResponse, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name, value, max_age=max_age, path="/", httponly=True, samesite="Lax", secure=self._secure or None
        )

    def start_host_session(self, response: web.StreamResponse) -> None:
        token = self._signer.sign(HOST_PURPOSE, {"sub": "host", "sid": secrets.token_hex(8)}, HOST_SESSION_TTL)
        self._set_cookie(response, HOST_COOKIE, token, HOST_SESSION_TTL)

    def end_host_session(self, response: web.StreamResponse) -> None:
        response.del_cookie(HOST_COOKIE, path="/")

    def admit_guest(self, response: web.StreamResponse, meeting_id: str, name: str) -> None:
        payload = {"m": meeting_id, "n": name, "g": secrets.token_hex(8)}
        token = self._signer.sign(GUEST_PURPOSE, payload, GUEST_TOKEN_TTL)
        self._set_cookie(response, guest_cookie_name(meeting_id), token, GUEST_TOKEN_TTL)

    def renew(self, request: web.Request, response: web.StreamResponse, meeting_id: str | None) -> bool:
        """Re-issue the caller's still-valid host session and guest token with a fresh lifetime.

        A call can last 8 hours and a host may sign in long before it: the call page renews while it runs, so
        a reconnect at hour 7 is not refused for an expired cookie. Same session id, same guest id and name.
        """
        renewed = False
        claims = self._signer.verify(HOST_PURPOSE, request.cookies.get(HOST_COOKIE))
        if claims is not None and claims.get("sub") == "host":
            token = self._signer.sign(HOST_PURPOSE, {"sub": "host", "sid": claims.get("sid")}, HOST_SESSION_TTL)
            self._set_cookie(response, HOST_COOKIE, token, HOST_SESSION_TTL)
            renewed = True
        guest = self.guest(request, meeting_id) if meeting_id else None
        if guest is not None and meeting_id is not None:
            payload = {"m": meeting_id, "n": guest.name, "g": guest.guest_id}
            token = self._signer.sign(GUEST_PURPOSE, payload, GUEST_TOKEN_TTL)
            self._set_cookie(response, guest_cookie_name(meeting_id), token, GUEST_TOKEN_TTL)
            renewed = True
        return renewed

    def host_session_id(self, request: web.Request) -> str | None:
        """The id of the valid host session this request's cookie carries (kept across renewals), or None."""
        claims = self._signer.verify(HOST_PURPOSE, request.cookies.get(HOST_COOKIE))
        if claims is None or claims.get("sub") != "host" or not isinstance(claims.get("sid"), str):
            return None
        return str(claims["sid"])

    def host(self, request: web.Request) -> Identity | None:
        claims = self._signer.verify(HOST_PURPOSE, request.cookies.get(HOST_COOKIE))
        if claims is None or claims.get("sub") != "host":
            return None
        return Identity(name=self._host_username, is_host=True)

    def guest(self, request: web.Request, meeting_id: str) -> Identity | None:
        claims = self._signer.verify(GUEST_PURPOSE, request.cookies.get(guest_cookie_name(meeting_id)))
        # The meeting id inside the signed payload is what binds a token to its meeting, not the cookie name.
        if claims is None or claims.get("m") != meeting_id:
            return None
        name, guest_id = claims.get("n"), claims.get("g")
        if not isinstance(name, str) or not name or not isinstance(guest_id, str) or not guest_id:
            return None
        return Identity(name=name, is_host=False, meeting_id=meeting_id, guest_id=guest_id)

    def for_meeting(self, request: web.Request, meeting_id: str) -> Identity | None:
        """The host, or a guest holding a token for exactly this meeting."""
        return self.host(request) or self.guest(request, meeting_id)
