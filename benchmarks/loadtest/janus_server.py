"""Janus (the Debian package) for the load test: its own config, network namespace and process.

Janus never gathers ICE candidates on loopback interfaces (src/ice.c skips IFF_LOOPBACK), so it runs in a
network namespace of ours joined to the host namespace by a veth pair on a private /24: media between the
bots and Janus stays on that pair and never leaves the machine. Needs root (or CAP_NET_ADMIN + CAP_SYS_ADMIN).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from . import child_process

JANUS_BIN = "/usr/bin/janus"
HTTP_PORT = 8088
# Everything but the VideoRoom plugin and the HTTP transport: a clean start, as DESIGN.md §4 recommends.
OTHER_PLUGINS = ("audiobridge", "duktape", "echotest", "lua", "nosip", "recordplay", "sip", "streaming", "textroom",
                 "videocall", "voicemail")
OTHER_TRANSPORTS = ("mqtt", "nanomsg", "pfunix", "rabbitmq", "websockets")


class JanusUnavailable(RuntimeError):
    """Janus is not installed or cannot be started here (with the reason)."""


def janus_library_dir() -> str | None:
    """Where the Debian package put the plugins (the multiarch directory)."""
    found = glob.glob("/usr/lib/*/janus/plugins/libjanus_videoroom.so")
    return str(Path(found[0]).parent.parent) if found else None


def unavailable_reason() -> str | None:
    """Why the janus target cannot run on this machine, or None when it can."""
    if not os.path.exists(JANUS_BIN):
        return f"{JANUS_BIN} not found: apt-get install -y janus"
    if janus_library_dir() is None:
        return "the Janus VideoRoom plugin is not installed (package janus)"
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is needed to give Janus a network namespace"
    if os.geteuid() != 0:
        return "creating a network namespace for Janus needs root"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


class Namespace:
    """A network namespace with one veth pair to ours: 10.99.N.1 on our side, 10.99.N.2 inside."""

    def __init__(self) -> None:
        tag = f"{os.getpid() % 100000}"
        self.name = f"ltjanus{tag}"
        self.outer = f"ltj{tag}a"  # interface names are limited to 15 characters
        self.inner = f"ltj{tag}b"
        subnet = 10 + os.getpid() % 240
        self.host_ip = f"10.99.{subnet}.1"
        self.janus_ip = f"10.99.{subnet}.2"
        self.created = False

    def create(self) -> None:
        try:
            _ip("netns", "add", self.name)
            self.created = True
            _ip("link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
            _ip("link", "set", self.inner, "netns", self.name)
            _ip("addr", "add", f"{self.host_ip}/24", "dev", self.outer)
            _ip("link", "set", self.outer, "up")
            _ip("netns", "exec", self.name, "ip", "addr", "add", f"{self.janus_ip}/24", "dev", self.inner)
            _ip("netns", "exec", self.name, "ip", "link", "set", self.inner, "up")
            _ip("netns", "exec", self.name, "ip", "link", "set", "lo", "up")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            stderr = getattr(exc, "stderr", b"") or b""
            self.delete()
            raise JanusUnavailable(f"cannot create a network namespace: {stderr.decode(errors='replace')}") from exc

    def delete(self) -> None:
        if self.created:
            # Deleting the namespace destroys the inner end, and with it the whole veth pair.
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=10)
            self.created = False
        subprocess.run(["ip", "link", "del", self.outer], capture_output=True, timeout=10)


def write_config(folder: Path, janus_ip: str, event_loops: int) -> Path:
    lib = janus_library_dir()
    assert lib is not None
    plugins = ",".join(f"libjanus_{p}.so" for p in OTHER_PLUGINS)
    transports = ",".join(f"libjanus_{t}.so" for t in OTHER_TRANSPORTS)
    loops = f"\tevent_loops = {event_loops}\n" if event_loops > 0 else ""
    (folder / "janus.jcfg").write_text(
        "general: {\n"
        f'\tconfigs_folder = "{folder}"\n\tplugins_folder = "{lib}/plugins"\n'
        f'\ttransports_folder = "{lib}/transports"\n\tevents_folder = "{lib}/events"\n'
        f'\tloggers_folder = "{lib}/loggers"\n\tdebug_level = 3\n{loops}'
        "}\n"
        f'plugins: {{\n\tdisable = "{plugins}"\n}}\n'
        f'transports: {{\n\tdisable = "{transports}"\n}}\n'
        'loggers: {\n\tdisable = "libjanus_jsonlog.so"\n}\n'
        "events: {\n\tbroadcast = false\n}\n"
        'media: {\n\trtp_port_range = "20000-40000"\n}\n'
        # Only the veth address: no STUN, no IPv6, no TCP candidates.
        f'nat: {{\n\tice_enforce_list = "{janus_ip}"\n\tice_ipv6 = false\n\tice_tcp = false\n}}\n'
    )
    (folder / "janus.transport.http.jcfg").write_text(
        "general: {\n\tjson = \"plain\"\n\tbase_path = \"/janus\"\n\thttp = true\n"
        f'\tport = {HTTP_PORT}\n\tip = "{janus_ip}"\n\thttps = false\n}}\n'
        "admin: {\n\tadmin_http = false\n\tadmin_https = false\n}\n"
    )
    (folder / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n")
    return folder / "janus.jcfg"


class JanusProcess:
    """Janus in its namespace; `url` is its HTTP API, `host_ip` the address bots bind to."""

    def __init__(self, event_loops: int = 0) -> None:
        reason = unavailable_reason()
        if reason is not None:
            raise JanusUnavailable(reason)
        self.namespace = Namespace()
        self.event_loops = event_loops
        self._folder = Path(tempfile.mkdtemp(prefix="loadtest-janus-"))
        self.log_path = self._folder / "janus.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.namespace.janus_ip}:{HTTP_PORT}/janus"

    @property
    def host_ip(self) -> str:
        return self.namespace.host_ip

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def start(self, timeout: float = 20.0) -> None:
        self.namespace.create()
        config = write_config(self._folder, self.namespace.janus_ip, self.event_loops)
        with self.log_path.open("wb") as log:
            # `ip netns exec` execs Janus in place: the PID we get is Janus's own.
            self.process = subprocess.Popen(
                ["ip", "netns", "exec", self.namespace.name, JANUS_BIN, "--config", str(config),
                 "--configs-folder", str(self._folder), "--interface", self.namespace.janus_ip, "--disable-colors"],
                stdout=log, stderr=subprocess.STDOUT,
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        try:
            child_process.wait_ready(self.process, self.url + "/info", lambda i: i.get("janus") == "server_info",
                                     timeout)
        except child_process.NotReady as exc:
            raise JanusUnavailable(f"janus HTTP API {exc}: {self.log_tail()}") from exc

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        child_process.stop(self.process, signal.SIGINT)  # Janus shuts down cleanly on SIGINT
        self.namespace.delete()
        shutil.rmtree(self._folder, ignore_errors=True)
