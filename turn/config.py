"""Renders turn/turnserver.conf.template: one template for the droplet (setup.sh, envsubst) and the tests."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from pathlib import Path

TEMPLATE = Path(__file__).with_name("turnserver.conf.template")
_SECRET_RE = re.compile(r"[A-Za-z0-9+/=_.-]{16,256}")


@dataclass(frozen=True)
class TurnServerSettings:
    """The values the template takes; `tls` names the certificate and key, or None for no TLS listener."""

    external_ip: str
    secret: str = field(repr=False)
    realm: str = "turn.local"
    listening_ip: str = "0.0.0.0"
    relay_ip: str | None = None  # default: the external address
    port: int = 3478
    tls_port: int = 5349
    alt_tls_port: int = 443
    min_port: int = 49152
    max_port: int = 65535
    user_quota: int = 12  # allocations per username: a browser needs one per connection and transport
    total_quota: int = 1200
    log_file: str = "/var/log/turnserver/turnserver.log"
    tls: tuple[str, str] | None = None
    extra: tuple[str, ...] = ()  # further lines (tests: allow-loopback-peers, no-tls...)

    def __post_init__(self) -> None:
        if _SECRET_RE.fullmatch(self.secret) is None:
            raise ValueError("the TURN secret must be 16-256 characters of [A-Za-z0-9+/=_.-]")
        if not 0 < self.min_port <= self.max_port <= 65535:
            raise ValueError("the relay port range is empty")
        for line in self.extra:
            if "\n" in line or "${" in line:
                raise ValueError(f"extra line {line[:40]!r} must be one plain line")

    def values(self) -> dict[str, str]:
        """The template's variables, as setup.sh exports them for envsubst."""
        tls = f"cert={self.tls[0]}\npkey={self.tls[1]}" if self.tls else "no-tls\nno-dtls"
        return {
            "LISTENING_IP": self.listening_ip, "TURN_PORT": str(self.port), "TURN_TLS_PORT": str(self.tls_port),
            "TURN_ALT_TLS_PORT": str(self.alt_tls_port), "RELAY_IP": self.relay_ip or self.external_ip,
            "EXTERNAL_IP": self.external_ip, "MIN_PORT": str(self.min_port), "MAX_PORT": str(self.max_port),
            "REALM": self.realm, "TURN_SECRET": self.secret, "USER_QUOTA": str(self.user_quota),
            "TOTAL_QUOTA": str(self.total_quota), "LOG_FILE": self.log_file, "TLS_LINES": tls,
            "EXTRA_LINES": "\n".join(self.extra),
        }


def render(settings: TurnServerSettings, template: Path = TEMPLATE) -> str:
    """turnserver.conf for these settings; every ${NAME} of the template must have a value."""
    return string.Template(template.read_text()).substitute(settings.values())
