"""Gateway settings, read once from the environment into an immutable dataclass."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from mediaserver.control_protocol import VIDEO_CODECS

from .limit_settings import LimitSettings, parse_ws_rates
from .token_bucket import Rate
from .turn import DEFAULT_TTL, STUN_SCHEMES, TURN_SCHEMES, TurnConfigError, TurnServers, parse_urls

N = TypeVar("N", int, float)
MEDIA_FROM_REDIS = "redis"
DEFAULT_WEB_ROOT = Path(__file__).resolve().parent.parent / "web_client"


class ConfigError(ValueError):
    """An environment variable holds a value the gateway cannot use."""


@dataclass(frozen=True)
class MediaEndpoint:
    """Where the media server's control port is."""

    host: str
    port: int


@dataclass(frozen=True)
class Settings:
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    media_udp_port: int = 7882
    media_control_port: int = 7881
    media_public_ip: str = "127.0.0.1"
    media_bind: str = "127.0.0.1"
    # Only for a spawned media server; 0 keeps its /metrics off.
    media_metrics_port: int = 0
    # None means: spawn our own media servers beside the gateway; else one or more tcp://host:port, comma-separated.
    media_server_url: str | None = None
    # How many media servers to spawn (one per core by default from the environment: Python forwards on one
    # core per process); worker i takes MEDIA_UDP_PORT + i, MEDIA_CONTROL_PORT + i, MEDIA_METRICS_PORT + i.
    media_workers: int = 1
    public_url: str | None = None
    secret_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    host_username: str = "host"
    host_password: str = field(default_factory=lambda: secrets.token_urlsafe(12), repr=False)
    host_password_generated: bool = False
    web_root: Path = DEFAULT_WEB_ROOT
    # None: the embedded in-memory store. A URL may carry a password, hence no repr.
    redis_url: str | None = field(default=None, repr=False)
    # How long a participant whose socket dropped is kept for it to come back (the reconnect token's TTL).
    reconnect_window: float = 60.0
    # TURN/STUN for clients that cannot reach the media port directly (turn.py); empty: none.
    turn: TurnServers = field(default_factory=TurnServers)
    # The video codecs meetings prefer, best first (VIDEO_CODECS=VP8,H264): what publishers are asked to send
    # when every participant's browser decodes it.
    video_codecs: tuple[str, ...] = VIDEO_CODECS
    # HTTPS served by the gateway itself (tls.py): the certificate chain and its key, both or neither.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Abuse limits (limit_settings.py): room size, sockets, message rates, /join and /login throttling.
    limits: LimitSettings = field(default_factory=LimitSettings)
    # GET /metrics wants `Authorization: Bearer <this>` when set; unset, it is open (bind HTTP_HOST privately).
    metrics_token: str | None = field(default=None, repr=False)

    @property
    def spawn_media_server(self) -> bool:
        return self.media_server_url is None

    @property
    def media_from_registry(self) -> bool:
        """MEDIA_SERVER_URL=redis: the media servers are the ones heart-beating into REDIS_URL."""
        return self.media_server_url == MEDIA_FROM_REDIS

    @property
    def media_endpoints(self) -> tuple[MediaEndpoint, ...]:
        if self.media_server_url is None:
            # MEDIA_BIND is the media UDP address; our own children's control ports listen on loopback only.
            return tuple(MediaEndpoint("127.0.0.1", self.media_control_port + i) for i in range(self.media_workers))
        if self.media_from_registry:
            return ()  # found at run time
        return parse_media_urls(self.media_server_url)

    @property
    def secure_cookies(self) -> bool:
        return self.tls_cert is not None or bool(self.public_url and self.public_url.startswith("https://"))

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert is not None else "http"

    def absolute(self, path: str) -> str:
        """Turn a site path into a link under PUBLIC_URL when one is configured."""
        if not self.public_url:
            return path
        return self.public_url.rstrip("/") + path

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        password = env.get("HOST_PASSWORD") or None
        secret = env.get("SECRET_KEY") or None
        media_url = env.get("MEDIA_SERVER_URL") or None
        if media_url == MEDIA_FROM_REDIS:
            if not (env.get("REDIS_URL") or "").strip():
                raise ConfigError("MEDIA_SERVER_URL=redis finds media servers in Redis: set REDIS_URL too")
        elif media_url is not None:
            parse_media_urls(media_url)  # fail at start, not at the first meeting
        public_url = (env.get("PUBLIC_URL") or "").strip() or None
        if public_url is not None and urlsplit(public_url).scheme not in ("http", "https"):
            raise ConfigError(f"PUBLIC_URL must start with http:// or https://, got {public_url!r}")
        tls = _tls_files(env)
        redis_url = (env.get("REDIS_URL") or "").strip() or None
        if redis_url is not None and urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
            raise ConfigError("REDIS_URL must start with redis://, rediss:// or unix://")
        if redis_url is not None and secret is None:
            # Meetings in Redis outlive the gateway, but cookies and guest tokens signed with a random key
            # would not: after a restart nobody could get back in.
            raise ConfigError("REDIS_URL is set without SECRET_KEY: set SECRET_KEY (the same on every gateway) "
                              "so sessions and guest links stay valid across restarts")
        return cls(
            http_host=env.get("HTTP_HOST", "127.0.0.1"),
            http_port=_port(env, "HTTP_PORT", 8080),
            media_udp_port=_port(env, "MEDIA_UDP_PORT", 7882),
            media_control_port=_port(env, "MEDIA_CONTROL_PORT", 7881),
            media_public_ip=env.get("MEDIA_PUBLIC_IP", "127.0.0.1"),
            media_bind=env.get("MEDIA_BIND", "127.0.0.1"),
            media_metrics_port=_port(env, "MEDIA_METRICS_PORT", 0),
            media_server_url=media_url,
            media_workers=_number(env, "MEDIA_WORKERS", _cores(), int, (1, 64), "a number of processes"),
            public_url=public_url,
            secret_key=secret.encode() if secret else secrets.token_bytes(32),
            host_username=env.get("HOST_USERNAME", "host"),
            host_password=password if password else secrets.token_urlsafe(12),
            host_password_generated=password is None,
            web_root=_web_root(env.get("WEB_ROOT")),
            redis_url=redis_url,
            reconnect_window=_seconds(env, "RECONNECT_WINDOW", 60.0),
            turn=_turn_servers(env),
            video_codecs=_video_codecs(env.get("VIDEO_CODECS", "")),
            tls_cert=tls[0],
            tls_key=tls[1],
            limits=_limits(env),
            metrics_token=(env.get("METRICS_TOKEN") or "").strip() or None,
        )


def _cores() -> int:
    # The cores this process may run on (a container's cpuset), not the machine's.
    return max(1, len(os.sched_getaffinity(0)))


def parse_media_urls(urls: str) -> tuple[MediaEndpoint, ...]:
    endpoints = tuple(parse_media_url(url.strip()) for url in urls.split(",") if url.strip())
    if not endpoints:
        raise ConfigError("MEDIA_SERVER_URL lists no tcp://host:port")
    if len(set(endpoints)) != len(endpoints):
        raise ConfigError(f"MEDIA_SERVER_URL names a media server twice: {urls!r}")
    return endpoints


def parse_media_url(url: str) -> MediaEndpoint:
    parts = urlsplit(url)
    if parts.scheme != "tcp" or not parts.hostname or parts.port is None:
        raise ConfigError(f"MEDIA_SERVER_URL must look like tcp://host:port, got {url!r}")
    return MediaEndpoint(parts.hostname, parts.port)


def _web_root(configured: str | None) -> Path:
    """WEB_ROOT, else web_client/ beside this package (the checkout's, or the installed package data), else
    ./web_client."""
    candidates = [Path(configured)] if configured else [DEFAULT_WEB_ROOT, Path.cwd() / "web_client"]
    for candidate in candidates:
        if (candidate / "pages").is_dir():
            return candidate.resolve()
    tried = ", ".join(str(c) for c in candidates)
    raise ConfigError(f"web client files not found (tried {tried}); set WEB_ROOT to the web_client directory")


def _tls_files(env: Mapping[str, str]) -> tuple[Path | None, Path | None]:
    cert, key = (env.get("TLS_CERT") or "").strip(), (env.get("TLS_KEY") or "").strip()
    if bool(cert) != bool(key):
        raise ConfigError("TLS_CERT and TLS_KEY go together: set both (PEM files) or neither")
    if not cert:
        return None, None
    for name, path in (("TLS_CERT", cert), ("TLS_KEY", key)):
        if not Path(path).is_file():
            raise ConfigError(f"{name}: no such file {path!r}")
    return Path(cert), Path(key)


def _turn_servers(env: Mapping[str, str]) -> TurnServers:
    try:
        return TurnServers(
            turn_urls=parse_urls(env.get("TURN_URLS"), TURN_SCHEMES, "TURN_URLS"),
            stun_urls=parse_urls(env.get("STUN_URLS"), STUN_SCHEMES, "STUN_URLS"),
            secret=(env.get("TURN_SECRET") or "").encode(),
            ttl=_number(env, "TURN_TTL", DEFAULT_TTL, int, (60, 24 * 3600), "a number of seconds"),
        )
    except TurnConfigError as exc:
        raise ConfigError(str(exc)) from None


def _limits(env: Mapping[str, str]) -> LimitSettings:
    d = LimitSettings()
    count = "a whole number"
    try:
        ws_rates = parse_ws_rates(env.get("WS_RATE_LIMITS", ""))
    except ValueError as exc:
        raise ConfigError(f"WS_RATE_LIMITS: {exc}") from None
    joins = _number(env, "JOIN_RATE_PER_MINUTE", round(d.join_rate.burst), int, (1, 10_000), count)
    return LimitSettings(
        max_participants=_number(env, "MAX_PARTICIPANTS", d.max_participants, int, (1, 1000), count),
        max_sockets_per_guest=_number(env, "MAX_SOCKETS_PER_GUEST", d.max_sockets_per_guest, int, (1, 100), count),
        max_sockets_per_address=_number(env, "MAX_SOCKETS_PER_ADDRESS", d.max_sockets_per_address, int,
                                        (1, 100_000), count),
        join_rate=Rate(joins / 60, joins),
        ws_rates=ws_rates,
        ws_flood_close=_number(env, "WS_FLOOD_CLOSE", d.ws_flood_close, int, (1, 100_000), count),
        coalesce_window=_number(env, "RENEGOTIATION_WINDOW", d.coalesce_window, float, (0, 60), "seconds"),
        login_free_failures=_number(env, "LOGIN_FREE_FAILURES", d.login_free_failures, int, (1, 100), count),
        login_delay=_number(env, "LOGIN_DELAY", d.login_delay, float, (0.01, 600), "seconds"),
        login_max_failures=_number(env, "LOGIN_MAX_FAILURES", d.login_max_failures, int, (1, 1000), count),
        login_lockout=_number(env, "LOGIN_LOCKOUT", d.login_lockout, float, (0.1, 86_400), "seconds"),
        login_concurrency=_number(env, "LOGIN_CONCURRENCY", d.login_concurrency, int, (1, 4), count),
        trust_forwarded_for=_flag(env, "TRUST_FORWARDED_FOR"),
    )


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise ConfigError(f"{name} must be 1 or 0, got {raw!r}")


def _video_codecs(raw: str) -> tuple[str, ...]:
    if not raw.strip():
        return VIDEO_CODECS
    codecs = tuple(part.strip().upper() for part in raw.split(","))
    if len(set(codecs)) != len(codecs) or any(c not in VIDEO_CODECS for c in codecs):
        raise ConfigError(f"VIDEO_CODECS must list some of {','.join(VIDEO_CODECS)} once each, got {raw!r}")
    return codecs


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    return _number(env, name, default, float, (1, 3600), "a number of seconds")


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    return _number(env, name, default, int, (0, 65535), "a port number")


def _number(env: Mapping[str, str], name: str, default: N, parse: Callable[[str], N], bounds: tuple[N, N],
            what: str) -> N:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {what}, got {raw!r}") from None
    low, high = bounds
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value
