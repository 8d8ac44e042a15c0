"""Time-limited TURN credentials in coturn's REST scheme (`use-auth-secret`), and the ICE servers a client gets.

username = "<expiry unix time>:<who>", credential = base64(HMAC-SHA1(shared secret, username)): coturn checks
both without asking anyone, and refuses the credential once the expiry has passed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# A call lasts up to 8 hours; the page renews the credentials before they run out.
DEFAULT_TTL = 6 * 3600
TURN_SCHEMES = ("turn:", "turns:")
STUN_SCHEMES = ("stun:", "stuns:")


class TurnConfigError(ValueError):
    """A TURN/STUN setting the gateway cannot use."""


def parse_urls(raw: str | None, schemes: tuple[str, ...], name: str) -> tuple[str, ...]:
    """A comma-separated list of ICE server URLs, each with one of `schemes` (RFC 7064/7065)."""
    urls = tuple(url.strip() for url in (raw or "").split(",") if url.strip())
    for url in urls:
        if not url.startswith(schemes) or len(url) > 512 or any(c.isspace() for c in url):
            raise TurnConfigError(f"{name}: {url[:80]!r} is not a {'/'.join(s[:-1] for s in schemes)} URL")
    return urls


def credential_for(secret: bytes, username: str) -> str:
    return base64.b64encode(hmac.new(secret, username.encode(), hashlib.sha1).digest()).decode()


@dataclass(frozen=True)
class TurnServers:
    """What TURN_URLS, TURN_SECRET, TURN_TTL and STUN_URLS configure; empty when nothing is set."""

    turn_urls: tuple[str, ...] = ()
    stun_urls: tuple[str, ...] = ()
    secret: bytes = field(default=b"", repr=False)
    ttl: int = DEFAULT_TTL
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if self.turn_urls and not self.secret:
            raise TurnConfigError("TURN_URLS is set without TURN_SECRET (coturn's static-auth-secret)")
        if not 60 <= self.ttl <= 24 * 3600:
            raise TurnConfigError(f"TURN_TTL must be between 60 and 86400 seconds, got {self.ttl}")

    @property
    def configured(self) -> bool:
        return bool(self.turn_urls or self.stun_urls)

    def ice_servers(self, who: str) -> list[dict[str, Any]]:
        """RTCConfiguration.iceServers for one participant (or session): fresh credentials valid for `ttl`."""
        servers: list[dict[str, Any]] = []
        if self.stun_urls:
            servers.append({"urls": list(self.stun_urls)})
        if self.turn_urls:
            # coturn splits the username at the first colon: the part before is the expiry.
            username = f"{int(self.clock()) + self.ttl}:{who.replace(':', '_')[:128]}"
            servers.append({"urls": list(self.turn_urls), "username": username,
                            "credential": credential_for(self.secret, username)})
        return servers
