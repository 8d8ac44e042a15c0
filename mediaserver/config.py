"""Media server settings from the command line and environment."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from mediaserver.sdp.identity import announced_addresses


@dataclass(frozen=True)
class Config:
    bind: str = "0.0.0.0"  # "::" listens dual-stack
    public_ip: str = "127.0.0.1"  # comma-separated when the port is reached at several addresses
    udp_port: int = 7882
    control_host: str = "127.0.0.1"
    control_port: int = 7881
    metrics_port: int = 0
    remb_bps: int = 3_000_000
    # NACK publishers for what their uplink lost and forward their RTX; off to measure what it is worth.
    upstream_nack: bool = True
    consent_timeout: float = 30.0
    # A transport without consent, or a participant without a gateway, is kept this long for a comeback.
    reconnect_window: float = 60.0
    # A room nobody has been in for this long is closed.
    departure_timeout: float = 20.0
    # After SIGTERM: new rooms refused, the calls in progress kept this long at most (0: stop at once).
    drain_timeout: float = 30.0
    # The node registry (Redis): heartbeats with this node's id, the address gateways reach its control port at.
    redis_url: str | None = None
    node_id: str = ""
    control_announce: str = ""
    log_level: str = "info"
    fault_injection: bool = False
    recordings_dir: str = "recordings"

    @classmethod
    def from_args(cls, argv: list[str] | None = None) -> Config:
        env = os.environ
        parser = argparse.ArgumentParser(prog="python -m mediaserver", description=__doc__)
        parser.add_argument("--bind", default=env.get("MEDIA_BIND", cls.bind), help="UDP bind address")
        parser.add_argument("--public-ip", default=env.get("MEDIA_PUBLIC_IP", cls.public_ip),
                            help="address(es) announced in ICE candidates, comma-separated (e.g. an IPv4 and an "
                                 "IPv6 one with --bind ::)")
        parser.add_argument("--udp-port", type=int, default=int(env.get("MEDIA_UDP_PORT", cls.udp_port)))
        parser.add_argument("--control-host", default=env.get("MEDIA_CONTROL_HOST", cls.control_host))
        parser.add_argument("--control-port", type=int,
                            default=int(env.get("MEDIA_CONTROL_PORT", cls.control_port)))
        parser.add_argument("--metrics-port", type=int,
                            default=int(env.get("MEDIA_METRICS_PORT", cls.metrics_port)),
                            help="HTTP /metrics and /healthz; 0 disables")
        parser.add_argument("--remb-bps", type=int, default=int(env.get("MEDIA_REMB_BPS", cls.remb_bps)),
                            help="uplink bandwidth granted to each publisher")
        parser.add_argument("--upstream-nack", action=argparse.BooleanOptionalAction,
                            default=env.get("UPSTREAM_NACK", "1") != "0",
                            help="repair publishers' uplink loss: NACK them, take their RTX (UPSTREAM_NACK=0: off)")
        parser.add_argument("--consent-timeout", type=float,
                            default=float(env.get("MEDIA_CONSENT_TIMEOUT", cls.consent_timeout)))
        parser.add_argument("--reconnect-window", type=float,
                            default=float(env.get("MEDIA_RECONNECT_WINDOW", cls.reconnect_window)),
                            help="seconds a participant whose transport or gateway went away is kept for a resume")
        parser.add_argument("--departure-timeout", type=float,
                            default=float(env.get("MEDIA_DEPARTURE_TIMEOUT", cls.departure_timeout)),
                            help="seconds an empty room lives before it is closed")
        parser.add_argument("--drain-timeout", type=float,
                            default=float(env.get("MEDIA_DRAIN_TIMEOUT", cls.drain_timeout)),
                            help="after SIGTERM: seconds the calls in progress may go on (no new rooms); SIGINT "
                                 "stops at once")
        parser.add_argument("--redis-url", default=env.get("REDIS_URL") or None,
                            help="register in this Redis (heartbeats every 2 s): gateways with MEDIA_SERVER_URL=redis "
                                 "place rooms here")
        parser.add_argument("--node-id", default=env.get("MEDIA_NODE_ID", ""),
                            help="this node's id in the registry (default: host name and UDP port)")
        parser.add_argument("--control-announce", default=env.get("MEDIA_CONTROL_ANNOUNCE", ""),
                            help="host the gateways reach the control port at (default: the control host, or the "
                                 "first public IP when it listens on every address)")
        parser.add_argument("--log-level", default=env.get("LOG_LEVEL", cls.log_level))
        parser.add_argument("--recordings-dir", default=env.get("RECORDINGS_DIR", cls.recordings_dir))
        parser.add_argument("--enable-fault-injection", action="store_true",
                            default=env.get("MEDIA_FAULT_INJECTION") == "1",
                            help="allow the simulate_loss control method (tests and load generators only)")
        ns = parser.parse_args(argv)
        try:
            announced_addresses(ns.public_ip)
        except ValueError as exc:
            parser.error(f"--public-ip / MEDIA_PUBLIC_IP must be IP literals: {exc}")
        return cls(
            bind=ns.bind, public_ip=ns.public_ip, udp_port=ns.udp_port, control_host=ns.control_host,
            control_port=ns.control_port, metrics_port=ns.metrics_port, remb_bps=ns.remb_bps,
            upstream_nack=ns.upstream_nack,
            consent_timeout=ns.consent_timeout, reconnect_window=ns.reconnect_window,
            departure_timeout=ns.departure_timeout, drain_timeout=ns.drain_timeout, log_level=ns.log_level,
            fault_injection=ns.enable_fault_injection, recordings_dir=ns.recordings_dir, redis_url=ns.redis_url,
            node_id=ns.node_id, control_announce=ns.control_announce,
        )
