"""ICE credentials of one server-side session, and their rotation on an ICE restart (RFC 8445 §9)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field


@dataclass(frozen=True)
class IceCredentials:
    """Our ufrag and pwd: 8 and 24 hex characters keep us above RFC 8445's 24- and 128-bit minimums."""

    ufrag: str
    pwd: str
    pwd_bytes: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pwd_bytes", self.pwd.encode())

    @classmethod
    def generate(cls) -> IceCredentials:
        return cls(secrets.token_hex(4), secrets.token_hex(12))


class CredentialRing:
    """The current credentials and, after a restart, the previous ones until the peer proves the new ones.

    A restart answer may be lost, or the browser may keep checking the old pair for a moment: the old
    credentials stay valid until the first authenticated check with the new ones (then they are retired).
    """

    def __init__(self, current: IceCredentials | None = None) -> None:
        self.current = current or IceCredentials.generate()
        self.previous: IceCredentials | None = None

    def ufrags(self) -> list[str]:
        return [c.ufrag for c in (self.current, self.previous) if c is not None]

    def pwd_for(self, ufrag: str) -> bytes | None:
        if ufrag == self.current.ufrag:
            return self.current.pwd_bytes
        if self.previous is not None and ufrag == self.previous.ufrag:
            return self.previous.pwd_bytes
        return None

    def rotate(self) -> tuple[IceCredentials, str | None]:
        """New current credentials; returns them and the ufrag that stops being valid now (if any).

        Two restarts in a row without a check in between retire the oldest set: only the last answer counts.
        """
        retired = self.previous.ufrag if self.previous is not None else None
        self.previous = self.current
        self.current = IceCredentials.generate()
        return self.current, retired

    def confirm(self, ufrag: str) -> str | None:
        """An authenticated check used `ufrag`; returns the ufrag retired by it (the previous set), if any."""
        if self.previous is not None and ufrag == self.current.ufrag:
            retired, self.previous = self.previous.ufrag, None
            return retired
        return None
